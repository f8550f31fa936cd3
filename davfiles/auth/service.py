"""Credential verification with a bounded cache, so a request pays microseconds, not argon2.

The cache is keyed by an HMAC of user and secret (never the secret itself) and remembers the
user's row id, ``auth_version`` and salted password hash. Every request reads that row (one
indexed SELECT, no write) and uses the cache only if it still matches; a password change, token
revocation or user deletion changes or removes the row, so a stale cache entry never
authenticates, whichever process or CLI command made the change. The hash also tells a new user
apart from a deleted one who had the same name.

Every check passes the login throttle first (``auth/throttle.py``, state in the database),
also a cached one, so a guesser cannot use the cache to tell a right password from a throttled
wrong one. Failed checks
and new sessions go to the audit log (``auth/audit.py``).

What a credential may be is decided here, for every door: Basic carries a password or an
API token (``verify``), Bearer an API token or a login JWT (``verify_bearer``), Digest a
response over a nonce this server issued (``issue_digest_nonce``, ``end_digest_login``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

from sqlalchemy import Connection, bindparam, select
from sqlalchemy.orm import Session

from davfiles.auth.audit import AuditEvent, AuditLog
from davfiles.auth.digest_nonces import DigestNonces, NonceCheck
from davfiles.auth.login_tokens import LoginTokens
from davfiles.auth.secrets import TOKEN_PREFIX, hash_password, token_digest, verify_password
from davfiles.auth.throttle import (
    FAILURES_COLUMN,
    TRUST_COLUMN,
    LoginThrottle,
    LoginThrottled,
    Snapshot,
    Ticket,
)
from davfiles.db.engine import Database
from davfiles.db.models import Token, User
from davfiles.db.prepared import Prepared
from davfiles.errors import AuthFailed, InvalidName
from davfiles.store import Owner, check_username

# What a cached success was checked against: user id, auth_version, password hash.
_CacheEntry = tuple[int, int, str]
# Verified against when the user does not exist, so both failures cost the same time.
_DUMMY_HASH = hash_password(secrets.token_urlsafe(16))
# Read on every request that carries a password or token, built once: the user and the
# throttle's state of the attempt in one query.
# Every request's one read, on the driver's cursor (``Prepared``).
_USER_LOGIN = Prepared(
    select(
        User.id, User.name, User.password_hash, User.auth_version, TRUST_COLUMN, FAILURES_COLUMN
    ).where(User.name == bindparam("name"))
)


class _LoginRow(NamedTuple):
    """A row of ``_USER_LOGIN``: the user and the throttle state of the attempt."""

    id: int
    name: str
    password_hash: str
    auth_version: int
    throttle_trust: float | None
    throttle_failures: int


_USER_HA1 = select(User.id, User.name, User.digest_ha1).where(User.name == bindparam("name"))
# Every HTTP request carries credentials, so only a user's first success from an address after
# this many quiet seconds is audited as a login (the start of a session), not every request.
SESSION_GAP = 15 * 60.0


def parse_basic(value: str) -> tuple[str, str]:
    """User name and password of HTTP Basic credentials (the part after ``Basic``).

    Raises AuthFailed unless the value is strict base64 of UTF-8 ``name:password`` with a
    non-empty name and no NUL anywhere (a NUL would let some back end cut the string short).
    """
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except ValueError:
        raise AuthFailed("malformed Basic credentials") from None
    name, colon, password = decoded.partition(":")
    if not colon or not name or "\0" in decoded:
        raise AuthFailed("malformed Basic credentials")
    return name, password


def _login_version(auth_version: int, password_hash: str) -> int:
    """A login JWT's ``ver`` claim: it changes with ``auth_version`` and with the user row.

    On SQLite a new user can get a deleted user's id; its freshly salted password hash differs,
    so the deleted user's JWTs do not let anyone into the new account. 48 bits keep it exact in
    JavaScript clients; the claim is readable by the client and reveals nothing usable.
    """
    digest = hashlib.sha256(f"{auth_version}\0{password_hash}".encode()).digest()
    return int.from_bytes(digest[:6], "big")


@dataclass(frozen=True)
class LoginAttempt:
    """A credential check in progress: ``via`` is password, token, digest or jwt."""

    ticket: Ticket
    name: str | None
    client: str | None
    via: str


class Authenticator:
    def __init__(
        self,
        db: Database,
        realm: str,
        cache_size: int,
        login_tokens: LoginTokens,
        throttle: LoginThrottle,
        audit: AuditLog,
        digest_nonce_lifetime: int,
    ) -> None:
        self._db = db
        self.realm = realm
        self._login_tokens = login_tokens
        self._nonces = DigestNonces(
            db, login_tokens.derive_key("digest nonces"), digest_nonce_lifetime
        )
        self._throttle = throttle
        self._audit = audit
        self._cache_size = cache_size
        self._cache: OrderedDict[bytes, _CacheEntry] = OrderedDict()
        self._cache_lock = threading.Lock()
        self._cache_key = secrets.token_bytes(32)
        self.hash_verifications = 0

    def verify(
        self, name: str, secret: str, *, client: str | None = None, tokens: bool = True
    ) -> Owner:
        """Check a user name with a password or API token from ``client`` (an IP address).

        ``tokens=False`` takes the password only: a page that mints a new app password must
        not let a stolen token outlive its revocation through the one it mints.
        Raises LoginThrottled while the name or address must wait, AuthFailed if wrong or unknown.
        """
        if "\0" in secret:
            raise AuthFailed("wrong user name or password")
        via = "token" if secret.startswith(TOKEN_PREFIX) else "password"
        _refuse_impossible_name(name)
        parameters = {"name": name, **self._throttle.snapshot_parameters(name, client)}
        with self._db.connect() as connection:
            found = _USER_LOGIN.first(connection, parameters)
        row = None if found is None else _LoginRow(*found)
        snapshot = None if row is None else Snapshot(row.throttle_trust, row.throttle_failures)
        attempt = self.begin_login(name, client, via, snapshot)
        owner: Owner | None = None
        try:
            owner = self._check_secret(name, secret, row, tokens)
            return owner
        finally:
            self.end_login(attempt, owner)

    def verify_token(self, secret: str, *, client: str | None = None) -> Owner:
        """Check an API token on its own (dialects whose header carries no user name)."""
        return self._attempt(None, client, "token", lambda: self._token_user(secret))

    def verify_bearer(self, token: str, *, client: str | None = None) -> Owner:
        """A ``Bearer`` credential: an API token or a login JWT of a user who still exists.

        The one rule for Bearer, used by WebDAV and every REST dialect. An empty one guesses
        nothing and is refused without counting.
        """
        token = token.strip()
        if not token:
            raise AuthFailed("no bearer token")
        if token.startswith(TOKEN_PREFIX):
            return self.verify_token(token, client=client)
        return self._attempt(None, client, "jwt", lambda: self._jwt_user(token))

    def login(self, name: str, password: str, *, client: str | None = None) -> str:
        """Check the password (or API token) and return a login JWT."""
        owner = self.verify(name, password, client=client)
        with self._db.read() as session:
            row = session.execute(
                select(User.auth_version, User.password_hash).where(User.id == owner.id)
            ).one_or_none()
        if row is None:
            raise AuthFailed("wrong user name or password")
        version = _login_version(row.auth_version, row.password_hash)
        return self._login_tokens.issue(owner.id, owner.name, version)

    def begin_login(
        self, name: str | None, client: str | None, via: str, snapshot: Snapshot | None = None
    ) -> LoginAttempt:
        """Start a check that ends with ``end_login`` (Digest is checked by WsgiDAV in between).

        ``snapshot``: the throttle state already read with the user (``verify``).
        Raises LoginThrottled while the name or address must wait, and AuthFailed for a name no
        user can have (not counted: it guesses nothing).
        """
        if name is not None:
            _refuse_impossible_name(name)
        try:
            ticket = self._throttle.begin(name, client, snapshot)
        except LoginThrottled as exc:
            if exc.first:
                self._audit.record(
                    AuditEvent.LOGIN_THROTTLED, user=name, client=client, target=exc.scope
                )
            else:
                self._audit.count(AuditEvent.LOGIN_THROTTLED, exc.scope)
            raise
        return LoginAttempt(ticket, name, client, via)

    def end_login(self, attempt: LoginAttempt, owner: Owner | None) -> None:
        """Count the outcome (``owner`` None: failed) and audit failures and new sessions."""
        since_last = self._throttle.finish(attempt.ticket, None if owner is None else owner.name)
        if owner is None:
            self._audit.record(
                AuditEvent.LOGIN_FAIL, user=attempt.name, client=attempt.client, target=attempt.via
            )
        elif since_last is None or since_last >= SESSION_GAP:
            self._audit.record(
                AuditEvent.LOGIN_OK, user=owner.name, client=attempt.client, target=attempt.via
            )

    def derive_key(self, purpose: str) -> bytes:
        """A key for ``purpose`` from the server secret, the same in every worker process."""
        return self._login_tokens.derive_key(purpose)

    @property
    def login_token_lifetime(self) -> int:
        return self._login_tokens.lifetime

    def digest_credentials(self, name: str) -> tuple[Owner, str] | None:
        """The user and stored HA1 for Digest auth, or None if there is none.

        Call between ``begin_login`` and ``end_login``, which refuse names no user can have.
        """
        with self._db.connect() as connection:
            row = connection.execute(_USER_HA1, {"name": name}).one_or_none()
        if row is None or not row.digest_ha1:
            return None
        return Owner(row.id, row.name), row.digest_ha1

    def issue_digest_nonce(self) -> str:
        return self._nonces.issue()

    def end_digest_login(
        self, attempt: LoginAttempt, owner: Owner, nonce: str, nonce_count: str | None
    ) -> NonceCheck:
        """End a Digest check whose response matched: it succeeds only on a FRESH nonce.

        A STALE nonce counts neither way (the client knows the password and retries with a
        new nonce); a replayed count or a nonce not issued here is a failed login.
        """
        verdict = self._nonces.check(nonce, nonce_count)
        if verdict is NonceCheck.STALE:
            self._throttle.release(attempt.ticket)
        else:
            self.end_login(attempt, owner if verdict is NonceCheck.FRESH else None)
        return verdict

    def _attempt(
        self, name: str | None, client: str | None, via: str, check: Callable[[], Owner]
    ) -> Owner:
        attempt = self.begin_login(name, client, via)
        owner: Owner | None = None
        try:
            owner = check()
            return owner
        finally:
            self.end_login(attempt, owner)

    def _check_secret(self, name: str, secret: str, row: _LoginRow | None, tokens: bool) -> Owner:
        """Check ``secret`` against the user ``row`` read for this attempt (None: no user);
        with ``tokens`` False, as a password only (the cache may hold it as a token)."""
        maybe_token = secret.startswith(TOKEN_PREFIX)
        key = hmac.new(
            self._cache_key, f"{name}\0{secret}".encode("utf-8", "surrogatepass"), hashlib.sha256
        ).digest()
        entry = None if row is None else (row.id, row.auth_version, row.password_hash)
        if (tokens or not maybe_token) and row is not None and self._cache_get(key) == entry:
            return Owner(row.id, row.name)
        token_user = None
        if tokens and maybe_token:
            # Looked up for unknown users too, so they cost the same as a wrong token.
            with self._db.connect() as connection:
                token_user = self._token_owner(connection, secret)
        if row is None:
            self._count_and_verify(secret, _DUMMY_HASH)
            raise AuthFailed("wrong user name or password")
        if token_user != row.id and not self._count_and_verify(secret, row.password_hash):
            raise AuthFailed("wrong user name or password")
        self._cache_put(key, (row.id, row.auth_version, row.password_hash))
        return Owner(row.id, row.name)

    def _token_user(self, secret: str) -> Owner:
        with self._db.read() as session:
            user_id = self._token_owner(session, secret)
            row = session.execute(
                select(User.id, User.name).where(User.id == user_id)
            ).one_or_none()
        if row is None:
            raise AuthFailed("invalid token")
        return Owner(row.id, row.name)

    def _jwt_user(self, token: str) -> Owner:
        user_id, version = self._login_tokens.decode(token)
        with self._db.read() as session:
            row = session.execute(
                select(User.id, User.name, User.auth_version, User.password_hash).where(
                    User.id == user_id
                )
            ).one_or_none()
        if row is None or _login_version(row.auth_version, row.password_hash) != version:
            raise AuthFailed("invalid or expired token")
        return Owner(row.id, row.name)

    def _token_owner(self, session: Session | Connection, secret: str) -> int | None:
        return session.scalar(
            select(Token.user_id).where(Token.secret_sha256 == token_digest(secret))
        )

    def _count_and_verify(self, secret: str, password_hash: str) -> bool:
        self.hash_verifications += 1
        try:
            return verify_password(secret, password_hash)
        except ValueError:
            return False

    def _cache_get(self, key: bytes) -> _CacheEntry | None:
        with self._cache_lock:
            value = self._cache.get(key)
            if value is not None:
                self._cache.move_to_end(key)
            return value

    def _cache_put(self, key: bytes, value: _CacheEntry) -> None:
        if self._cache_size <= 0:
            return
        with self._cache_lock:
            self._cache[key] = value
            self._cache.move_to_end(key)
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)


def _refuse_impossible_name(name: str) -> None:
    """AuthFailed for a name no user can have: nothing to look up or count."""
    try:
        check_username(name)
    except InvalidName:
        raise AuthFailed("wrong user name or password") from None
