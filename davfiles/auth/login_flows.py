"""Nextcloud Login Flow v2 state, shared by every worker process through the database.

A flow has two secrets: the login token, in the URL the user opens in a browser, and the poll
token, kept by the app that started the flow. Only their SHA-256 are stored. Logging in on the
page records which user granted the flow; the app password (an API token, revocable with
``davfiles token revoke``) is created when the app polls, returned once, and the flow row is
deleted by that same poll. So the password never sits in the database, not even encrypted.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass

from sqlalchemy import delete, func, select, update

from davfiles.auth.accounts import Accounts
from davfiles.auth.audit import printable
from davfiles.auth.secrets import token_digest
from davfiles.db.engine import Database
from davfiles.db.models import LoginFlow, User
from davfiles.errors import NotFound
from davfiles.store import Owner

# Nextcloud's own lifetime of a flow.
FLOW_LIFETIME = 20 * 60
# Flows waiting at once; starting one is unauthenticated, so the oldest go first past this.
MAX_FLOWS = 10_000
# Flows one client address may have waiting: a flood from one address is refused instead of
# pushing out other people's half-done logins.
MAX_FLOWS_PER_CLIENT = 20


class TooManyFlows(Exception):
    """The client address already has ``MAX_FLOWS_PER_CLIENT`` flows waiting."""


@dataclass(frozen=True)
class NewFlow:
    login_token: str
    poll_token: str


@dataclass(frozen=True)
class AppPassword:
    login_name: str
    secret: str


class LoginFlows:
    def __init__(
        self,
        db: Database,
        accounts: Accounts,
        lifetime: float = FLOW_LIFETIME,
        max_flows: int = MAX_FLOWS,
        max_per_client: int = MAX_FLOWS_PER_CLIENT,
    ) -> None:
        self._db = db
        self._accounts = accounts
        self._lifetime = lifetime
        self._max_flows = max_flows
        self._max_per_client = max_per_client

    def start(self, label: str, client: str) -> NewFlow:
        """A new flow from the address ``client``; ``label`` (the app's name) becomes the label
        of its API token. Raises TooManyFlows when that address has too many waiting."""
        flow = NewFlow(secrets.token_urlsafe(32), secrets.token_urlsafe(32))
        client_sha256 = token_digest(f"login flow client\0{client}")
        now = time.time()
        with self._db.write() as session:
            session.execute(delete(LoginFlow).where(LoginFlow.expires_at <= now))
            from_client = select(func.count()).where(LoginFlow.client_sha256 == client_sha256)
            if (session.scalar(from_client) or 0) >= self._max_per_client:
                raise TooManyFlows(client)
            waiting = session.scalar(select(func.count()).select_from(LoginFlow)) or 0
            if waiting >= self._max_flows:
                oldest = (
                    select(LoginFlow.poll_sha256)
                    .order_by(LoginFlow.expires_at)
                    .limit(waiting - self._max_flows + 1)
                )
                session.execute(delete(LoginFlow).where(LoginFlow.poll_sha256.in_(oldest)))
            session.add(
                LoginFlow(
                    poll_sha256=token_digest(flow.poll_token),
                    login_sha256=token_digest(flow.login_token),
                    label=printable(label[:200]),
                    client_sha256=client_sha256,
                    user_id=None,
                    expires_at=now + self._lifetime,
                )
            )
        return flow

    def pending(self, login_token: str) -> str | None:
        """The label of a flow that exists, has not expired and nobody has granted yet."""
        with self._db.read() as session:
            return session.scalar(
                select(LoginFlow.label).where(
                    LoginFlow.login_sha256 == token_digest(login_token),
                    LoginFlow.user_id.is_(None),
                    LoginFlow.expires_at > time.time(),
                )
            )

    def grant(self, login_token: str, owner: Owner) -> bool:
        """Let ``owner``'s app password be fetched by the poll; False if the flow is gone."""
        with self._db.write() as session:
            result = session.execute(
                update(LoginFlow)
                .where(
                    LoginFlow.login_sha256 == token_digest(login_token),
                    LoginFlow.user_id.is_(None),
                    LoginFlow.expires_at > time.time(),
                )
                .values(user_id=owner.id)
            )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    def claim(self, poll_token: str) -> AppPassword | None:
        """The app password of a granted flow, once; None while pending, after, or expired."""
        digest = token_digest(poll_token)
        with self._db.write() as session:
            row = session.execute(
                select(User.name, LoginFlow.label)
                .join(User, User.id == LoginFlow.user_id)
                .where(LoginFlow.poll_sha256 == digest, LoginFlow.expires_at > time.time())
            ).one_or_none()
            if row is None:
                return None
            if not session.execute(
                delete(LoginFlow).where(LoginFlow.poll_sha256 == digest)
            ).rowcount:  # type: ignore[attr-defined]
                return None
        try:
            _token_id, secret = self._accounts.create_token(row.name, row.label)
        except NotFound:
            return None
        return AppPassword(row.name, secret)
