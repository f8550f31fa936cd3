"""Login JWTs (PyJWT, HS256) for dialects whose clients log in once and send a Bearer token.

The one server secret also keys other signatures (Digest nonces) through ``derive_key``, so
there is one secret to keep, rotate and share between servers.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import time
from pathlib import Path

import jwt

from davfiles.errors import AuthFailed

_ALGORITHM = "HS256"


def load_or_create_secret(path: Path) -> str:
    """The signing key kept in the data dir, created (mode 0600) on first use."""
    try:
        return path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        pass
    secret = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(secret)
    return secret


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
