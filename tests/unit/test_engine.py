"""The database layer on a real SQLite file: per-thread read connections stay current."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select, update

from davfiles.db import schema
from davfiles.db.engine import SQLITE_CACHE_KIB, Database, make_engine
from davfiles.db.models import User
from davfiles.db.wal_sync import WalSync

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


def test_every_commit_is_synced_to_disk_before_write_returns(db: Database) -> None:
    """WAL without a sync inside the commit (NORMAL); ``write`` syncs the log after it."""
    synchronous_normal = 1
    assert db.wal_sync is not None
    with db.write() as session:
        connection = session.connection()
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == synchronous_normal
    before = db.wal_sync.syncs
    for version in range(5):
        with db.write() as session:
            session.execute(update(User).values(auth_version=version))
    assert db.wal_sync.syncs == before + 5


class _WatchedSync(WalSync):
    """Records how many commits each sync covers; each sync takes a while, as a disk's does."""

    def __init__(self, database: Path) -> None:
        super().__init__(database)
        self.covered: list[int] = []

    def _sync_files(self) -> None:
        self.covered.append(self._changes)
        time.sleep(0.02)
        super()._sync_files()


def test_commits_made_during_a_sync_share_the_next_one(tmp_path: Path) -> None:
    """Group commit: callers that arrive during a sync share the next one instead of each
    starting their own, and when all have returned every commit is covered by a sync."""
    database = tmp_path / "test.sqlite3"
    database.write_bytes(b"")
    syncer = _WatchedSync(database)
    callers = 12
    start = threading.Barrier(callers)

    def commit_and_sync() -> None:
        start.wait(timeout=10)
        syncer.sync()

    threads = [threading.Thread(target=commit_and_sync) for _ in range(callers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
        assert not thread.is_alive()
    assert syncer._synced == callers
    assert syncer.syncs == len(syncer.covered) < callers
    assert syncer.covered == sorted(syncer.covered)
