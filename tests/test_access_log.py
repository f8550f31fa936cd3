"""The access log of `davfiles serve`: a line per request with the right fields, in either
format, from several worker processes, never with a secret in it."""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.harness import CliServer
from tests.metrics_server import serve

DEADLINE = 30.0
ISO_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
# client - user [time] "request" status bytes "referer" "user-agent" door bytes_in ms
COMMON = re.compile(
    r'^(\S+) - (\S+) \[(\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d \+0000)\] "([^"]*)" (\d{3}) (\d+) '
    r'"([^"]*)" "([^"]*)" (\S+) (\d+) (\d+\.\d{3})$'
)


@pytest.fixture(scope="module")
def json_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[CliServer, Path]]:
    folder = tmp_path_factory.mktemp("json-log")
    log = folder / "access.log"
    server = serve(
        folder,
        {"access_log": str(log), "access_log_format": "json"},
        users={"alice": None, "bob": None},
    )
    yield server, log
    server.stop()


def _lines(log: Path, marker: str) -> list[str]:
    return [line for line in log.read_text().splitlines() if marker in line]


def _wait_for_lines(log: Path, marker: str, count: int) -> list[str]:
    """A line is written once the answer ended, just after the client has it."""
    deadline = time.monotonic() + DEADLINE
    while True:
        lines = _lines(log, marker) if log.exists() else []
        if len(lines) >= count or time.monotonic() > deadline:
            return lines
        time.sleep(0.05)


def test_one_json_line_per_request_with_its_fields(json_server: tuple[CliServer, Path]) -> None:
    server, log = json_server
    marker = uuid.uuid4().hex
    alice = requests.Session()
    alice.auth = ("alice", "pw-alice")
    alice.headers["User-Agent"] = f'agent "{marker}"'
    body = b"a" * 3000
    assert alice.put(f"{server.base}/dav/{marker}.txt", data=body).status_code == 201
    assert alice.get(f"{server.base}/dav/{marker}.txt").content == body
    assert alice.request("PROPFIND", f"{server.base}/dav/", headers={"Depth": "0"}).ok
    assert alice.get(f"{server.base}/api/files/{marker}").status_code == 404
    refused = requests.get(
        f"{server.base}/dav/{marker}.txt",
        auth=("alice", "wrong"),
        headers={"User-Agent": marker},
        timeout=30,
    )
    assert refused.status_code == 401
    records = [json.loads(line) for line in _wait_for_lines(log, marker, 5)]
    assert [(r["method"], r["status"], r["door"]) for r in records] == [
        ("PUT", 201, records[0]["door"]),
        ("GET", 200, "fast"),
        ("PROPFIND", 207, "webdav"),
        ("GET", 404, "rest:aptly"),
        ("GET", 401, "webdav"),
    ]
    assert records[0]["door"] in ("fast", "webdav")
    for record in records:
        assert list(record) == [
            "time",
            "client",
            "user",
            "door",
            "method",
            "path",
            "protocol",
            "status",
            "bytes_in",
            "bytes_out",
            "duration_ms",
            "referer",
            "user_agent",
        ]
        assert ISO_TIME.match(record["time"])
        assert record["client"] == "127.0.0.1"
        assert record["protocol"] == "HTTP/1.1"
        assert record["duration_ms"] >= 0
    put, get, propfind, rest, refused_line = records
    assert [r["user"] for r in records] == ["alice", "alice", "alice", "alice", None]
    assert put["path"] == get["path"] == f"/dav/{marker}.txt"
    assert put["bytes_in"] == 3000
    assert (get["bytes_in"], get["bytes_out"]) == (0, 3000)
    assert propfind["bytes_out"] == len(
        alice.request("PROPFIND", f"{server.base}/dav/", headers={"Depth": "0"}).content
    )
    assert rest["path"] == f"/api/files/{marker}"
    assert put["user_agent"] == f'agent "{marker}"'
    assert refused_line["user_agent"] == marker


def test_no_secret_reaches_the_log(json_server: tuple[CliServer, Path]) -> None:
    server, log = json_server
    marker = uuid.uuid4().hex
    secrets = [f"querysecret{marker}", f"wrongpassword{marker}", f"bearer{marker}"]
    requests.get(
        f"{server.base}/dav/{marker}?token={secrets[0]}&x=1",
        auth=("alice", "pw-alice"),
        headers={"Referer": f"http://example.org/{marker}?key={secrets[0]}"},
        timeout=30,
    )
    requests.get(f"{server.base}/dav/{marker}", auth=("bob", secrets[1]), timeout=30)
    requests.get(
        f"{server.base}/api/files/{marker}",
        headers={"Authorization": f"Bearer {secrets[2]}"},
        timeout=30,
    )
    lines = _wait_for_lines(log, marker, 3)
    assert len(lines) == 3
    text = log.read_text()
    for secret in [*secrets, "pw-alice", "pw-bob"]:
        assert secret not in text
    first = json.loads(lines[0])
    assert first["path"] == f"/dav/{marker}"
    assert first["referer"] == f"http://example.org/{marker}"
    assert json.loads(lines[1])["user"] is None
    flow = requests.post(f"{server.base}/index.php/login/v2", timeout=30).json()
    login_url = flow["login"]
    token = login_url.rsplit("/", 1)[1]
    assert requests.get(login_url, headers={"Referer": login_url}, timeout=30).status_code == 200
    page_line = json.loads(_wait_for_lines(log, "/flow/", 1)[-1])
    assert token not in log.read_text()
    assert page_line["path"] == "/index.php/login/v2/flow/*"
    assert page_line["referer"] == f"{server.base}/index.php/login/v2/flow/*"


def test_the_common_format_escapes_what_could_forge_a_line(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    server = serve(tmp_path, {"access_log": str(log)}, users={"alice": None})
    try:
        marker = uuid.uuid4().hex
        name = f"{marker} it's ü"
        agent = f'{marker} "x" \\ \x7f'
        session = requests.Session()
        session.auth = ("alice", "pw-alice")
        session.headers["User-Agent"] = agent
        assert session.put(f"{server.base}/dav/{name}", data=b"12345").status_code == 201
        assert session.get(f"{server.base}/dav/{name}").content == b"12345"
        assert session.delete(f"{server.base}/dav/{name}").status_code == 204
        lines = _wait_for_lines(log, marker, 3)
        assert len(lines) == 3
        fields = [COMMON.match(line) for line in lines]
        assert all(fields), lines
        put, get, delete = (match.groups() for match in fields if match)
        encoded = f"/dav/{marker}%20it's%20%C3%BC"
        assert put[:2] == ("127.0.0.1", "alice")
        assert put[3] == f"PUT {encoded} HTTP/1.1"
        assert (put[4], put[9]) == ("201", "5")
        assert (get[3], get[4], get[5], get[8]) == (f"GET {encoded} HTTP/1.1", "200", "5", "fast")
        assert delete[3].startswith("DELETE ") and delete[4] == "204"
        assert put[7] == f"{marker} \\x22x\\x22 \\x5c \\x7f"
    finally:
        server.stop()


def test_several_workers_append_whole_lines_to_one_file(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    server = serve(
        tmp_path,
        {"access_log": str(log), "access_log_format": "json"},
        users={"alice": None},
        workers=2,
    )
    try:
        marker = uuid.uuid4().hex
        sent = 60
        for number in range(sent):  # a connection each: both workers serve some
            response = requests.get(
                f"{server.base}/dav/{marker}-{number}", auth=("alice", "pw-alice"), timeout=30
            )
            assert response.status_code == 404
        lines = _wait_for_lines(log, marker, sent)
        records = [json.loads(line) for line in lines]
        assert sorted(r["path"] for r in records) == sorted(
            f"/dav/{marker}-{number}" for number in range(sent)
        )
    finally:
        server.stop()


def test_a_rotated_file_is_reopened(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    server = serve(tmp_path, {"access_log": str(log)}, users={"alice": None})
    try:
        first = uuid.uuid4().hex
        requests.get(f"{server.base}/dav/{first}", auth=("alice", "pw-alice"), timeout=30)
        assert len(_wait_for_lines(log, first, 1)) == 1
        rotated = tmp_path / "access.log.1"
        log.rename(rotated)
        second = uuid.uuid4().hex
        deadline = time.monotonic() + DEADLINE
        while not log.exists() and time.monotonic() < deadline:
            # The file is looked at again at most once a second.
            requests.get(f"{server.base}/dav/{second}", auth=("alice", "pw-alice"), timeout=30)
            time.sleep(0.1)
        assert _lines(log, second), "new lines go to a new file"
        assert _lines(rotated, first)
    finally:
        server.stop()


def test_stderr_and_off(tmp_path: Path) -> None:
    server = serve(tmp_path / "stderr", {"access_log": "-"}, users={"alice": None})
    try:
        marker = uuid.uuid4().hex
        requests.get(f"{server.base}/dav/{marker}", auth=("alice", "pw-alice"), timeout=30)
        deadline = time.monotonic() + DEADLINE
        while marker not in server.output() and time.monotonic() < deadline:
            time.sleep(0.05)
        line = next(line for line in server.output().splitlines() if marker in line)
        assert COMMON.match(line)
    finally:
        server.stop()
    quiet = serve(tmp_path / "off", {"access_log": "off"}, users={"alice": None})
    try:
        marker = uuid.uuid4().hex
        requests.get(f"{quiet.base}/dav/{marker}", auth=("alice", "pw-alice"), timeout=30)
    finally:
        quiet.stop()
    assert marker not in quiet.output()
    assert not list((tmp_path / "off").rglob("access*"))


def test_behind_a_trusted_proxy_the_log_shows_the_outside(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    server = serve(
        tmp_path,
        {"access_log": str(log), "access_log_format": "json", "trusted_proxies": ["127.0.0.1"]},
        users={"alice": None},
    )
    try:
        marker = uuid.uuid4().hex
        response = requests.get(
            f"{server.base}/dav/{marker}",
            auth=("alice", "pw-alice"),
            headers={"X-Forwarded-For": "192.0.2.7", "X-Forwarded-Prefix": "/files"},
            timeout=30,
        )
        assert response.status_code == 404
        (line,) = _wait_for_lines(log, marker, 1)
        record = json.loads(line)
        assert (record["client"], record["path"]) == ("192.0.2.7", f"/files/dav/{marker}")
    finally:
        server.stop()
