"""Guarantee 7, bounded resources per connection: slow or idle clients cost a socket, not a
thread; request heads have a total deadline and a size; TRACE is off; many ranges are ignored.

The live server has 16 request threads, so each crowd below (200 connections) is more than
twelve times what cheroot alone could hold without delaying everyone else.
"""

from __future__ import annotations

import dataclasses
import re
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests

from bench.slow_clients import connect_all
from davfiles.app import create_app, create_services
from davfiles.config import ConfigError, Settings, load_settings
from davfiles.server import connection_limits, make_server
from tests.harness import TEST_WORKERS, LiveServer, TestUser
from tests.security.rawhttp import basic, raw_request
from tests.test_tls import self_signed

HEAD_TIMEOUT = 2.0
CROWD = 200
# A normal request must be answered completely within this many seconds while a crowd waits.
PROMPT = 2.0
# Time allowed past a deadline for the server's sweep and the loopback.
SLACK = 3.0
BODY = b"probe body\n"


@pytest.fixture
def settings(tmp_path: Path, database_url: str | None) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        database_url=database_url,
        header_timeout=HEAD_TIMEOUT,
        idle_timeout=HEAD_TIMEOUT,
    )


def probe_user(server: LiveServer) -> TestUser:
    """A user with the file /dav/probe.txt holding BODY."""
    user = server.add_user("alice", "alice-pw")
    response = server.session(user).put(server.url("/dav/probe.txt"), data=BODY)
    assert response.status_code == 201
    return user


@pytest.fixture
def alice(live_server: LiveServer) -> TestUser:
    return probe_user(live_server)


def get_request(user: TestUser, target: bytes = b"/dav/probe.txt", close: bool = True) -> bytes:
    connection = b"Connection: close\r\n" if close else b""
    return (
        b"GET " + target + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Authorization: " + basic(user).encode() + b"\r\n" + connection + b"\r\n"
    )


def receive(connection: socket.socket, seconds: float, until: bytes | None = None) -> bytes:
    """What arrives within ``seconds`` in total, until EOF (or until ``until`` was received)."""
    deadline = time.monotonic() + seconds
    data = b""
    for _ in range(10_000):
        remaining = deadline - time.monotonic()
        if remaining <= 0 or (until is not None and until in data):
            break
        connection.settimeout(remaining)
        try:
            chunk = connection.recv(65536)
        except TimeoutError:
            break
        except ConnectionResetError:
            return data + b"<reset>"
        if not chunk:
            return data + b"<eof>"
        data += chunk
    return data


def prompt_get(port: int, user: TestUser) -> bytes:
    """The whole answer to an authenticated GET, as far as it arrived within PROMPT seconds."""
    with socket.create_connection(("127.0.0.1", port), timeout=PROMPT) as connection:
        connection.sendall(get_request(user))
        return receive(connection, PROMPT)


def assert_prompt(port: int, user: TestUser) -> None:
    response = prompt_get(port, user)
    assert response.startswith(b"HTTP/1.1 200 "), response[:200]
    assert response.endswith(BODY + b"<eof>")


@contextmanager
def crowd(port: int, first: bytes = b"", count: int = CROWD) -> Iterator[list[socket.socket]]:
    connections: list[socket.socket] = []
    try:
        connections = connect_all(port, count, first)
        yield connections
    finally:
        for connection in connections:
            connection.close()


def test_idle_connections_do_not_delay_a_request(live_server: LiveServer, alice: TestUser) -> None:
    with crowd(live_server.port) as idle:
        assert_prompt(live_server.port, alice)
        # Connections that never send a request are closed quietly at the header deadline.
        for connection in idle:
            assert receive(connection, HEAD_TIMEOUT + SLACK) == b"<eof>"


def test_half_request_lines_do_not_delay_a_request(
    live_server: LiveServer, alice: TestUser
) -> None:
    with crowd(live_server.port, b"GET /dav/probe.txt HT") as halves:
        assert_prompt(live_server.port, alice)
        for connection in halves:
            answer = receive(connection, HEAD_TIMEOUT + SLACK)
            assert answer.startswith(b"HTTP/1.1 408 Request Timeout\r\n"), answer[:100]
            assert answer.endswith(b"<eof>")


def test_trickled_headers_are_cut_off_at_the_total_deadline(
    live_server: LiveServer, alice: TestUser
) -> None:
    first = b"GET /dav/probe.txt HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    with crowd(live_server.port, first) as slow:
        # A header line every 0.25 s on each connection, for the deadline and one second more:
        # a per-read timeout would never fire.
        rounds = int((HEAD_TIMEOUT + 1) / 0.25)
        for number in range(rounds):
            for connection in slow:
                try:
                    connection.sendall(f"X-Trickle-{number}: a\r\n".encode())
                except OSError:
                    pass
            if number == 1:
                assert_prompt(live_server.port, alice)
            time.sleep(0.25)
        for connection in slow:
            answer = receive(connection, SLACK)
            assert answer.startswith(b"HTTP/1.1 408 Request Timeout\r\n"), answer[:100]


def test_kept_alive_connection_closes_after_the_idle_timeout(
    live_server: LiveServer, alice: TestUser
) -> None:
    with socket.create_connection(("127.0.0.1", live_server.port), timeout=10) as connection:
        connection.sendall(get_request(alice, close=False))
        first = receive(connection, 5, until=BODY)
        assert first.startswith(b"HTTP/1.1 200 ") and first.endswith(BODY)
        assert b"Connection: close" not in first
        assert receive(connection, HEAD_TIMEOUT + SLACK) == b"<eof>"


def test_pipelined_requests_are_answered_in_order(live_server: LiveServer, alice: TestUser) -> None:
    with socket.create_connection(("127.0.0.1", live_server.port), timeout=10) as connection:
        connection.sendall(
            get_request(alice, close=False)
            + get_request(alice, b"/dav/missing.txt", close=False)
            + get_request(alice)
        )
        answer = receive(connection, 10)
    assert re.findall(rb"HTTP/1\.1 (\d{3}) ", answer) == [b"200", b"404", b"200"]
    assert answer.endswith(BODY + b"<eof>")


def test_a_pipelined_half_request_is_timed_out(live_server: LiveServer, alice: TestUser) -> None:
    with socket.create_connection(("127.0.0.1", live_server.port), timeout=10) as connection:
        connection.sendall(get_request(alice, close=False) + b"GET /dav/probe.txt HTTP/1.1\r\nHo")
        answer = receive(connection, HEAD_TIMEOUT + SLACK + 5)
    assert answer.startswith(b"HTTP/1.1 200 ")
    assert b"HTTP/1.1 408 Request Timeout\r\n" in answer and answer.endswith(b"<eof>")


def test_request_heads_are_limited_in_size_and_fields(
    live_server: LiveServer, alice: TestUser
) -> None:
    auth = {"Authorization": basic(alice)}
    status, response = raw_request(live_server.port, "GET", b"/dav/probe.txt", auth)
    assert status == 200
    big = {**auth, "X-Big": "a" * 70_000}
    status, response = raw_request(live_server.port, "GET", b"/dav/probe.txt", big)
    assert status == 431
    assert response.endswith(b"\r\n\r\nThe request head is larger than 65536 bytes.\n")
    assert b"Content-Type: text/plain" in response
    large = {**auth, "X-Large": "a" * 60_000}
    assert raw_request(live_server.port, "GET", b"/dav/probe.txt", large)[0] == 200
    # raw_request sends Host and Connection: with Authorization, 97 more make 100.
    hundred = {**auth, **{f"X-Field-{n}": "x" for n in range(97)}}
    assert raw_request(live_server.port, "GET", b"/dav/probe.txt", hundred)[0] == 200
    too_many = {**hundred, "X-One-More": "x"}
    status, response = raw_request(live_server.port, "GET", b"/dav/probe.txt", too_many)
    assert status == 431
    assert response.endswith(b"The request has more than 100 header fields.\n")
    status, response = raw_request(live_server.port, "GET", b"/dav/" + b"a" * 70_000, auth)
    assert status == 414


@pytest.mark.skipif(TEST_WORKERS > 1, reason="max_connections counts per server process")
def test_connections_above_the_limit_get_503(settings: Settings) -> None:
    services = create_services(dataclasses.replace(settings, max_connections=20))
    server = LiveServer(services)
    try:
        alice = probe_user(server)
        with crowd(server.port, count=20):
            with socket.create_connection(("127.0.0.1", server.port), timeout=10) as extra:
                answer = receive(extra, 5)
            assert answer.startswith(b"HTTP/1.1 503 Service Unavailable\r\n")
            assert answer.endswith(b"Too many connections.\n<eof>")
        # Once the crowd left, there is room again (the server notices closes asynchronously).
        for _ in range(50):
            if prompt_get(server.port, alice).startswith(b"HTTP/1.1 200 "):
                break
            time.sleep(0.1)
        assert_prompt(server.port, alice)
    finally:
        server.stop()
        services.close()


def test_trace_is_refused_without_echo(live_server: LiveServer, alice: TestUser) -> None:
    headers = {"Authorization": basic(alice), "X-Echo-Marker": "marker-5f3a"}
    for target in (b"/dav/", b"/dav/probe.txt", b"/api/files", b"/remote.php/webdav/"):
        status, response = raw_request(live_server.port, "TRACE", target, headers)
        assert status == 405, target
        assert b"marker-5f3a" not in response
    status, response = raw_request(live_server.port, "TRACE", b"/public/1", headers)
    assert status == 404 and b"marker-5f3a" not in response


def test_many_ranges_get_the_whole_body(live_server: LiveServer, alice: TestUser) -> None:
    body = bytes(range(256)) * 40
    session = live_server.session(alice)
    assert session.put(live_server.url("/dav/ranges.bin"), data=body).status_code == 201
    store = live_server.services.store
    info = next(f for f in store.list_files(alice.owner) if f.name == "ranges.bin")
    store.set_public(alice.owner, info.id, True)
    many = "bytes=" + ",".join(f"{2 * n}-{2 * n}" for n in range(200))
    overlapping = "bytes=" + ",".join("0-9999" for _ in range(200))
    for url, get in (
        (live_server.url("/dav/ranges.bin"), session.get),
        (live_server.url(f"/public/{info.id}"), requests.get),
    ):
        for ranges in (many, overlapping):
            response = get(url, headers={"Range": ranges})
            assert (response.status_code, response.content) == (200, body), url
        one = get(url, headers={"Range": "bytes=10-19"})
        assert (one.status_code, one.content) == (206, body[10:20]), url


def test_tls_handshakes_do_not_hold_threads(tmp_path: Path, settings: Settings) -> None:
    cert, key = self_signed(tmp_path)
    services = create_services(settings)
    services.accounts.add_user("bob", "bob-pw", max_bytes=None, max_files=None)
    server = make_server(
        create_app(services),
        "127.0.0.1",
        0,
        threads=4,
        certfile=str(cert),
        keyfile=str(key),
        limits=connection_limits(settings),
    )
    server.prepare()
    thread = threading.Thread(target=server.serve, daemon=True)
    thread.start()
    port = server.bind_addr[1]
    try:
        # No handshake at all, and half a ClientHello.
        with crowd(port, count=50) as silent, crowd(port, b"\x16\x03\x01\x02\x00", count=50):
            started = time.monotonic()
            response = requests.request(
                "PROPFIND",
                f"https://127.0.0.1:{port}/dav/",
                headers={"Depth": "0"},
                auth=("bob", "bob-pw"),
                verify=str(cert),
                timeout=PROMPT,
            )
            assert response.status_code == 207
            assert time.monotonic() - started < PROMPT
            assert receive(silent[0], HEAD_TIMEOUT + SLACK) == b"<eof>"
        status, answer = raw_request(port, "GET", b"/dav/")
        assert status == 400
        assert answer.endswith(b"This server speaks only HTTPS on this port.\n")
    finally:
        server.stop()
        thread.join(timeout=10)
        services.close()


def test_make_server_sets_reuse_port(settings: Settings) -> None:
    services = create_services(settings)
    # cheroot refuses SO_REUSEPORT on port 0, so take a port that was free a moment ago.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    first = make_server(create_app(services), "127.0.0.1", port, threads=1, reuse_port=True)
    first.prepare()
    try:
        assert first.socket.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT) == 1
        second = make_server(create_app(services), "127.0.0.1", port, threads=1, reuse_port=True)
        second.prepare()
        assert second.bind_addr[1] == port
        second.stop()
    finally:
        first.stop()
        services.close()


def test_connection_options_are_checked(tmp_path: Path) -> None:
    environ = {"DAVFILES_MAX_HEADER_BYTES": "32K", "DAVFILES_HEADER_TIMEOUT": "2.5"}
    settings = load_settings(environ=environ)
    limits = connection_limits(settings)
    assert (limits.max_header_bytes, limits.header_timeout) == (32 * 1024, 2.5)
    for name, value in (
        ("DAVFILES_HEADER_TIMEOUT", "0"),
        ("DAVFILES_IDLE_TIMEOUT", "soon"),
        ("DAVFILES_MAX_HEADER_BYTES", "unlimited"),
        ("DAVFILES_MAX_HEADER_FIELDS", "0"),
        ("DAVFILES_MAX_CONNECTIONS", "-5"),
    ):
        with pytest.raises(ConfigError, match=name):
            load_settings(environ={name: value})
