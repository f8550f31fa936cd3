"""The schema's version: Alembic revisions shipped in the package, checked at every start.

A new database is created at the newest revision (``create_all`` and a stamp: 10 ms against 17 ms
for running every revision on SQLite, and the test suite creates hundreds). A database made
before davfiles had migrations (its tables exist, ``alembic_version`` does not) is the
baseline revision. Any other database must already be at the newest revision: the server
refuses to start on one that is behind and names the command that upgrades it, so an upgrade
is always a deliberate step taken after a backup, never a side effect of a restart while an
older server still uses the database.

Checking an up-to-date database needs no Alembic: the revisions are numbered files in one line
(``make revision`` writes the next number), so the newest is the highest file name, and the
recorded one is a row of ``alembic_version``. Alembic (about 11 MiB with Mako) is imported only
to create, stamp or upgrade, never by a serving worker.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine, inspect, text

from davfiles import __version__
from davfiles.db.engine import WRITE_OPTION, sqlite_file, writer_queue
from davfiles.db.models import Base
from davfiles.db.wal_sync import WalSync
from davfiles.errors import DavfilesError

if TYPE_CHECKING:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

MIGRATIONS = "davfiles.db:migrations"
# A revision's file: its four-digit id, then its slug (``file_template`` below).
_REVISION_FILE = re.compile(r"(\d{4})_\w+\.py")
# The schema of the last release made without migrations (davfiles 0.1.0).
BASELINE = "0001"
# PostgreSQL advisory lock held while the schema is created or upgraded.
_SCHEMA_LOCK = 0x64617601


class SchemaOutOfDate(DavfilesError):
    """The database is at another revision than this davfiles needs."""


@dataclass(frozen=True)
class SchemaState:
    current: str | None
    head: str

    @property
    def up_to_date(self) -> bool:
        return self.current == self.head


def alembic_config(connection: Connection | None = None) -> Config:
    """The configuration ``migrations/env.py`` runs with; no alembic.ini anywhere."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", MIGRATIONS)
    config.set_main_option("file_template", "%%(rev)s_%%(slug)s")
    config.attributes["connection"] = connection
    return config


@cache
def scripts() -> ScriptDirectory:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config())


@cache
def _revisions() -> tuple[str, ...]:
    """The ids of the shipped revisions, oldest first, read from their file names."""
    versions = resources.files("davfiles.db.migrations") / "versions"
    found = (_REVISION_FILE.fullmatch(entry.name) for entry in versions.iterdir())
    return tuple(sorted(match.group(1) for match in found if match))


def head() -> str:
    revisions = _revisions()
    assert revisions, "the package ships no migrations"
    return revisions[-1]


def prepare(engine: Engine) -> None:
    """Make a new database at the head revision, recognise a pre-migration one as the
    baseline, then refuse any database that is not at the head revision.

    Raises SchemaOutOfDate with one line that says what to do.
    """
    with engine.connect() as connection:
        current = revision_of(connection)
    if current is None:
        with locked(engine) as connection:
            _adopt(connection)
            current = revision_of(connection)
    check(SchemaState(current, head()))


def check(state: SchemaState) -> None:
    if state.up_to_date:
        return
    if state.current is not None and state.current not in _known():
        raise SchemaOutOfDate(
            f"the database is at schema revision {state.current}, which this davfiles "
            f"{__version__} does not know (a newer davfiles upgraded it): install that version"
        )
    raise SchemaOutOfDate(
        f"the database is at schema revision {state.current}, this davfiles needs "
        f"{state.head}: back it up (`davfiles backup DIR`), then run `davfiles db upgrade`"
    )


def state(engine: Engine) -> SchemaState:
    """The database's revision (None before davfiles first touched it) and the newest one."""
    with engine.connect() as connection:
        return SchemaState(revision_of(connection), head())


def upgrade(engine: Engine, target: str = "head", *, create: bool = True) -> tuple[str | None, str]:
    """Bring the database to ``target`` under the schema lock; returns (before, after).

    A pre-migration database is adopted as the baseline first. An empty one is created
    (``create``, for the head only) or built by running every revision.
    """
    with locked(engine) as connection:
        before = revision_of(connection)
        if before is None:
            _adopt(connection, create=create and target == "head")
        from alembic import command

        command.upgrade(alembic_config(connection), target)
        after = revision_of(connection)
    assert after is not None
    return before, after


@contextmanager
def locked(engine: Engine) -> Iterator[Connection]:
    """A transaction no other schema change or (on SQLite) write can run beside.

    On SQLite foreign keys are off meanwhile: a revision that rebuilds a table ("batch" mode)
    drops the old copy, and with foreign keys on that drop would cascade into every row that
    points at it. ``PRAGMA foreign_key_check`` then confirms nothing was left dangling.
    """
    sqlite = engine.dialect.name == "sqlite"
    with writer_queue(engine), engine.connect() as connection:
        if sqlite:
            connection.connection.driver_connection.execute("PRAGMA foreign_keys=OFF")
        try:
            connection.execution_options(**{WRITE_OPTION: True})
            with connection.begin():
                if not sqlite:
                    connection.execute(
                        text("SELECT pg_advisory_xact_lock(:key)"), {"key": _SCHEMA_LOCK}
                    )
                yield connection
                if sqlite:
                    _check_foreign_keys(connection)
        finally:
            if sqlite:
                connection.connection.driver_connection.execute("PRAGMA foreign_keys=ON")
    database = sqlite_file(engine)
    if database is not None:
        # Its commit wrote the log unsynced, as every commit (wal_sync.py).
        WalSync(database).sync()


def _check_foreign_keys(connection: Connection) -> None:
    dangling = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
    if dangling:
        raise SchemaOutOfDate(f"the upgrade left {len(dangling)} rows pointing nowhere: undone")


def _adopt(connection: Connection, *, create: bool = True) -> None:
    """A database without a revision: an empty one gets the schema, one made before
    migrations existed is the baseline."""
    if revision_of(connection) is not None:
        return
    if inspect(connection).has_table("users"):
        _stamp(connection, BASELINE)
    elif create:
        Base.metadata.create_all(connection)
        _stamp(connection, "head")


def _stamp(connection: Connection, revision: str) -> None:
    """Record ``revision`` without running anything (and without loading env.py)."""
    from alembic.runtime.migration import MigrationContext

    MigrationContext.configure(connection).stamp(scripts(), revision)


def revision_of(connection: Connection) -> str | None:
    """The revision recorded in the database; None before davfiles first stamped it."""
    if not inspect(connection).has_table("alembic_version"):
        return None
    rows = connection.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    if len(rows) > 1:
        raise SchemaOutOfDate(f"the database records several schema revisions: {sorted(rows)}")
    return rows[0] if rows else None


def _known() -> set[str]:
    return set(_revisions())
