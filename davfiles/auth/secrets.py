"""Password hashes (argon2id), Digest HA1 values and API token secrets."""

from __future__ import annotations

import hashlib
import secrets

from passlib.context import CryptContext

# OWASP's argon2id parameters (19 MiB, 2 passes, 1 lane): each verification costs tens of
# milliseconds, and a burst of concurrent logins cannot take gigabytes of memory.
_passwords = CryptContext(
    schemes=["argon2"],
    argon2__type="ID",
    argon2__memory_cost=19456,
    argon2__rounds=2,
    argon2__parallelism=1,
)
TOKEN_PREFIX = "dvf_"


def hash_password(password: str) -> str:
    return _passwords.hash(password)


def verify_password(password: str, password_hash: str) -> bool:
    return _passwords.verify(password, password_hash)


def digest_ha1(user: str, realm: str, password: str) -> str:
    """HTTP Digest's HA1 (RFC 2617); needed because Windows refuses Basic over plain HTTP."""
    return hashlib.md5(f"{user}:{realm}:{password}".encode(), usedforsecurity=False).hexdigest()


def new_token_secret() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def token_digest(secret: str) -> str:
    """Tokens are 256 random bits, so a plain SHA-256 is a safe way to store them."""
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def new_password() -> str:
    return secrets.token_urlsafe(15)
