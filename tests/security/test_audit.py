"""The audit log beyond logins: account and token changes, deletions, public toggles, quota.

Actions go through a live server over HTTP (from distinct loopback addresses, so the client
field is checked) and through the real ``davfiles`` command line on the same data dir.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from davfiles.config import Settings
from tests.harness import LiveServer
from tests.security.test_auth import basic, send

TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
KEYS = ["time", "event", "user", "client", "target"]


@pytest.fixture
def settings(tmp_path: Path, database_url: str | None) -> Settings:
    return Settings(data_dir=tmp_path / "data", database_url=database_url, signup_enabled=True)


def audit_events(server: LiveServer, *, skip_logins: bool = True) -> list[dict[str, object]]:
    """Every line, checked for format; login lines left out unless asked for."""
    text = server.services.settings.effective_audit_log.read_text(encoding="utf-8")
    lines = []
    for raw in text.splitlines():
        line = json.loads(raw)
        assert list(line) == KEYS, raw
        assert TIME.fullmatch(str(line["time"])), raw
        lines.append(line)
    return [line for line in lines if not (skip_logins and str(line["event"]).startswith("login."))]


def without_time(lines: list[dict[str, object]]) -> list[tuple[object, ...]]:
    return [(line["event"], line["user"], line["client"], line["target"]) for line in lines]


def davfiles_cli(data_dir: Path, *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "davfiles", *args, "--data-dir", str(data_dir)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return result.stdout


def test_command_line_account_and_token_changes(live_server: LiveServer) -> None:
    data_dir = live_server.services.settings.data_dir
    davfiles_cli(data_dir, "user", "add", "bob", "--password", "pw-1", "--max-bytes", "1M")
    davfiles_cli(data_dir, "user", "passwd", "bob", "--password", "pw-2")
    davfiles_cli(data_dir, "user", "set-quota", "bob", "--max-files", "7")
    token_id = re.search(r"created token (\d+)", davfiles_cli(data_dir, "token", "create", "bob"))
    assert token_id is not None
    davfiles_cli(data_dir, "token", "revoke", token_id.group(1))
    davfiles_cli(data_dir, "user", "delete", "bob")

    token = f"token {token_id.group(1)}"
    assert without_time(audit_events(live_server)) == [
        ("user.add", "bob", None, "max_bytes=1048576 max_files=unlimited"),
        ("user.password", "bob", None, None),
        ("user.quota", "bob", None, "max_bytes=1048576 max_files=7"),
        ("token.create", "bob", None, token),
        ("token.revoke", "bob", None, token),
        ("user.delete", "bob", None, None),
    ]
    text = live_server.services.settings.effective_audit_log.read_text()
    assert "pw-1" not in text and "pw-2" not in text


def test_http_deletions_public_toggles_and_signup(live_server: LiveServer) -> None:
    client = "127.0.0.9"
    signup = send(
        live_server,
        "/defdrive/api/signup",
        method="POST",
        source=client,
        headers={"Content-Type": "application/json"},
        body=json.dumps({"username": "carol", "password": "carol-pw"}).encode(),
    )
    assert signup.status == 200, signup.body
    auth = basic("carol:carol-pw")
    for path in ("/dav/a.txt", "/dav/b.txt"):
        put = send(live_server, path, auth, method="PUT", source=client, body=b"hello")
        assert put.status == 201
    assert send(live_server, "/dav/docs", auth, method="MKCOL", source=client).status == 201
    put = send(live_server, "/dav/docs/c.txt", auth, method="PUT", source=client, body=b"x")
    assert put.status == 201
    store = live_server.services.store
    owner = live_server.services.accounts.owner("carol")
    files = {info.name: info.id for info in store.list_files(owner)}

    on = b'{"public": true}'
    off = b'{"public": false}'
    for body in (on, off):
        toggled = send(
            live_server,
            f"/defdrive/api/files/{files['a.txt']}/access",
            auth,
            method="PUT",
            source=client,
            headers={"Content-Type": "application/json"},
            body=body,
        )
        assert toggled.status == 200, toggled.body
    removed = send(
        live_server,
        f"/backend/user_files?id={files['b.txt']}",
        auth,
        method="DELETE",
        source=client,
    )
    assert removed.status == 200, removed.body
    assert send(live_server, "/dav/docs", auth, method="DELETE", source=client).status == 204
    missing = send(live_server, "/dav/nothing.txt", auth, method="DELETE", source=client)
    assert missing.status == 404

    assert without_time(audit_events(live_server)) == [
        ("user.add", "carol", client, "max_bytes=unlimited max_files=unlimited"),
        ("file.public", "carol", client, "/a.txt"),
        ("file.private", "carol", client, "/a.txt"),
        ("file.delete", "carol", client, "/b.txt"),
        ("file.delete", "carol", client, "/docs"),
    ]


def test_quota_refusals_over_put_copy_rest_and_chunks(live_server: LiveServer) -> None:
    client = "127.0.0.10"
    user = live_server.add_user("dave", "dave-pw", max_bytes=1000, max_files=3)
    auth = basic("dave:dave-pw")
    assert send(live_server, "/dav/a.bin", auth, method="PUT", body=b"a" * 600).status == 201

    too_big = send(live_server, "/dav/b.bin", auth, method="PUT", source=client, body=b"b" * 500)
    assert too_big.status == 507
    copy = send(
        live_server,
        "/dav/a.bin",
        auth,
        method="COPY",
        source=client,
        headers={"Destination": live_server.url("/dav/copy.bin")},
    )
    assert copy.status == 507
    posted = send(
        live_server,
        "/molgenis/api/files",
        auth,
        method="POST",
        source=client,
        headers={"x-molgenis-filename": "m.bin"},
        body=b"m" * 500,
    )
    assert posted.status == 507, posted.body
    uploads = "/remote.php/dav/uploads/dave/up-1"
    made = send(live_server, uploads, auth, method="MKCOL", source=client)
    assert made.status == 201
    chunk = send(live_server, uploads + "/0001", auth, method="PUT", source=client, body=b"c" * 500)
    assert chunk.status == 507

    refusals = [line for line in audit_events(live_server) if line["event"] != "user.add"]
    assert [line["event"] for line in refusals] == ["quota.refused"] * 4
    assert {(line["user"], line["client"]) for line in refusals} == {("dave", client)}
    assert [line["target"] for line in refusals] == [
        "bytes quota exceeded: used 600, limit 1000, requested 500",
        "bytes quota exceeded: used 600, limit 1000, requested 600",
        "bytes quota exceeded: used 600, limit 1000, requested 500",
        "bytes quota exceeded: used 600, limit 1000, requested 500",
    ]
    assert live_server.services.store.usage(user.owner).used_bytes == 600


def test_file_count_refusal_names_the_file_limit(live_server: LiveServer) -> None:
    live_server.add_user("erin", "erin-pw", max_files=1)
    session = requests.Session()
    session.auth = ("erin", "erin-pw")
    assert session.put(live_server.url("/dav/1.txt"), data=b"1").status_code == 201
    assert session.put(live_server.url("/dav/2.txt"), data=b"2").status_code == 507
    assert without_time(audit_events(live_server)) == [
        ("user.add", "erin", None, "max_bytes=unlimited max_files=1"),
        (
            "quota.refused",
            "erin",
            "127.0.0.1",
            "files quota exceeded: used 1, limit 1, requested 1",
        ),
    ]
