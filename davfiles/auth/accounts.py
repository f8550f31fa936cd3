"""User and token administration (the CLI's ``user`` and ``token`` commands).

Every change is audited (``auth/audit.py``), with the client address when a request made it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError

from davfiles.auth.audit import AuditEvent, AuditLog, current_client
from davfiles.auth.secrets import digest_ha1, hash_password, new_token_secret, token_digest
from davfiles.db.engine import Database
from davfiles.db.models import Lock, Token, User
from davfiles.errors import AlreadyExists, InvalidName, NotFound
from davfiles.store import Owner, Store, check_username
from davfiles.store.links import retire_tokens_of

KEEP = object()  # "leave this quota limit as it is"


@dataclass(frozen=True)
class UserSummary:
    name: str
    used_bytes: int
    used_files: int
    max_bytes: int | None
    max_files: int | None
    is_admin: bool


@dataclass(frozen=True)
class TokenSummary:
    id: int
    label: str
    created_at: float


class Accounts:
    def __init__(self, db: Database, store: Store, realm: str, audit: AuditLog) -> None:
        self._db = db
        self._store = store
        self._realm = realm
        self._audit = audit

    def _record(self, event: AuditEvent, user: str, target: str | None = None) -> None:
        self._audit.record(event, user=user, client=current_client(), target=target)

    def add_user(
        self,
        name: str,
        password: str,
        *,
        max_bytes: int | None,
        max_files: int | None,
        admin: bool = False,
    ) -> Owner:
        check_username(name)
        _check_password(password)
        try:
            with self._db.write() as session:
                user = User(
                    name=name,
                    password_hash=hash_password(password),
                    digest_ha1=digest_ha1(name, self._realm, password),
                    auth_version=0,
                    max_bytes=max_bytes,
                    max_files=max_files,
                    used_bytes=0,
                    used_files=0,
                    created_at=time.time(),
                    is_admin=admin,
                )
                session.add(user)
                session.flush()
                owner = Owner(user.id, user.name)
        except IntegrityError:
            raise AlreadyExists(f"user {name} already exists") from None
        self._store.create_home(owner)
        detail = _quota_text(max_bytes, max_files) + (" admin" if admin else "")
        self._record(AuditEvent.USER_ADD, name, detail)
        return owner

    def owner(self, name: str) -> Owner:
        with self._db.read() as session:
            user_id = session.scalar(select(User.id).where(User.name == name))
        if user_id is None:
            raise NotFound(f"no such user: {name}")
        return Owner(user_id, name)

    def count_users(self) -> int:
        with self._db.read() as session:
            return session.scalar(select(func.count(User.id))) or 0

    def list_users(self) -> list[UserSummary]:
        with self._db.read() as session:
            rows = session.execute(
                select(
                    User.name,
                    User.used_bytes,
                    User.used_files,
                    User.max_bytes,
                    User.max_files,
                    User.is_admin,
                ).order_by(User.name)
            ).all()
        return [UserSummary(*row) for row in rows]

    def set_password(self, name: str, password: str) -> None:
        _check_password(password)
        self._update(
            name,
            password_hash=hash_password(password),
            digest_ha1=digest_ha1(name, self._realm, password),
            auth_version=User.auth_version + 1,
        )
        self._record(AuditEvent.USER_PASSWORD, name)

    def set_quota(self, name: str, *, max_bytes: object = KEEP, max_files: object = KEEP) -> None:
        values = {}
        if max_bytes is not KEEP:
            values["max_bytes"] = max_bytes
        if max_files is not KEEP:
            values["max_files"] = max_files
        if not values:
            self.owner(name)
            return
        with self._db.write() as session:
            row = session.execute(
                update(User)
                .where(User.name == name)
                .values(**values)
                .returning(User.max_bytes, User.max_files)
            ).one_or_none()
        if row is None:
            raise NotFound(f"no such user: {name}")
        self._record(AuditEvent.USER_QUOTA, name, _quota_text(*row))

    def set_admin(self, name: str, admin: bool) -> None:
        """Grant or revoke the admin pages of the web app."""
        self._update(name, is_admin=admin)
        self._record(AuditEvent.USER_ADMIN, name, "on" if admin else "off")

    def delete_user(self, name: str) -> None:
        owner = self.owner(name)
        with self._db.write() as session:
            retire_tokens_of(session, owner.id)
            session.execute(delete(User).where(User.id == owner.id))
            prefix = f"/{name}/"
            session.execute(
                delete(Lock).where(
                    (Lock.root == f"/{name}") | (func.substr(Lock.root, 1, len(prefix)) == prefix)
                )
            )
        self._store.remove_home(owner)
        self._record(AuditEvent.USER_DELETE, name)

    def create_token(self, name: str, label: str = "") -> tuple[int, str]:
        owner = self.owner(name)
        secret = new_token_secret()
        with self._db.write() as session:
            token = Token(
                user_id=owner.id,
                secret_sha256=token_digest(secret),
                label=label[:200],
                created_at=time.time(),
            )
            session.add(token)
            session.flush()
            token_id = token.id
        self._record(AuditEvent.TOKEN_CREATE, name, f"token {token_id}")
        return token_id, secret

    def list_tokens(self, name: str) -> list[TokenSummary]:
        owner = self.owner(name)
        with self._db.read() as session:
            rows = session.execute(
                select(Token.id, Token.label, Token.created_at)
                .where(Token.user_id == owner.id)
                .order_by(Token.id)
            ).all()
        return [TokenSummary(*row) for row in rows]

    def revoke_token(self, token_id: int) -> None:
        with self._db.write() as session:
            row = session.execute(
                select(User.id, User.name)
                .join(Token, Token.user_id == User.id)
                .where(Token.id == token_id)
            ).one_or_none()
            if row is None:
                raise NotFound(f"no such token: {token_id}")
            session.execute(delete(Token).where(Token.id == token_id))
            session.execute(
                update(User).where(User.id == row.id).values(auth_version=User.auth_version + 1)
            )
        self._record(AuditEvent.TOKEN_REVOKE, row.name, f"token {token_id}")

    def _update(self, name: str, **values: object) -> None:
        with self._db.write() as session:
            if not session.execute(update(User).where(User.name == name).values(**values)).rowcount:
                raise NotFound(f"no such user: {name}")


def _quota_text(max_bytes: int | None, max_files: int | None) -> str:
    def limit(value: int | None) -> str:
        return "unlimited" if value is None else str(value)

    return f"max_bytes={limit(max_bytes)} max_files={limit(max_files)}"


def _check_password(password: str) -> None:
    if not password or "\0" in password:
        raise InvalidName("a password must be non-empty and contain no NUL character")
