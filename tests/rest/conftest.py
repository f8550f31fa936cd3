"""Fixtures for the REST dialect tests: a live server with a user and an API token."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from davfiles.app import Services
from tests.harness import LiveServer, TestUser
from tests.rest.openapi_check import ResponseRecorder, problems
from tests.shared_log import SharedLog


@dataclass
class RestUser:
    user: TestUser
    token: str
    server: LiveServer

    @property
    def basic(self) -> requests.Session:
        return self.server.session(self.user)

    def dav(self, path: str) -> str:
        return self.server.url("/dav/" + path.lstrip("/"))

    def api(self, method: str, path: str, status: int = 200, **kwargs: object) -> dict:
        """A call to davfiles' own JSON API (``/davfiles/api``), checked for ``status``; its
        answer's JSON."""
        answer = requests.request(
            method,
            self.server.url("/davfiles/api" + path),
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=30,
            **kwargs,  # type: ignore[arg-type]
        )
        assert answer.status_code == status, answer.text
        return answer.json()  # type: ignore[no-any-return]


def make_rest_user(server: LiveServer, name: str, **quota: int | None) -> RestUser:
    user = server.add_user(name, f"{name}-pw", **quota)
    _token_id, secret = server.services.accounts.create_token(name, "tests")
    return RestUser(user, secret, server)


@pytest.fixture
def alice(live_server: LiveServer) -> RestUser:
    return make_rest_user(live_server, "alice")


@pytest.fixture
def bob(live_server: LiveServer) -> RestUser:
    return make_rest_user(live_server, "bob")


@pytest.fixture
def live_server(services: Services, tmp_path: Path) -> Iterator[LiveServer]:
    """The live server, with every REST response checked against /openapi.json afterwards."""
    recorder = ResponseRecorder(SharedLog(tmp_path / "responses.jsonl"))
    server = LiveServer(services, wrap=recorder.wrap)
    try:
        yield server
        spec = requests.get(server.url("/openapi.json"), timeout=30).json()
    finally:
        server.stop()
    disagreements = problems(spec, recorder.exchanges())
    assert not disagreements, "responses disagree with /openapi.json:\n" + "\n".join(disagreements)
