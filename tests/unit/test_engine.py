"""The database layer on a real SQLite file: per-thread read connections stay current."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select, update

from davfiles.db import schema
from davfiles.db.engine import SQLITE_CACHE_KIB, Database, make_engine
from davfiles.db.models import User

AUTH_VERSION = select(User.auth_version).where(User.name == "alice")


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    engine = make_engine(f"sqlite:///{tmp_path / 'test.sqlite3'}")
    schema.prepare(engine)
    database = Database(engine)
    with database.write() as session:
        session.add(User(name="alice", password_hash="x", created_at=0.0))
    yield database
    database.dispose()


def read_version(db: Database) -> int | None:
    with db.connect() as connection:
        return connection.scalar(AUTH_VERSION)


def test_a_thread_reads_each_commit_at_once(db: Database) -> None:
    """The connection a thread keeps holds no snapshot: a revoked login must not linger."""
    before = read_version(db)
    assert before is not None
    for step in range(1, 4):
        with db.write() as session:
            session.execute(update(User).values(auth_version=before + step))
        assert read_version(db) == before + step


def test_a_failed_read_leaves_the_next_one_working(db: Database) -> None:
    with pytest.raises(ZeroDivisionError), db.connect() as connection:
        connection.scalar(AUTH_VERSION)
        raise ZeroDivisionError
    assert read_version(db) is not None


def test_threads_that_ended_give_their_connections_back(db: Database) -> None:
    """More threads than the pool holds, one after another, never exhaust it."""
    pool_size = db.engine.pool.size()  # type: ignore[attr-defined]
    for _ in range(2 * pool_size + 10):
        thread = threading.Thread(target=read_version, args=(db,))
        thread.start()
        thread.join(timeout=30)
        assert not thread.is_alive()
    assert db.engine.pool.checkedout() <= 2  # type: ignore[attr-defined]


def test_every_connection_keeps_a_small_page_cache(db: Database) -> None:
    """A request thread's read connection and a write connection: each at most SQLITE_CACHE_KIB."""
    with db.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA cache_size").scalar() == -SQLITE_CACHE_KIB
    with db.write() as session:
        assert session.connection().exec_driver_sql("PRAGMA cache_size").scalar() == (
            -SQLITE_CACHE_KIB
        )


def test_every_commit_is_synced_to_disk(db: Database) -> None:
    """WAL with synchronous FULL: a commit survives a power cut, not only a process crash."""
    synchronous_full = 2
    with db.write() as session:
        connection = session.connection()
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == synchronous_full
