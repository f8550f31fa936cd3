"""/healthz and /readyz: no credentials, nothing revealed, no failed logins; /readyz follows the
database, the data dir and the free disk space."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace

import pytest
import requests
from sqlalchemy import create_engine

from davfiles.app import create_services
from davfiles.config import Settings
from davfiles.db.engine import Database
from davfiles.health import ReadinessCheck
from tests.harness import LiveServer


def audit_events(server: LiveServer) -> list[str]:
    log = server.services.settings.effective_audit_log
    return (
        [json.loads(line)["event"] for line in log.read_text().splitlines()] if log.exists() else []
    )


def test_healthz_and_readyz_without_credentials(live_server: LiveServer) -> None:
    for path in ("/healthz", "/readyz"):
        response = requests.get(live_server.url(path), timeout=30)
        assert (response.status_code, response.text) == (200, "ok\n")
        assert response.headers["Content-Type"] == "text/plain; charset=utf-8"
        assert response.headers["Cache-Control"] == "no-store"
        head = requests.head(live_server.url(path), timeout=30)
        assert (head.status_code, head.content, head.headers["Content-Length"]) == (200, b"", "3")
        # Wrong credentials are not even looked at: no 401, no failed login.
        wrong = requests.get(live_server.url(path), auth=("nobody", "wrong"), timeout=30)
        assert wrong.status_code == 200
        refused = requests.post(live_server.url(path), data=b"x", timeout=30)
        assert (refused.status_code, refused.headers["Allow"]) == (405, "GET, HEAD")
    assert audit_events(live_server) == []
    # Only the exact paths: below them is the authenticated WebDAV/REST space as before.
    assert requests.get(live_server.url("/healthz/x"), timeout=30).status_code == 401


@pytest.fixture
def server_needing_more_disk(settings: Settings) -> Iterator[LiveServer]:
    services = create_services(replace(settings, ready_min_free_bytes=2**62))
    server = LiveServer(services)
    yield server
    server.stop()
    services.close()


def test_readyz_without_free_space_says_only_not_ready(
    server_needing_more_disk: LiveServer,
) -> None:
    response = requests.get(server_needing_more_disk.url("/readyz"), timeout=30)
    assert (response.status_code, response.text) == (503, "not ready\n")
    assert requests.get(server_needing_more_disk.url("/healthz"), timeout=30).status_code == 200


def test_readiness_problems(settings: Settings) -> None:
    services = create_services(settings)
    try:
        check = ReadinessCheck(services.db, settings.data_dir, 1)
        assert check.problem() is None
        staging = settings.data_dir / "tmp"
        staging.rename(settings.data_dir / "tmp-moved")
        staging.write_bytes(b"not a folder")
        problem = check.problem()
        assert problem is not None and problem.startswith("data dir not writable")
        staging.unlink()
        assert check.problem() is None
        assert list(staging.iterdir()) == []
    finally:
        services.close()
    nowhere = Database(create_engine("postgresql+psycopg://nobody@127.0.0.1:1/none"))
    try:
        problem = ReadinessCheck(nowhere, settings.data_dir, 1).problem()
        assert problem is not None and problem.startswith("database not reachable")
    finally:
        nowhere.dispose()
