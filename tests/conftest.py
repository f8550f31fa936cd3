"""Fixtures: settings on a temporary data dir, services, and live servers on free ports."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from davfiles.app import Services, create_services
from davfiles.config import Settings
from tests.harness import LiveServer

POSTGRES_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--postgres",
        action="store_true",
        help="run the store and server tests on a fresh PostgreSQL database instead of SQLite",
    )


@pytest.fixture
def database_url(request: pytest.FixtureRequest) -> Iterator[str | None]:
    """None (SQLite in the data dir) unless --postgres, then a throw-away database."""
    if not request.config.getoption("--postgres"):
        yield None
        return
    yield from postgres_database()


def postgres_database() -> Iterator[str]:
    name = f"davfiles_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def settings(tmp_path: Path, database_url: str | None) -> Settings:
    return Settings(data_dir=tmp_path / "data", database_url=database_url)


@pytest.fixture
def services(settings: Settings) -> Iterator[Services]:
    services = create_services(settings)
    yield services
    services.close()


@pytest.fixture
def uncapped_services(settings: Settings) -> Iterator[Services]:
    """Services without the per-user cap on uploads in progress, for quota races that need
    more uploads at once than the cap lets through."""
    services = create_services(replace(settings, max_uploads_per_user=0))
    yield services
    services.close()


@pytest.fixture
def live_server(services: Services) -> Iterator[LiveServer]:
    server = LiveServer(services)
    yield server
    server.stop()


@pytest.fixture
def in_process_server(services: Services) -> Iterator[LiveServer]:
    """A live server in this process, whose per-process counters the test can read."""
    server = LiveServer(services, in_process=True)
    yield server
    server.stop()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def new_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[], str]]:
    """A maker of empty databases, for tests that must hold on SQLite and PostgreSQL alike
    (schema upgrades, backups) whether or not the suite runs with --postgres."""
    if request.param == "sqlite":
        counter = iter(range(1000))
        yield lambda: f"sqlite:///{tmp_path / f'db{next(counter)}.sqlite3'}"
        return
    require_postgres()
    with ExitStack() as stack:
        yield lambda: stack.enter_context(contextmanager(postgres_database)())


def require_postgres() -> None:
    """Skip the test, saying why, when the PostgreSQL server is not reachable."""
    admin = create_engine(POSTGRES_ADMIN_URL)
    try:
        admin.connect().close()
    except OperationalError as exc:
        pytest.skip(f"PostgreSQL not reachable at 127.0.0.1:5432: {exc.orig}")
    finally:
        admin.dispose()
