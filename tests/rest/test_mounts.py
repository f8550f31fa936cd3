"""The mount table: dialects can move or be disabled; a collision is refused at start-up."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from davfiles.app import create_app, create_services
from davfiles.config import DialectMount, Settings
from davfiles.errors import ConfigError
from davfiles.rest.mounts import patterns_overlap
from tests.harness import LiveServer


@pytest.mark.parametrize(
    ("first", "second", "overlap"),
    [
        ("/api/files", "/api/files/", True),
        ("/api/files/<dir>", "/api/files/<int:file_id>", True),
        ("/api/files/<dir>/<file>", "/api/files/<id>", False),
        ("/1/file/<path:path>", "/1/file/a/b/c", True),
        ("/1/file/<path:path>", "/1/file", False),
        ("/dav/<path:rest>", "/dav/api/files", True),
        ("/defdrive/api/files", "/api/files", False),
        ("/x/<path:p>/end", "/x/<a>/<path:q>", True),
    ],
)
def test_patterns_overlap(first: str, second: str, overlap: bool) -> None:
    assert patterns_overlap(first, second) is overlap
    assert patterns_overlap(second, first) is overlap


def test_colliding_dialects_are_refused_naming_both(settings: Settings) -> None:
    clash = dataclasses.replace(settings, dialects={"molgenis": DialectMount(prefix="")})
    services = create_services(clash)
    try:
        with pytest.raises(ConfigError) as refused:
            create_app(services)
    finally:
        services.close()
    message = str(refused.value)
    assert "aptly" in message and "molgenis" in message


def test_a_dialect_under_dav_is_refused(settings: Settings) -> None:
    clash = dataclasses.replace(settings, dialects={"aptly": DialectMount(prefix="/dav")})
    services = create_services(clash)
    try:
        with pytest.raises(ConfigError, match="WebDAV"):
            create_app(services)
    finally:
        services.close()


def test_serve_refuses_a_colliding_config_with_one_line(tmp_path: Path) -> None:
    config = tmp_path / "clash.yaml"
    config.write_text("davfiles:\n  dialects:\n    molgenis: {prefix: ''}\n")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "davfiles",
            "serve",
            "--config",
            str(config),
            "--data-dir",
            str(tmp_path / "data"),
            "--port",
            "0",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "collision" in lines[0], result.stderr


def test_moved_and_disabled_dialects(settings: Settings) -> None:
    moved = dataclasses.replace(
        settings,
        dialects={"okeanos": DialectMount(prefix="/ok"), "aptly": DialectMount(enabled=False)},
    )
    services = create_services(moved)
    server = LiveServer(services)
    try:
        user = server.add_user("alice", "pw")
        assert requests.get(server.url("/ok/backend/user_files"), auth=user.auth).status_code == 200
        assert requests.get(server.url("/backend/user_files"), auth=user.auth).status_code == 404
        assert requests.get(server.url("/api/files"), auth=user.auth).status_code == 404
        assert "/ok/backend/user_files" in requests.get(server.url("/openapi.json")).json()["paths"]
    finally:
        server.stop()
        services.close()


def test_unknown_dialect_name_is_refused(settings: Settings) -> None:
    services = create_services(dataclasses.replace(settings, dialects={"ftp": DialectMount()}))
    try:
        with pytest.raises(ConfigError, match="unknown dialect"):
            create_app(services)
    finally:
        services.close()
