"""Login JWTs (PyJWT, HS256) for dialects whose clients log in once and send a Bearer token.

The one server secret also keys other signatures (Digest nonces) through ``derive_key``, so
there is one secret to keep, rotate and share between servers.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import tempfile
import time
from pathlib import Path

import jwt

from davfiles.errors import AuthFailed

_ALGORITHM = "HS256"


def load_or_create_secret(path: Path) -> str:
    """The signing key kept in the data dir, created (mode 0600) on first use.

    Servers sharing the data dir may start at once: the key is written to a file of its own
    and linked into place, so the first link wins and nobody reads a half-written key.
    """
    try:
        return path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        pass
    fd, draft = tempfile.mkstemp(dir=path.parent, prefix=".jwt-secret-")
    try:
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(secrets.token_urlsafe(48))
        try:
            os.link(draft, path)
        except FileExistsError:
            pass
    finally:
        os.unlink(draft)
    return path.read_text(encoding="ascii").strip()


class LoginTokens:
    def __init__(self, secret: str, lifetime: int) -> None:
        self._secret = secret
        self.lifetime = lifetime

    def derive_key(self, purpose: str) -> bytes:
        """A key for ``purpose`` from the signing secret, useless for signing JWTs."""
        return hmac.new(
            self._secret.encode(), f"davfiles {purpose}".encode(), hashlib.sha256
        ).digest()

    def issue(self, user_id: int, name: str, auth_version: int) -> str:
        now = int(time.time())
        claims = {
            "sub": str(user_id),
            "name": name,
            "ver": auth_version,
            "iat": now,
            "exp": now + self.lifetime,
        }
        return jwt.encode(claims, self._secret, algorithm=_ALGORITHM)

    def decode(self, token: str) -> tuple[int, int]:
        """Return (user id, auth version) of a valid, unexpired token; AuthFailed otherwise."""
        try:
            claims = jwt.decode(
                token, self._secret, algorithms=[_ALGORITHM], options={"require": ["exp", "sub"]}
            )
            return int(claims["sub"]), int(claims.get("ver", -1))
        except (jwt.PyJWTError, ValueError, TypeError):
            raise AuthFailed("invalid or expired token") from None
