"""Credential verification with a bounded cache, so a request pays microseconds, not argon2.

The cache is keyed by an HMAC of user and secret (never the secret itself) and remembers the
user's ``auth_version``; a password change, token revocation or user deletion changes or
removes that row, so a stale cache entry never authenticates.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
from collections import OrderedDict

from sqlalchemy import select
from sqlalchemy.orm import Session

from davfiles.auth.login_tokens import LoginTokens
from davfiles.auth.secrets import TOKEN_PREFIX, hash_password, token_digest, verify_password
from davfiles.db.engine import Database
from davfiles.db.models import Token, User
from davfiles.errors import AuthFailed
from davfiles.store import Owner

# Verified against when the user does not exist, so both failures cost the same time.
_DUMMY_HASH = hash_password(secrets.token_urlsafe(16))


class Authenticator:
    def __init__(
        self, db: Database, realm: str, cache_size: int, login_tokens: LoginTokens
    ) -> None:
        self._db = db
        self.realm = realm
        self._login_tokens = login_tokens
        self._cache_size = cache_size
        self._cache: OrderedDict[bytes, tuple[int, int]] = OrderedDict()
        self._cache_lock = threading.Lock()
        self._cache_key = secrets.token_bytes(32)
        self.hash_verifications = 0

    def verify(self, name: str, secret: str) -> Owner:
        """Check a user name with a password or API token; AuthFailed if wrong or unknown."""
        key = hmac.new(
            self._cache_key, f"{name}\0{secret}".encode("utf-8", "surrogatepass"), hashlib.sha256
        ).digest()
        with self._db.read() as session:
            row = session.execute(
                select(User.id, User.name, User.password_hash, User.auth_version).where(
                    User.name == name
                )
            ).one_or_none()
            cached = self._cache_get(key)
            if row is not None and cached == (row.id, row.auth_version):
                return Owner(row.id, row.name)
            if row is None:
                self._count_and_verify(secret, _DUMMY_HASH)
                raise AuthFailed("wrong user name or password")
            valid = (
                secret.startswith(TOKEN_PREFIX) and self._token_owner(session, secret) == row.id
            ) or self._count_and_verify(secret, row.password_hash)
        if not valid:
            raise AuthFailed("wrong user name or password")
        self._cache_put(key, (row.id, row.auth_version))
        return Owner(row.id, row.name)

    def verify_token(self, secret: str) -> Owner:
        """Check an API token on its own (dialects whose header carries no user name)."""
        with self._db.read() as session:
            user_id = self._token_owner(session, secret)
            row = session.execute(
                select(User.id, User.name).where(User.id == user_id)
            ).one_or_none()
        if row is None:
            raise AuthFailed("invalid token")
        return Owner(row.id, row.name)

    def verify_bearer(self, token: str) -> Owner:
        """A ``Bearer`` credential: an API token or a login JWT of a user who still exists."""
        if token.startswith(TOKEN_PREFIX):
            return self.verify_token(token)
        user_id, version = self._login_tokens.decode(token)
        with self._db.read() as session:
            row = session.execute(
                select(User.id, User.name, User.auth_version).where(User.id == user_id)
            ).one_or_none()
        if row is None or row.auth_version != version:
            raise AuthFailed("invalid or expired token")
        return Owner(row.id, row.name)

    def login(self, name: str, password: str) -> str:
        """Check the password (or API token) and return a login JWT."""
        owner = self.verify(name, password)
        with self._db.read() as session:
            version = session.scalar(select(User.auth_version).where(User.id == owner.id))
        return self._login_tokens.issue(owner.id, owner.name, version or 0)

    @property
    def login_token_lifetime(self) -> int:
        return self._login_tokens.lifetime

    def digest_credentials(self, name: str) -> tuple[Owner, str] | None:
        """The user and stored HA1 for Digest auth, or None if there is none."""
        with self._db.read() as session:
            row = session.execute(
                select(User.id, User.name, User.digest_ha1).where(User.name == name)
            ).one_or_none()
        if row is None or not row.digest_ha1:
            return None
        return Owner(row.id, row.name), row.digest_ha1

    def _token_owner(self, session: Session, secret: str) -> int | None:
        return session.scalar(
            select(Token.user_id).where(Token.secret_sha256 == token_digest(secret))
        )

    def _count_and_verify(self, secret: str, password_hash: str) -> bool:
        self.hash_verifications += 1
        try:
            return verify_password(secret, password_hash)
        except ValueError:
            return False

    def _cache_get(self, key: bytes) -> tuple[int, int] | None:
        with self._cache_lock:
            value = self._cache.get(key)
            if value is not None:
                self._cache.move_to_end(key)
            return value

    def _cache_put(self, key: bytes, value: tuple[int, int]) -> None:
        if self._cache_size <= 0:
            return
        with self._cache_lock:
            self._cache[key] = value
            self._cache.move_to_end(key)
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
