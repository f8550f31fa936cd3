"""``davfiles backup`` and ``davfiles restore``: a whole deployment, taken while it serves.

A backup is a folder holding ``manifest.json``, the database (``database.sqlite3`` from
SQLite's online backup, or ``database.dump`` from ``pg_dump --format=custom``), ``users/``
with every home, ``trash/`` and ``versions/`` (what users deleted and replaced), and the
``jwt-secret`` file when the data dir has one. The manifest is
written last: a folder without one is an unfinished backup, and restore refuses it.

The records and the files must show one moment. Every write changes the disk inside its
database transaction (``store/disk_changes.py``), so the backup holds writers off briefly:
SQLite's write lock, or on PostgreSQL the writers' advisory lock taken exclusively
(``db/engine.py``). Meanwhile it takes the database snapshot and hard-links every file of
the homes into a folder in ``data_dir/tmp``: writers replace files by rename and never write
into one, so a link keeps the bytes of that moment at the cost of a directory entry. Then
writers go on, and the links are copied to the destination and removed.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from sqlalchemy import URL, Connection, Engine, inspect, make_url, text

from davfiles import __version__
from davfiles.config import Settings
from davfiles.db import schema
from davfiles.db.engine import WRITE_OPTION, WRITERS_LOCK, make_engine, writer_queue
from davfiles.errors import DavfilesError
from davfiles.instances import ServerLock

MANIFEST = "manifest.json"
DATABASE_FILES = {"sqlite": "database.sqlite3", "postgresql": "database.dump"}
SECRET = "jwt-secret"
# The areas beside the homes whose records are in the database (store/trash.py, versions.py).
KEPT_AREAS = ("trash", "versions")
# Longest wait for the PostgreSQL writers in flight; then the backup fails, never a writer.
WAIT_FOR_WRITERS = "30s"


class BackupError(DavfilesError):
    """A backup or restore that cannot be done as asked."""


@dataclass(frozen=True)
class Manifest:
    davfiles: str
    revision: str
    database: str
    users: int
    files: int
    created_at: float


@dataclass(frozen=True)
class _Moment:
    """What the backup saw while writers waited."""

    revision: str
    users: list[str]
    files: int


def backup(settings: Settings, destination: Path) -> Manifest:
    """Write a consistent backup of the deployment into ``destination`` (new or empty)."""
    if destination.exists() and any(destination.iterdir()):
        raise BackupError(f"{destination} is not empty")
    destination.mkdir(parents=True, exist_ok=True)
    staging = settings.data_dir / "tmp"
    staging.mkdir(parents=True, exist_ok=True)
    # A server starting meanwhile must not sweep the links as leftovers.
    server_lock = ServerLock(settings.data_dir)
    server_lock.share()
    links = Path(tempfile.mkdtemp(dir=staging, prefix="backup-"))
    engine = make_engine(settings.effective_database_url, threads=1)
    kind = engine.dialect.name
    try:
        database = destination / DATABASE_FILES[kind]
        if kind == "sqlite":
            moment = _sqlite_moment(engine, database, settings.data_dir, links)
        else:
            moment = _postgres_moment(engine, database, settings.data_dir, links)
        shutil.copytree(links, destination, symlinks=True, dirs_exist_ok=True)
    finally:
        shutil.rmtree(links, ignore_errors=True)
        engine.dispose()
        server_lock.close()
    if (settings.data_dir / SECRET).is_file():
        shutil.copy2(settings.data_dir / SECRET, destination / SECRET)
    manifest = Manifest(
        __version__, moment.revision, kind, len(moment.users), moment.files, time.time()
    )
    (destination / MANIFEST).write_text(json.dumps(asdict(manifest), indent=2) + "\n")
    return manifest


def _sqlite_moment(engine: Engine, database: Path, data_dir: Path, links: Path) -> _Moment:
    """Under the write lock (BEGIN IMMEDIATE) a second connection copies the database: the
    backup API refuses to read through the connection that holds the lock."""
    with writer_queue(engine), engine.connect() as connection:
        connection.execution_options(**{WRITE_OPTION: True})
        with connection.begin():
            moment = _link_homes(connection, data_dir, links)
            _sqlite_copy(_sqlite_path(engine), database)
    return moment


def _sqlite_copy(source: Path, target: Path) -> None:
    """SQLite's online backup: a consistent copy even while other connections write."""
    reading, writing = sqlite3.connect(source), sqlite3.connect(target)
    try:
        reading.backup(writing)
    finally:
        writing.close()
        reading.close()


def _sqlite_path(engine: Engine) -> Path:
    path = make_url(engine.url).database
    assert path, "davfiles keeps SQLite in a file"
    return Path(path)


def _postgres_moment(engine: Engine, database: Path, data_dir: Path, links: Path) -> _Moment:
    """With writers held off, a repeatable-read transaction exports its snapshot; pg_dump
    dumps that snapshot after writers went on."""
    with engine.connect() as writers, engine.connect() as reader:
        with writers.begin():
            writers.execute(text(f"SET LOCAL lock_timeout = '{WAIT_FOR_WRITERS}'"))
            writers.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": WRITERS_LOCK})
            reader.execution_options(isolation_level="REPEATABLE READ")
            snapshot = reader.scalar(text("SELECT pg_export_snapshot()"))
            moment = _link_homes(reader, data_dir, links)
        _run(
            "pg_dump",
            "--format=custom",
            f"--snapshot={snapshot}",
            f"--file={database}",
            url=engine.url,
        )
        reader.rollback()
    return moment


def _link_homes(connection: Connection, data_dir: Path, links: Path) -> _Moment:
    """Hard-link the homes of the users the database holds (a home being created or removed
    at this moment belongs to no user and is left out), and the trash and versions areas."""
    names = list(connection.scalars(text("SELECT name FROM users")))
    files = sum(_link_tree(data_dir / "users" / name, links / "users" / name) for name in names)
    for area in KEPT_AREAS:
        _link_tree(data_dir / area, links / area)
    revision = schema.revision_of(connection) or "none"
    return _Moment(revision, names, files)


def _link_tree(source: Path, target: Path) -> int:
    """Hard-link every file below ``source`` into ``target``; answer how many."""
    files = 0
    for folder, _subfolders, entries in os.walk(source):
        linked = target / Path(folder).relative_to(source)
        linked.mkdir(parents=True, exist_ok=True)
        for entry in entries:
            os.link(Path(folder) / entry, linked / entry, follow_symlinks=False)
        files += len(entries)
    return files


def restore(settings: Settings, source: Path) -> Manifest:
    """Put a backup into an empty data dir and an empty database."""
    manifest = read_manifest(source)
    users_dir = settings.data_dir / "users"
    if users_dir.is_dir() and any(users_dir.iterdir()):
        raise BackupError(f"{users_dir} is not empty: restore into an empty data dir")
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.effective_database_url, threads=1)
    try:
        kind = engine.dialect.name
        if kind != manifest.database:
            raise BackupError(
                f"the backup holds a {manifest.database} database, database_url is {kind}"
            )
        if inspect(engine).get_table_names():
            raise BackupError("the database is not empty: restore into an empty one")
        database = source / DATABASE_FILES[kind]
        if kind == "sqlite":
            engine.dispose()
            _sqlite_copy(database, _sqlite_path(engine))
        else:
            _run(
                "pg_restore",
                "--no-owner",
                "--no-privileges",
                "--exit-on-error",
                str(database),
                url=engine.url,
            )
    finally:
        engine.dispose()
    shutil.copytree(source / "users", users_dir, symlinks=True, dirs_exist_ok=True)
    for area in KEPT_AREAS:
        if (source / area).is_dir():  # backups made before trash and versions have none
            shutil.copytree(
                source / area, settings.data_dir / area, symlinks=True, dirs_exist_ok=True
            )
    if (source / SECRET).is_file():
        shutil.copy2(source / SECRET, settings.data_dir / SECRET)
    return manifest


def read_manifest(source: Path) -> Manifest:
    try:
        return Manifest(**json.loads((source / MANIFEST).read_text()))
    except FileNotFoundError as exc:
        raise BackupError(f"{source} holds no davfiles backup ({MANIFEST} missing)") from exc
    except (ValueError, TypeError) as exc:
        raise BackupError(f"{source / MANIFEST} is damaged: {exc}") from exc


def _run(program: str, *args: str, url: URL) -> None:
    """Run a PostgreSQL client program on the database at ``url``; the password goes in the
    environment, not on a command line other users can read."""
    if shutil.which(program) is None:
        raise BackupError(f"{program} not found: install the PostgreSQL client (postgresql-client)")
    environment = dict(os.environ)
    if url.password is not None:
        environment["PGPASSWORD"] = str(url.password)
    address = url.set(drivername="postgresql", password=None).render_as_string(hide_password=False)
    result = subprocess.run(
        [program, *args, f"--dbname={address}"],
        capture_output=True,
        text=True,
        env=environment,
        check=False,
    )
    if result.returncode != 0:
        reason = (result.stderr.strip().splitlines() or ["failed"])[0]
        raise BackupError(f"{program}: {reason}")
