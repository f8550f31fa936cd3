"""WebDAV lock storage in the metadata database, shared by every process that uses it.

Implements the method set of WsgiDAV's ``LockStorageDict`` with plain dicts, so the store does
not import WsgiDAV. Lock roots are user-qualified reference URLs, so users never share a lock.
Lifetimes are capped: an infinite or over-long request gets ``max_timeout`` seconds.
"""

from __future__ import annotations

import secrets
import time
from typing import Any

from sqlalchemy import delete, func, or_, select

from davfiles.db.engine import Database
from davfiles.db.models import Lock

LockDict = dict[str, Any]


def _normalize_root(path: str) -> str:
    return "/" + path.strip("/")


def _to_dict(row: Lock) -> LockDict:
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
        with self._db.write() as session:
            session.execute(delete(Lock).where(Lock.expire < time.time()))

    def clear(self) -> None:
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
        timeout = self._capped(lock.get("timeout"))
        lock.update(
            root=_normalize_root(path),
            timeout=timeout,
            expire=time.time() + timeout,
            token="opaquelocktoken:" + secrets.token_hex(32),
        )
        with self._db.write() as session:
            session.add(Lock(**lock))
        return lock

    def refresh(self, token: str, *, timeout: float | None) -> LockDict:
        capped = self._capped(timeout)
        with self._db.write() as session:
            row = session.get(Lock, token)
            if row is None:
                raise ValueError("no such lock")
            row.timeout = capped
            row.expire = time.time() + capped
            return _to_dict(row)

    def delete(self, token: str) -> bool:
        with self._db.write() as session:
            return bool(session.execute(delete(Lock).where(Lock.token == token)).rowcount)

    def get_lock_list(
        self, path: str, *, include_root: bool, include_children: bool, token_only: bool
    ) -> list[Any]:
        root = _normalize_root(path)
        prefix = root.rstrip("/") + "/"
        conditions = []
        if include_root:
            conditions.append(Lock.root == root)
        if include_children:
            conditions.append(func.substr(Lock.root, 1, len(prefix)) == prefix)
        with self._db.read() as session:
            rows = session.scalars(
                select(Lock).where(or_(*conditions), Lock.expire >= time.time())
            ).all()
            return [row.token if token_only else _to_dict(row) for row in rows]
