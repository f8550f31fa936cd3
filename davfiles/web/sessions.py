"""Server-side sessions of the web app: a row per logged-in browser, revocable at any time.

The cookie carries 256 random bits; only their SHA-256 is stored, so a copy of the database
logs no one in. A session ends at its absolute lifetime, after ``idle`` seconds unused, when
its row is deleted (log out, log out everywhere) and when the user's ``auth_version`` moves on:
a password change or a token revocation (``auth/accounts.py``) ends every browser session.
Unlike a self-contained JWT nothing outlives its revocation.

A session's CSRF token is an HMAC of its secret under a server key, so forms need no stored
state and a cross-site page can neither read nor compute it.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass

from sqlalchemy import and_, bindparam, delete, select, update

from davfiles.auth.secrets import token_digest
from davfiles.db.engine import Database
from davfiles.db.models import User, WebSession
from davfiles.store import Owner

# Writes of ``last_seen_at`` are skipped while the stored one is younger than this.
SEEN_GRANULARITY = 60.0

_LOOKUP = (
    select(
        WebSession.id,
        WebSession.last_seen_at,
        WebSession.expires_at,
        User.id.label("user_id"),
        User.name,
        User.is_admin,
    )
    .join(User, and_(User.id == WebSession.user_id, User.auth_version == WebSession.auth_version))
    .where(WebSession.token_sha256 == bindparam("digest"))
)


@dataclass(frozen=True)
class BrowserSession:
    """The session a request came with: whose it is, its CSRF token and whether its user
    may use the admin pages (read with the session, so a revoked admin loses them at once)."""

    id: int
    owner: Owner
    csrf: str
    is_admin: bool = False


@dataclass(frozen=True)
class SessionSummary:
    id: int
    created_at: float
    last_seen_at: float
    client: str | None
    agent: str | None


class WebSessions:
    def __init__(self, db: Database, key: bytes, lifetime: int, idle: int) -> None:
        self._db = db
        self._key = key
        self.lifetime = lifetime
        self._idle = idle

    def start(self, owner: Owner, client: str | None, agent: str | None) -> str:
        """A new session for ``owner``; answer the cookie's secret (not stored)."""
        secret = secrets.token_urlsafe(32)
        now = time.time()
        with self._db.write() as session:
            version = session.scalar(select(User.auth_version).where(User.id == owner.id))
            if version is None:
                raise LookupError("the user is gone")
            session.execute(delete(WebSession).where(WebSession.expires_at < now))
            session.add(
                WebSession(
                    token_sha256=token_digest(secret),
                    user_id=owner.id,
                    auth_version=version,
                    created_at=now,
                    last_seen_at=now,
                    expires_at=now + self.lifetime,
                    client=(client or "")[:64] or None,
                    agent=(agent or "")[:200] or None,
                )
            )
        return secret

    def find(self, secret: str) -> BrowserSession | None:
        """The live session of a cookie's secret, or None: unknown, ended, expired or idle."""
        if not secret or len(secret) > 128:
            return None
        now = time.time()
        with self._db.connect() as connection:
            row = connection.execute(_LOOKUP, {"digest": token_digest(secret)}).first()
        if row is None or row.expires_at < now or row.last_seen_at + self._idle < now:
            return None
        if now - row.last_seen_at > SEEN_GRANULARITY:
            with self._db.write() as session:
                session.execute(
                    update(WebSession).where(WebSession.id == row.id).values(last_seen_at=now)
                )
        return BrowserSession(
            row.id, Owner(row.user_id, row.name), self.csrf_token(secret), bool(row.is_admin)
        )

    def csrf_token(self, secret: str) -> str:
        return hmac.new(self._key, secret.encode(), hashlib.sha256).hexdigest()

    def end(self, session_id: int, owner: Owner) -> None:
        with self._db.write() as session:
            session.execute(
                delete(WebSession).where(
                    WebSession.id == session_id, WebSession.user_id == owner.id
                )
            )

    def end_all(self, owner: Owner) -> int:
        """Log ``owner`` out in every browser; answer how many sessions ended."""
        with self._db.write() as session:
            result = session.execute(delete(WebSession).where(WebSession.user_id == owner.id))
        return int(result.rowcount or 0)

    def of(self, owner: Owner) -> list[SessionSummary]:
        """The user's live sessions, most recently used first."""
        now = time.time()
        with self._db.read() as session:
            rows = session.execute(
                select(
                    WebSession.id,
                    WebSession.created_at,
                    WebSession.last_seen_at,
                    WebSession.client,
                    WebSession.agent,
                )
                .join(
                    User,
                    and_(
                        User.id == WebSession.user_id,
                        User.auth_version == WebSession.auth_version,
                    ),
                )
                .where(
                    WebSession.user_id == owner.id,
                    WebSession.expires_at >= now,
                    WebSession.last_seen_at >= now - self._idle,
                )
                .order_by(WebSession.last_seen_at.desc())
            ).all()
        return [SessionSummary(*row) for row in rows]
