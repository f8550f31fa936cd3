"""WebDAV lock storage in the metadata database, shared by every process that uses it.

Implements the method set of WsgiDAV's ``LockStorageDict`` with plain dicts, so the store does
not import WsgiDAV. Lock roots are user-qualified reference URLs, so users never share a lock.
Lifetimes are capped: an infinite or over-long request gets ``max_timeout`` seconds.

WsgiDAV asks for the locks of every level above a resource, twice per write. Inside
``request_scope()`` the first question loads all of the user's live locks in one query and
later ones are answered from that snapshot; any lock change in this process drops it.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from sqlalchemy import bindparam, delete, or_, select, update
from sqlalchemy.orm import Session

from davfiles.db.engine import Database
from davfiles.db.models import Lock, ShareLink
from davfiles.db.prepared import Prepared
from davfiles.errors import Gone, NotFound, PermissionDenied
from davfiles.store.link_values import LinkKind, LinkState, to_info

LockDict = dict[str, Any]

# Per request: the user segment of a lock root -> that user's live locks.
_snapshot: ContextVar[dict[str, list[LockDict]] | None] = ContextVar(
    "davfiles_lock_snapshot", default=None
)


# Set by ``taken_through_link``: (id, token) of the link whose visitor writes a lock now.
_through_link: ContextVar[tuple[int, str] | None] = ContextVar(
    "davfiles_lock_through_link", default=None
)


@contextmanager
def request_scope() -> Iterator[None]:
    """Answer lock-list questions from one query per user for the duration of a request."""
    token = _snapshot.set({})
    try:
        yield
    finally:
        _snapshot.reset(token)


def _forget_snapshot() -> None:
    snapshot = _snapshot.get()
    if snapshot is not None:
        snapshot.clear()


def link_principal(link_id: int) -> str:
    """Who holds a lock taken through share link ``link_id`` (no user name holds a colon,
    so no account shares it)."""
    return f"link:{link_id}"


def drop_link_locks(session: Session, link_id: int) -> None:
    """Delete the locks taken through a link, in the caller's transaction: called when the
    link is deleted, disabled, regenerated or no longer an edit link, so its locks stop
    blocking the owner at once (no one could unlock them any more)."""
    _forget_snapshot()
    session.execute(delete(Lock).where(Lock.principal == link_principal(link_id)))


def end_link_locks_by(session: Session, link_id: int, until: float) -> None:
    """Make the locks taken through a link expire no later than ``until``, its new expiry,
    in the caller's transaction: after it, nothing could unlock them. Their timeout says
    the time left, as lock discovery reports it."""
    _forget_snapshot()
    session.execute(
        update(Lock)
        .where(Lock.principal == link_principal(link_id), Lock.expire > until)
        .values(expire=until, timeout=max(0.0, until - time.time()))
    )


@contextmanager
def taken_through_link(link_id: int, token: str) -> Iterator[None]:
    """Locks created or refreshed inside are a visitor's of link ``link_id`` (opened by
    ``token``): their transaction locks the link's row, checks that it still serves edits by
    that token and ends the lock no later than the link. The owner's delete, disable,
    regenerate or new expiry locks the row too, so it comes wholly before the lock's write
    (which it refuses or trims) or wholly after it (and drops or trims the lock)."""
    reset = _through_link.set((link_id, token))
    try:
        yield
    finally:
        _through_link.reset(reset)


def _link_expiry(session: Session, now: float) -> float | None:
    """The expiry of the link a lock is written through (None: none, or no link), refused
    as ``ShareLinks.open`` refuses a visit when the link stopped serving edits."""
    through = _through_link.get()
    if through is None:
        return None
    link_id, token = through
    row = session.get(ShareLink, link_id, with_for_update=True)
    if row is None or row.token != token:
        raise NotFound("no such link")
    link = to_info(row)
    state = link.state(now)
    if state != LinkState.ACTIVE:
        raise Gone(str(state))
    if link.kind != LinkKind.EDIT:
        raise PermissionDenied(f"a {link.kind} link does not take LOCK")
    return link.expires_at


def _normalize_root(path: str) -> str:
    return "/" + path.strip("/")


def _to_dict(row: Any) -> LockDict:
    """A lock as WsgiDAV wants it, from a Lock or a row of the locks table."""
    return {
        "token": row.token,
        "root": row.root,
        "principal": row.principal,
        "scope": row.scope,
        "type": row.type,
        "depth": row.depth,
        "owner": row.owner,
        "timeout": row.timeout,
        "expire": row.expire,
    }


# Run for every write of the fast door: built once.
_ANY_LOCK_BELOW = Prepared(
    select(Lock.token)
    .where(
        or_(Lock.root == bindparam("home"), Lock.root.like(bindparam("below"), escape="/")),
        Lock.expire >= bindparam("now"),
    )
    .limit(1)
)

# Every request that checks a lock reads its user's live locks once: built once too (a
# statement built per call cost 4 times the query).
_USER_LOCKS = select(Lock).where(
    or_(Lock.root == bindparam("home"), Lock.root.like(bindparam("below"), escape="/")),
    Lock.expire >= bindparam("now"),
)


def _like_prefix(prefix: str) -> str:
    """A LIKE pattern for strings starting with ``prefix`` (``/`` escapes the wildcards)."""
    return prefix.replace("/", "//").replace("%", "/%").replace("_", "/_") + "%"


class SqlLockStorage:
    def __init__(self, db: Database, max_timeout: int) -> None:
        self._db = db
        self._max_timeout = max_timeout

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}(max_timeout={self._max_timeout})"

    def open(self) -> None:
        """Nothing to open: the database is shared and always there."""

    def close(self) -> None:
        """Nothing to close: the engine belongs to the application."""

    def cleanup(self) -> None:
        _forget_snapshot()
        with self._db.write() as session:
            session.execute(delete(Lock).where(Lock.expire < time.time()))

    def clear(self) -> None:
        _forget_snapshot()
        with self._db.write() as session:
            session.execute(delete(Lock))

    def _capped(self, timeout: float | None) -> float:
        if timeout is None or timeout < 0 or timeout > self._max_timeout:
            return float(self._max_timeout)
        return float(timeout)

    def get(self, token: str) -> LockDict | None:
        with self._db.read() as session:
            row = session.get(Lock, token)
            if row is None or row.expire < time.time():
                return None
            return _to_dict(row)

    def create(self, path: str, lock: LockDict) -> LockDict:
        _forget_snapshot()
        with self._db.write() as session:
            now = time.time()
            timeout = self._within_link(session, now, lock.get("timeout"))
            lock.update(
                root=_normalize_root(path),
                timeout=timeout,
                expire=now + timeout,
                token="opaquelocktoken:" + secrets.token_hex(32),
            )
            session.add(Lock(**lock))
        return lock

    def refresh(self, token: str, *, timeout: float | None) -> LockDict:
        _forget_snapshot()
        with self._db.write() as session:
            now = time.time()
            capped = self._within_link(session, now, timeout)
            row = session.get(Lock, token)
            if row is None:
                raise ValueError("no such lock")
            row.timeout = capped
            row.expire = now + capped
            return _to_dict(row)

    def _within_link(self, session: Session, now: float, timeout: float | None) -> float:
        """``timeout`` capped, and cut to the life left to the link it is taken through."""
        capped = self._capped(timeout)
        expires_at = _link_expiry(session, now)
        return capped if expires_at is None else min(capped, expires_at - now)

    def delete(self, token: str) -> bool:
        _forget_snapshot()
        with self._db.write() as session:
            return bool(session.execute(delete(Lock).where(Lock.token == token)).rowcount)

    def get_lock_list(
        self, path: str, *, include_root: bool, include_children: bool, token_only: bool
    ) -> list[Any]:
        root = _normalize_root(path)
        prefix = root.rstrip("/") + "/"
        if root == "/" and include_children:
            candidates = self._query(Lock.root.startswith("/"))
        else:
            candidates = self._user_locks(root.split("/")[1])
        locks = [
            lock
            for lock in candidates
            if (include_root and lock["root"] == root)
            or (include_children and lock["root"].startswith(prefix))
        ]
        return [lock["token"] if token_only else dict(lock) for lock in locks]

    def holds_locks(self, user: str) -> bool:
        """True if ``user`` has a live lock anywhere in their home (one prebuilt query)."""
        home = "/" + user
        with self._db.connect() as connection:
            found = _ANY_LOCK_BELOW.first(
                connection, {"home": home, "below": _like_prefix(home + "/"), "now": time.time()}
            )
        return found is not None

    def _user_locks(self, user: str) -> list[LockDict]:
        """The live locks rooted at ``/<user>`` or below, snapshot first.

        ``create`` roots every lock at a resource's reference URL, ``/<user>/...``: nothing is
        ever locked at ``/`` itself (user "").
        """
        if not user:
            return []
        snapshot = _snapshot.get()
        if snapshot is not None and user in snapshot:
            return snapshot[user]
        home = "/" + user
        with self._db.connect() as connection:
            rows = connection.execute(
                _USER_LOCKS, {"home": home, "below": _like_prefix(home + "/"), "now": time.time()}
            )
            locks = [_to_dict(row) for row in rows]
        if snapshot is not None:
            snapshot[user] = locks
        return locks

    def _query(self, condition: Any) -> list[LockDict]:
        with self._db.connect() as connection:
            rows = connection.execute(select(Lock).where(condition, Lock.expire >= time.time()))
            return [_to_dict(row) for row in rows]
