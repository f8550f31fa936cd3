"""Prometheus metrics of `davfiles serve`: what moves for which request, who may read them,
and that several worker processes report one sum."""

from __future__ import annotations

import hashlib
import os
import signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
import requests
from prometheus_client.mmap_dict import MmapedDict

from davfiles.config import load_settings
from davfiles.errors import ConfigError
from davfiles.metrics import metrics_token_digest
from tests.harness import CliServer
from tests.metrics_server import metrics_url, scrape, serve, value

TOKEN = "metrics-token-0123456789"
REQUESTS = "davfiles_http_requests_total"
DEADLINE = 30.0


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CliServer]:
    """Metrics on their own port and behind a token on the main one."""
    served = serve(
        tmp_path_factory.mktemp("metrics"),
        {
            "metrics_listen": "127.0.0.1:0",
            "metrics_token": TOKEN,
            "login_failures_per_user": 2,
        },
        users={"alice": None, "tight": "1K", "victim": None},
    )
    yield served
    served.stop()


def _metrics(server: CliServer) -> dict:  # type: ignore[type-arg]
    return scrape(server.base + "/metrics", TOKEN)


def test_no_metrics_anywhere_unless_configured(tmp_path: Path) -> None:
    server = serve(tmp_path, {})
    try:
        unknown = requests.get(server.base + "/no-such-thing", timeout=30)
        metrics = requests.get(server.base + "/metrics", timeout=30)
        assert metrics.status_code == unknown.status_code
        assert "davfiles_" not in metrics.text
        assert "metrics on" not in server.output()
        assert not (tmp_path / "data" / "run").exists()
    finally:
        server.stop()


def test_the_token_opens_metrics_on_the_main_port(server: CliServer) -> None:
    url = server.base + "/metrics"
    without = requests.get(url, timeout=30)
    assert without.status_code == 401
    assert "davfiles_" not in without.text
    wrong = requests.get(url, headers={"Authorization": "Bearer not-the-token"}, timeout=30)
    assert wrong.status_code == 401
    basic = requests.get(url, auth=("alice", "pw-alice"), timeout=30)
    assert basic.status_code == 401
    right = requests.get(url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30)
    assert right.status_code == 200
    assert "# TYPE davfiles_http_requests_total counter" in right.text


def test_the_separate_listener_serves_without_credentials(server: CliServer) -> None:
    listener = metrics_url(server)
    assert listener.startswith("http://127.0.0.1:")
    assert not listener.startswith(server.base)
    before = scrape(listener)
    assert requests.get(server.base + "/dav/", auth=("alice", "pw-alice"), timeout=30).ok
    after = scrape(listener)
    labels = {"door": "webdav", "method": "GET", "status": "200"}
    assert value(after, REQUESTS, **labels) == value(before, REQUESTS, **labels) + 1


def test_each_door_counts_its_requests_and_bytes(server: CliServer) -> None:
    session = requests.Session()
    session.auth = ("alice", "pw-alice")
    body = os.urandom(5000)
    before = _metrics(server)
    put = session.put(server.base + "/dav/doors.bin", data=body)
    assert put.status_code == 201
    assert session.get(server.base + "/dav/doors.bin").content == body
    listing = session.request("PROPFIND", server.base + "/dav/", headers={"Depth": "1"})
    assert listing.status_code == 207
    assert session.get(server.base + "/api/files").status_code == 200
    assert requests.get(server.base + "/openapi.json", timeout=30).status_code == 200
    assert requests.get(server.base + "/status.php", timeout=30).status_code == 200
    after = _metrics(server)

    def moved(door: str, method: str, status: str) -> float:
        labels = {"door": door, "method": method, "status": status}
        return value(after, REQUESTS, **labels) - value(before, REQUESTS, **labels)

    # A PUT whose body came with its head takes the fast door, otherwise WsgiDAV's.
    assert moved("fast", "PUT", "201") + moved("webdav", "PUT", "201") == 1
    assert moved("fast", "GET", "200") == 1
    assert moved("webdav", "PROPFIND", "207") == 1
    assert moved("rest:aptly", "GET", "200") == 1
    assert moved("other", "GET", "200") == 2  # /openapi.json, and the first scrape itself
    assert moved("nextcloud", "GET", "200") == 1
    received = "davfiles_http_request_body_bytes_total"
    sent = "davfiles_http_response_body_bytes_total"
    assert (
        sum(
            value(after, received, door=door) - value(before, received, door=door)
            for door in ("fast", "webdav")
        )
        == 5000
    )
    assert sum(
        value(after, sent, door=door) - value(before, sent, door=door)
        for door in ("fast", "webdav")
    ) == len(put.content) + 5000 + len(listing.content)
    duration = "davfiles_http_request_duration_seconds_count"
    assert (
        value(after, duration, door="webdav", method="PROPFIND")
        - value(before, duration, door="webdav", method="PROPFIND")
        == 1
    )
    statements = "davfiles_db_statements_total"
    assert value(after, statements, door="fast") > value(before, statements, door="fast")
    assert value(after, "davfiles_db_seconds_total", door="fast") > value(
        before, "davfiles_db_seconds_total", door="fast"
    )


def test_a_quota_refusal_counts_once_per_refused_write(server: CliServer) -> None:
    before = _metrics(server)
    refused = requests.put(
        server.base + "/dav/big.bin", data=b"x" * 4096, auth=("tight", "pw-tight"), timeout=30
    )
    assert refused.status_code == 507
    upload = requests.post(
        server.base + "/api/files/up",
        files={"file": ("big.bin", b"y" * 4096)},
        auth=("tight", "pw-tight"),
        timeout=30,
    )
    assert upload.status_code >= 400
    after = _metrics(server)
    refusals = "davfiles_quota_refusals_total"
    assert value(after, refusals) - value(before, refusals) == 2


def test_failed_logins_and_throttled_ones_count(server: CliServer) -> None:
    """Wrong passwords until the name must wait (limit 2: 1 s, then 2, 4 ...), then more."""
    failures, throttled = "davfiles_login_failures_total", "davfiles_login_throttled_total"
    before = _metrics(server)
    statuses: list[int] = []
    while statuses.count(429) < 3 and len(statuses) < 12:
        answer = requests.get(server.base + "/dav/", auth=("victim", "wrong"), timeout=30)
        statuses.append(answer.status_code)
    assert statuses[:2] == [401, 401] and statuses.count(429) == 3, statuses
    after = _metrics(server)
    assert value(after, failures, via="password") - value(
        before, failures, via="password"
    ) == statuses.count(401)
    assert value(after, throttled, limit="user") - value(before, throttled, limit="user") == 3


def test_settings_are_checked_at_start() -> None:
    for environ, fragment in (
        ({"DAVFILES_METRICS_LISTEN": "9464"}, "host:port"),
        ({"DAVFILES_METRICS_LISTEN": "127.0.0.1:99999"}, "host:port"),
        ({"DAVFILES_METRICS_TOKEN": "short"}, "at least 16"),
        ({"DAVFILES_ACCESS_LOG_FORMAT": "xml"}, "common, json"),
    ):
        with pytest.raises(ConfigError, match=fragment):
            load_settings(environ=environ)
    digest = "sha256:" + hashlib.sha256(TOKEN.encode()).hexdigest()
    assert load_settings(environ={"DAVFILES_METRICS_TOKEN": digest}).metrics_token == digest
    listen = load_settings(environ={"DAVFILES_METRICS_LISTEN": "[::1]:0"})
    assert listen.metrics_listen == "[::1]:0"


def test_a_token_given_as_its_digest_opens_metrics(tmp_path: Path) -> None:
    digest = "sha256:" + hashlib.sha256(TOKEN.encode()).hexdigest()
    server = serve(tmp_path, {"metrics_token": digest})
    try:
        assert requests.get(server.base + "/metrics", timeout=30).status_code == 401
        assert REQUESTS in scrape(server.base + "/metrics", TOKEN).__repr__()
        wrong = requests.get(
            server.base + "/metrics", headers={"Authorization": f"Bearer {digest}"}, timeout=30
        )
        assert wrong.status_code == 401
    finally:
        server.stop()
    assert not list((tmp_path / "data" / "run").iterdir())


def _worker_pids(server: CliServer) -> list[int]:
    return [child.pid for child in psutil.Process(server.process.pid).children()]


def test_two_workers_report_one_sum(tmp_path: Path) -> None:
    server = serve(tmp_path, {"metrics_listen": "127.0.0.1:0"}, {"alice": None}, workers=2)
    try:
        listener = metrics_url(server)
        assert requests.put(
            server.base + "/dav/sum.txt", data=b"sum", auth=("alice", "pw-alice"), timeout=30
        ).ok
        before = scrape(listener)
        sent = 40
        for _ in range(sent):  # a connection each, so the kernel spreads them over both
            response = requests.get(
                server.base + "/dav/sum.txt", auth=("alice", "pw-alice"), timeout=30
            )
            assert response.status_code == 200
        after = scrape(listener)
        labels = {"door": "fast", "method": "GET", "status": "200"}
        assert value(after, REQUESTS, **labels) - value(before, REQUESTS, **labels) == sent
        folder = next((tmp_path / "data" / "run").iterdir())
        serving = set()
        for pid in _worker_pids(server):
            counts = MmapedDict.read_all_values_from_file(str(folder / f"counter_{pid}.db"))
            if any('"fast"' in key and value_ > 0 for key, value_, _, _ in counts):
                serving.add(pid)
        assert len(serving) == 2, "both workers served and are summed"
    finally:
        server.stop()
    assert not list((tmp_path / "data" / "run").iterdir()), "the metrics folder is removed"


def _start_upload(server: CliServer, length: int) -> socket.socket:
    """A PUT whose head and first bytes are sent, the rest held back."""
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=30)
    head = (
        f"PUT /dav/slow.bin HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {length}\r\n"
        "Authorization: Basic YWxpY2U6cHctYWxpY2U=\r\n\r\n"
    )
    sock.sendall(head.encode() + b"z" * 20_000)
    return sock


def _wait_for_gauge(url: str, expected: float) -> float:
    deadline = time.monotonic() + DEADLINE
    while True:
        current = value(scrape(url), "davfiles_uploads_in_progress")
        if current == expected or time.monotonic() > deadline:
            return current
        time.sleep(0.1)


def test_uploads_in_progress_follow_live_workers(tmp_path: Path) -> None:
    """The gauge counts an upload while it streams, and no longer once its worker died."""
    server = serve(
        tmp_path,
        {"metrics_listen": "127.0.0.1:0", "body_timeout": 120},
        {"alice": None},
        workers=2,
    )
    try:
        listener = metrics_url(server)
        finished = _start_upload(server, 30_000)
        assert _wait_for_gauge(listener, 1) == 1
        finished.sendall(b"z" * 10_000)
        assert finished.recv(100).startswith(b"HTTP/1.1 201")
        finished.close()
        assert _wait_for_gauge(listener, 0) == 0
        cut = _start_upload(server, 1_000_000)
        assert _wait_for_gauge(listener, 1) == 1
        port = cut.getsockname()[1]
        holder = next(
            pid
            for pid in _worker_pids(server)
            if any(c.raddr and c.raddr.port == port for c in psutil.Process(pid).net_connections())
        )
        os.kill(holder, signal.SIGKILL)
        assert _wait_for_gauge(listener, 0) == 0
        cut.close()
    finally:
        server.stop()


def test_a_token_that_only_looks_like_a_digest_is_the_token_itself() -> None:
    """The settings accept it as a token (16 characters or more); it must not crash start-up."""
    token = "sha256:my-long-passphrase"
    assert metrics_token_digest(token) == hashlib.sha256(token.encode()).digest()
    digest = hashlib.sha256(b"x").hexdigest()
    assert metrics_token_digest(f"sha256:{digest}") == bytes.fromhex(digest)
