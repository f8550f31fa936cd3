"""Engine creation and transactions that behave the same on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

from davfiles.db.wal_sync import WalSync
from davfiles.db.writer_queue import WriterQueue

# Execution option of a connection whose transactions write (BEGIN IMMEDIATE on SQLite).
WRITE_OPTION = "davfiles_write"
# PostgreSQL advisory lock every write transaction holds shared; a backup takes it exclusive
# to see the files and the records of one moment (``davfiles/backup.py``).
WRITERS_LOCK = 0x64617602
_SINGLE_READS = "davfiles_single_reads"


# Connections kept per process. On SQLite every request thread keeps one for its reads and
# checks out another for each write, so the pool covers twice the request threads (at least
# SQLITE_POOL): a connection opened past the pool is closed on return, and reopening one per
# statement (SQLite's PRAGMAs included) made every request wait for it.
SQLITE_POOL = 64
POSTGRES_POOL = 20
# SQLite's page cache per connection, in KiB (its default: 2,000). Every request thread keeps
# a read connection, and each held up to the whole database of a 10,000-file folder: 32
# concurrent PROPFINDs of it left a process 30-60 MiB larger at the default, with the OS page
# cache behind every connection anyway; a PROPFIND of 10,000 files took about 3% longer.
SQLITE_CACHE_KIB = 512


def make_engine(url: str, threads: int = 32) -> Engine:
    """Create the engine for ``threads`` request threads; SQLite gets WAL, a busy timeout and
    explicit BEGIN control. The schema is ``schema.prepare``'s job."""
    if url.startswith("sqlite"):
        pool = max(SQLITE_POOL, 2 * threads)
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            pool_size=pool,
            max_overflow=pool,
        )
        _configure_sqlite(engine)
    else:
        engine = create_engine(
            url, pool_size=POSTGRES_POOL, max_overflow=POSTGRES_POOL, pool_pre_ping=True
        )
        _configure_postgres(engine)
    return engine


def _configure_postgres(engine: Engine) -> None:
    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # As SQLite's BEGIN IMMEDIATE, but shared among writers: only a backup excludes them.
        if connection.get_execution_options().get(WRITE_OPTION):
            connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock_shared({WRITERS_LOCK})")


def _configure_sqlite(engine: Engine) -> None:
    grouped = sqlite_file(engine) is not None

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the sqlite3 module, decide when transactions begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        # A 201 promises that the record survives a power cut. On a database file the log is
        # synced after each commit, outside the write lock, by ``WalSync`` (group commit);
        # anywhere else SQLite syncs it inside the commit (FULL).
        cursor.execute(f"PRAGMA synchronous={'NORMAL' if grouped else 'FULL'}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # A write transaction takes the write lock up front, so two writers never deadlock
        # upgrading read locks; reads stay lock-free under WAL.
        options = connection.get_execution_options()
        if options.get(WRITE_OPTION):
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        elif not options.get(_SINGLE_READS):
            connection.exec_driver_sql("BEGIN")


class Database:
    """Hands out read and write sessions; the write kind serialises writers on SQLite."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        # SQLite has one writer at a time: queue the writers of all processes (writer_queue.py).
        self._writers: AbstractContextManager[Any] = writer_queue(engine)
        database = sqlite_file(engine)
        self.wal_sync = WalSync(database) if database is not None else None
        # SQLite's single reads keep one connection per thread (see ``connect``).
        self._readers = _ThreadReaders(engine) if engine.dialect.name == "sqlite" else None

    @contextmanager
    def read(self) -> Iterator[Session]:
        with self._sessions() as session:
            yield session

    @contextmanager
    def connect(self) -> Iterator[Connection]:
        """A plain connection for reads that need no ORM objects (cheaper per query).

        On SQLite no BEGIN is sent: each statement reads a consistent snapshot on its own, and
        a BEGIN/ROLLBACK pair per read took the WAL read lock twice as often under load.
        Callers that need several statements to agree use ``read()``.

        On SQLite each thread also keeps its connection between calls: checking one out of the
        pool and handing it back cost three times the indexed read done with it.
        """
        if self._readers is None:
            with self.engine.connect() as connection:
                yield connection
            return
        connection = self._readers.mine()
        try:
            yield connection
        except BaseException:
            self._readers.drop()
            raise

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A transaction committed on success and rolled back on any exception; on success it
        is on disk when this returns."""
        with self._writers, self._sessions() as session:
            # Acquiring the connection begins the transaction (BEGIN IMMEDIATE on SQLite).
            session.connection(execution_options={WRITE_OPTION: True})
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise
        if self.wal_sync is not None:
            self.wal_sync.sync()

    def dispose(self) -> None:
        if self._readers is not None:
            self._readers.close_all()
        if isinstance(self._writers, WriterQueue):
            self._writers.close()
        self.engine.dispose()


def writer_queue(engine: Engine) -> AbstractContextManager[Any]:
    """A ``WriterQueue`` beside a SQLite file (every process's writers take it before SQLite's
    write lock, so anything else that takes that lock must queue there too); a thread lock for
    an in-memory database; nothing for PostgreSQL."""
    if engine.dialect.name != "sqlite":
        return nullcontext()
    database = sqlite_file(engine)
    if database is None:
        return threading.RLock()
    return WriterQueue(Path(f"{database}-writers.lock"))


def sqlite_file(engine: Engine) -> Path | None:
    """The database file of a SQLite engine given by path; None for PostgreSQL, an in-memory
    database or a ``file:`` URI."""
    if engine.dialect.name != "sqlite":
        return None
    database = engine.url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database)


class _ThreadReaders:
    """One open connection per thread for SQLite's single-statement reads.

    Such a connection never sends BEGIN, so it holds no snapshot or lock between statements
    and needs nothing done between requests, provided each caller reads its results to the
    end (all of davfiles' do). After an error it is closed, and the thread opens a fresh one
    on its next read. The connections of threads that ended are closed when a new thread
    opens one, so they never hold more of the pool than there are live threads.
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._local = threading.local()
        self._lock = threading.Lock()
        self._open: dict[threading.Thread, Connection] = {}

    def mine(self) -> Connection:
        connection: Connection | None = getattr(self._local, "connection", None)
        if connection is not None and not connection.closed:
            return connection
        connection = self._engine.connect().execution_options(**{_SINGLE_READS: True})
        self._local.connection = connection
        with self._lock:
            ended = [thread for thread in self._open if not thread.is_alive()]
            stale = [self._open.pop(thread) for thread in ended]
            self._open[threading.current_thread()] = connection
        for old in stale:
            old.close()
        return connection

    def drop(self) -> None:
        """Close this thread's connection (after an error in its use)."""
        connection: Connection | None = getattr(self._local, "connection", None)
        self._local.connection = None
        if connection is None:
            return
        with self._lock:
            self._open.pop(threading.current_thread(), None)
        connection.close()

    def close_all(self) -> None:
        with self._lock:
            connections = list(self._open.values())
            self._open.clear()
        for connection in connections:
            connection.close()
