"""HTTP framing and slow bodies, over raw sockets, at every door (issue 10).

A head whose framing is ambiguous (two lengths, Transfer-Encoding beside Content-Length, a
length beyond 64 bits, no or two Host fields, an unknown version, an absolute-form target) is
answered by the head gate, the same at every door, and the connection is closed: a request
pipelined behind it is never answered. A body slower than the minimum rate is 408, the
connection is closed and nothing of the upload stays (file, usage, upload slot).
"""

from __future__ import annotations

import re
import select
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import replace

import pytest

from davfiles.app import create_services
from davfiles.config import Settings, load_settings
from davfiles.connections import BODY_PRELOAD
from davfiles.store import ROOT
from tests.dav.helpers import propfind
from tests.harness import LiveServer, TestUser
from tests.security.rawhttp import basic, exchange, read_to_end, status_of
from tests.security.test_upload_cap import slots_taken

PASSWORD = "framing-pw"
# The doors a request can arrive at: three WebDAV mounts, the chunk area, one upload route of
# each REST dialect, and /public.
DOORS = [
    ("PUT", "/dav/f.txt"),
    ("PUT", "/remote.php/webdav/f.txt"),
    ("PUT", "/remote.php/dav/files/alice/f.txt"),
    ("PUT", "/remote.php/dav/uploads/alice/up/00001"),
    ("PUT", "/backend/upload_file/"),
    ("POST", "/api/files/dir"),
    ("PUT", "/1/file/f.txt"),
    ("POST", "/defdrive/api/upload"),
    ("POST", "/molgenis/api/files"),
    ("GET", "/public/1"),
]
DOOR_IDS = [f"{method} {path}" for method, path in DOORS]
STATUS_LINE = re.compile(rb"HTTP/1\.[01] [0-9]{3} ")
# cheroot names itself in every answer of the application; the gate's own answers do not.
FROM_APPLICATION = b"\r\nServer: davfiles\r\n"

Head = Callable[[str, str, str], bytes]


def head(method: str, path: str, auth: str, fields: list[str], version: str = "HTTP/1.1") -> bytes:
    lines = [f"{method} {path} {version}", f"Authorization: {auth}", *fields]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def with_fields(*fields: str, version: str = "HTTP/1.1", host: bool = True) -> Head:
    """A head with ``fields`` (and ``Host: 127.0.0.1`` unless ``host`` is False)."""
    all_fields = (["Host: 127.0.0.1"] if host else []) + list(fields)
    return lambda method, path, auth: head(method, path, auth, all_fields, version)


def request_line(line: str) -> Head:
    """A head whose request line is ``line`` ({method} and {path} filled in)."""

    def build(method: str, path: str, auth: str) -> bytes:
        first = line.format(method=method, path=path)
        return f"{first}\r\nHost: 127.0.0.1\r\nAuthorization: {auth}\r\n\r\n".encode()

    return build


REFUSED: list[tuple[str, Head, int]] = [
    ("length beyond 64 bits", with_fields("Content-Length: 99999999999999999999999"), 400),
    ("length 2**63", with_fields("Content-Length: 9223372036854775808"), 400),
    ("two different lengths", with_fields("Content-Length: 5", "Content-Length: 6"), 400),
    ("a list of lengths", with_fields("Content-Length: 5, 6"), 400),
    ("two equal lengths", with_fields("Content-Length: 5", "Content-Length: 5"), 400),
    ("length not a number", with_fields("Content-Length: +5"), 400),
    (
        "chunked beside a length",
        with_fields("Transfer-Encoding: chunked", "Content-Length: 5"),
        400,
    ),
    ("a coding before chunked", with_fields("Transfer-Encoding: gzip, chunked"), 501),
    ("chunked not last", with_fields("Transfer-Encoding: chunked, gzip"), 400),
    ("an unknown coding alone", with_fields("Transfer-Encoding: x-unknown"), 400),
    ("chunked twice", with_fields("Transfer-Encoding: chunked", "Transfer-Encoding: chunked"), 400),
    ("chunked in HTTP/1.0", with_fields("Transfer-Encoding: chunked", version="HTTP/1.0"), 400),
    ("space before the colon", with_fields("Transfer-Encoding : chunked"), 400),
    ("obsolete line folding", with_fields("X-Folded: a", " b"), 400),
    ("no Host in HTTP/1.1", with_fields(host=False), 400),
    ("two Host fields", with_fields("Host: 127.0.0.1"), 400),
    ("an invalid Host", with_fields("Host: a b", host=False), 400),
    ("HTTP/2.0", request_line("{method} {path} HTTP/2.0"), 505),
    ("HTTP/1.9", request_line("{method} {path} HTTP/1.9"), 505),
    ("HTTP/9.9", request_line("{method} {path} HTTP/9.9"), 505),
    ("HTTP/0.9", request_line("{method} {path} HTTP/0.9"), 505),
    ("version garbage", request_line("{method} {path} HTTQ/1.1"), 400),
    ("version without minor", request_line("{method} {path} HTTP/1"), 400),
    ("two spaces", request_line("{method}  {path} HTTP/1.1"), 400),
    (
        "absolute-form, other host",
        request_line("{method} http://other.example{path} HTTP/1.1"),
        400,
    ),
    ("absolute-form, this host", request_line("{method} http://127.0.0.1{path} HTTP/1.1"), 400),
]
REFUSED_IDS = [name for name, _build, _status in REFUSED]


def served(settings: Settings, *, in_process: bool = False) -> Iterator[LiveServer]:
    """A live server with services of its own on ``settings``."""
    services = create_services(settings)
    live = LiveServer(services, in_process=in_process)
    try:
        yield live
    finally:
        live.stop()
        services.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, str]]:
    """One server for the framing probes: the gate answers before any database work."""
    for live in served(Settings(data_dir=tmp_path_factory.mktemp("framing") / "data")):
        yield live, basic(live.add_user("alice", PASSWORD))


def valid_request(method: str, path: str, auth: str) -> bytes:
    return head(method, path, auth, ["Host: 127.0.0.1", "Content-Length: 0", "Connection: close"])


@pytest.mark.parametrize(("method", "path"), DOORS, ids=DOOR_IDS)
@pytest.mark.parametrize(("name", "build", "status"), REFUSED, ids=REFUSED_IDS)
def test_ambiguous_framing_is_refused_and_the_connection_closed(
    server: tuple[LiveServer, str], method: str, path: str, name: str, build: Head, status: int
) -> None:
    live, auth = server
    pipelined = b"GET /dav/ HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: " + auth.encode()
    pipelined += b"\r\n\r\n"
    response = exchange(live.port, build(method, path, auth) + b"hello" + pipelined)
    assert status_of(response) == status, response
    assert b"\r\nConnection: close\r\n" in response
    assert FROM_APPLICATION not in response  # answered by the gate, no door saw it
    assert len(STATUS_LINE.findall(response)) == 1, response  # the pipelined GET was not read


@pytest.mark.parametrize(("method", "path"), DOORS, ids=DOOR_IDS)
def test_well_framed_requests_reach_every_door(
    server: tuple[LiveServer, str], method: str, path: str
) -> None:
    live, auth = server
    response = exchange(live.port, valid_request(method, path, auth))
    assert FROM_APPLICATION in response, response
    assert status_of(response) not in (0, 501, 505)


def test_a_chunked_body_and_a_pipelined_request_are_both_served(
    server: tuple[LiveServer, str],
) -> None:
    live, auth = server
    put = head("PUT", "/dav/chunked.txt", auth, ["Host: 127.0.0.1", "Transfer-Encoding: chunked"])
    get = head("GET", "/dav/chunked.txt", auth, ["Host: 127.0.0.1", "Connection: close"])
    response = exchange(live.port, put + b"5\r\nhello\r\n0\r\n\r\n" + get)
    statuses = [int(line.split()[1]) for line in STATUS_LINE.findall(response)]
    assert statuses[0] in (201, 204) and statuses[1:] == [200], response
    assert response.endswith(b"hello")


def test_http_1_0_without_host_is_served(server: tuple[LiveServer, str]) -> None:
    live, auth = server
    response = exchange(live.port, head("GET", "/dav/", auth, [], version="HTTP/1.0"))
    assert status_of(response) == 200


def test_an_unread_chunked_body_is_never_read_as_the_next_request(
    server: tuple[LiveServer, str],
) -> None:
    """An early answer (401) to a chunked PUT closes the connection: the body, which here
    holds a request, is not parsed as one."""
    live, auth = server
    hidden = head("GET", "/dav/", auth, ["Host: 127.0.0.1"])
    chunk = f"{len(hidden):x}\r\n".encode() + hidden + b"\r\n0\r\n\r\n"
    put = b"PUT /dav/x.txt HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n"
    response = exchange(live.port, put + chunk)
    assert status_of(response) == 401
    assert len(STATUS_LINE.findall(response)) == 1, response


# Slow bodies: a server whose body allowance is 1 s, with one upload slot per user.

BODY_TIMEOUT = 1.0
TRICKLE_INTERVAL = 0.25
MAX_TRICKLE_STEPS = 120
DECLARED = 100_000
# Bytes sent at full speed before the trickle: a few, or more than the head gate awaits of a
# body under load (with threads free, both go to a thread at once).
FIRST_BYTES = [10, 2 * BODY_PRELOAD]
FIRST_IDS = ["trickle-from-the-start", "trickle-after-a-fast-start"]


@pytest.fixture
def slow_server(settings: Settings) -> Iterator[LiveServer]:
    yield from served(replace(settings, body_timeout=BODY_TIMEOUT, max_uploads_per_user=1))


def trickle(port: int, start: bytes) -> bytes:
    """Send ``start``, then a byte every TRICKLE_INTERVAL s until the server answers; return
    everything it sent until it closed."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as connection:
        connection.sendall(start)
        for _ in range(MAX_TRICKLE_STEPS):
            readable, _, _ = select.select([connection], [], [], TRICKLE_INTERVAL)
            if readable:
                break
            try:
                connection.sendall(b"x")
            except OSError:
                break
        return read_to_end(connection)


def slow_head(method: str, path: str, user: TestUser, *fields: str) -> bytes:
    return head(
        method, path, basic(user), ["Host: 127.0.0.1", f"Content-Length: {DECLARED}", *fields]
    )


def assert_nothing_left(live: LiveServer, user: TestUser, name: str) -> None:
    """No file, no usage, and the one upload slot is free again (a PUT succeeds)."""
    store = live.services.store
    assert store.stat(user.owner, ROOT.child(name)) is None
    assert store.usage(user.owner).used_bytes == 0
    session = live.session(user)
    assert session.put(live.url("/dav/after.txt"), data=b"fine").status_code == 201


def assert_408_and_closed(response: bytes) -> None:
    assert status_of(response) == 408, response
    assert b"\r\nConnection: close\r\n" in response
    assert b"500 bytes/s" in response


@pytest.mark.parametrize("first", FIRST_BYTES, ids=FIRST_IDS)
def test_a_slow_webdav_put_is_408_and_stores_nothing(slow_server: LiveServer, first: int) -> None:
    user = slow_server.add_user("alice", PASSWORD)
    response = trickle(slow_server.port, slow_head("PUT", "/dav/slow.txt", user) + b"x" * first)
    assert_408_and_closed(response)
    assert response.startswith(b"HTTP/1.1 408") and b"text/plain" in response
    assert_nothing_left(slow_server, user, "slow.txt")


@pytest.mark.parametrize("method", ["PROPFIND", "PROPPATCH", "LOCK"])
def test_a_slow_xml_body_is_408_not_500(slow_server: LiveServer, method: str) -> None:
    """XML bodies are read whole before the method runs, before any answer has begun."""
    user = slow_server.add_user("alice", PASSWORD)
    start = slow_head(method, "/dav/", user, "Content-Type: application/xml")
    response = trickle(slow_server.port, start + b'<?xml version="1.0"?>')
    assert_408_and_closed(response)
    assert b"Traceback" not in response


@pytest.mark.parametrize("first", FIRST_BYTES, ids=FIRST_IDS)
def test_a_slow_chunked_body_is_408_and_stores_nothing(slow_server: LiveServer, first: int) -> None:
    user = slow_server.add_user("alice", PASSWORD)
    start = head(
        "PUT", "/dav/slow.txt", basic(user), ["Host: 127.0.0.1", "Transfer-Encoding: chunked"]
    )
    response = trickle(slow_server.port, start + f"{DECLARED:x}\r\n".encode() + b"x" * first)
    assert_408_and_closed(response)
    assert_nothing_left(slow_server, user, "slow.txt")


@pytest.mark.parametrize("first", FIRST_BYTES, ids=FIRST_IDS)
def test_a_slow_rest_multipart_upload_is_408_and_stores_nothing(
    slow_server: LiveServer, first: int
) -> None:
    """Once the dialect has the request, the 408 comes in its own error shape."""
    user = slow_server.add_user("alice", PASSWORD)
    part = (
        b'--B\r\nContent-Disposition: form-data; name="file"; filename="slow.bin"\r\n'
        b"Content-Type: application/octet-stream\r\n\r\n" + b"x" * first
    )
    start = slow_head(
        "PUT", "/backend/upload_file/", user, "Content-Type: multipart/form-data; boundary=B"
    )
    response = trickle(slow_server.port, start + part)
    assert_408_and_closed(response)
    if first > BODY_PRELOAD:
        assert b'"result":"failure"' in response  # okeanos' error body
    assert_nothing_left(slow_server, user, "slow.bin")


@pytest.mark.parametrize("first", FIRST_BYTES, ids=FIRST_IDS)
def test_a_slow_nextcloud_chunk_is_408_and_leaves_no_chunk(
    slow_server: LiveServer, first: int
) -> None:
    user = slow_server.add_user("alice", PASSWORD)
    folder = "/remote.php/dav/uploads/alice/slow/"
    session = slow_server.session(user)
    assert session.request("MKCOL", slow_server.url(folder)).status_code == 201
    start = slow_head("PUT", folder + "00001", user)
    response = trickle(slow_server.port, start + b"x" * first)
    assert_408_and_closed(response)
    listed = propfind(session, slow_server.url(folder), depth="1")
    assert list(listed) == [folder]
    assert_nothing_left(slow_server, user, "slow")


def test_a_slow_body_without_credentials_does_not_hold_a_thread(slow_server: LiveServer) -> None:
    """The door answers 401 at once; the rest of the body is not waited for beyond the
    allowance, then the connection is closed."""
    start = b"PUT /dav/x.txt HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    start += f"Content-Length: {DECLARED}\r\n\r\n".encode()
    response = trickle(slow_server.port, start)
    assert status_of(response) == 401
    assert b"\r\nConnection: close\r\n" in response


def test_an_early_answer_to_a_huge_body_is_not_held_back(slow_server: LiveServer) -> None:
    """A 401 to a body far larger than what is drained comes at once, and the connection
    closes, however steadily the client keeps sending (it would hold a thread forever)."""
    start = b"PUT /dav/x.txt HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    start += f"Content-Length: {10**12}\r\n\r\n".encode() + b"x" * 65536
    with socket.create_connection(("127.0.0.1", slow_server.port), timeout=30) as connection:
        connection.sendall(start)
        for _ in range(MAX_TRICKLE_STEPS):
            readable, _, _ = select.select([connection], [], [], TRICKLE_INTERVAL)
            if readable:
                break
            connection.sendall(b"x" * 4096)
        else:
            pytest.fail("no answer while the client kept sending 16 KB/s")
        response = read_to_end(connection)
    assert status_of(response) == 401
    assert b"\r\nConnection: close\r\n" in response


def test_a_body_above_the_minimum_rate_is_stored(slow_server: LiveServer) -> None:
    """8 KB/s in bursts with pauses of half the allowance: well above 500 bytes/s."""
    user = slow_server.add_user("alice", PASSWORD)
    piece = b"y" * 4000
    with socket.create_connection(("127.0.0.1", slow_server.port), timeout=30) as connection:
        connection.sendall(
            head(
                "PUT",
                "/dav/steady.txt",
                basic(user),
                ["Host: 127.0.0.1", f"Content-Length: {len(piece) * 6}", "Connection: close"],
            )
        )
        for _ in range(6):
            connection.sendall(piece)
            select.select([connection], [], [], BODY_TIMEOUT / 2)
        response = read_to_end(connection)
    assert status_of(response) == 201, response
    stored = slow_server.services.store.stat(user.owner, ROOT.child("steady.txt"))
    assert stored is not None and stored.size == len(piece) * 6


def test_body_rate_options_are_read_from_the_environment() -> None:
    settings = load_settings(
        environ={"DAVFILES_BODY_TIMEOUT": "30", "DAVFILES_MIN_BODY_RATE": "1K"}
    )
    assert (settings.body_timeout, settings.min_body_rate) == (30.0, 1024)


@pytest.fixture
def four_threads(settings: Settings) -> Iterator[LiveServer]:
    """One process with four request threads (one kept for requests without a body)."""
    yield from served(replace(settings, threads=4, body_timeout=30.0), in_process=True)


def test_uploads_in_progress_leave_a_thread_for_other_requests(four_threads: LiveServer) -> None:
    """Six uploads stalled after a fast start: three take threads, three wait in the gate, a
    GET is answered meanwhile, and once the bodies go on every upload is stored."""
    user = four_threads.add_user("alice", PASSWORD)
    length = 2 * BODY_PRELOAD + 10
    held = []
    try:
        for number in range(6):
            connection = socket.create_connection(("127.0.0.1", four_threads.port), timeout=30)
            held.append(connection)
            start = head(
                "PUT",
                f"/dav/held-{number}.bin",
                basic(user),
                ["Host: 127.0.0.1", f"Content-Length: {length}", "Connection: close"],
            )
            connection.sendall(start + b"x" * (length - 10))
        deadline = time.monotonic() + 30
        while slots_taken(four_threads) != 3:
            assert time.monotonic() < deadline, "three uploads never started"
            time.sleep(0.05)
        assert four_threads.session(user).get(four_threads.url("/dav/"), timeout=10).ok
        assert slots_taken(four_threads) == 3
        for connection in held:
            connection.sendall(b"x" * 10)
        assert [status_of(read_to_end(connection)) for connection in held] == [201] * 6
    finally:
        for connection in held:
            connection.close()


def test_a_client_waiting_for_100_continue_gets_it_before_sending_the_body(
    server: tuple[LiveServer, str],
) -> None:
    """The gate awaits the body's start, so it sends ``100 Continue`` itself (cheroot sends a
    second one later, which RFC 9110 15.2 lets clients ignore)."""
    live, auth = server
    fields = ["Host: 127.0.0.1", "Content-Length: 5", "Expect: 100-continue", "Connection: close"]
    with socket.create_connection(("127.0.0.1", live.port), timeout=10) as connection:
        connection.sendall(head("PUT", "/dav/continued.txt", auth, fields))
        assert connection.recv(65536).startswith(b"HTTP/1.1 100 Continue\r\n\r\n")
        connection.sendall(b"hello")
        response = read_to_end(connection)
    finals = [line for line in STATUS_LINE.findall(response) if not line.endswith(b"100 ")]
    assert [int(line.split()[1]) for line in finals] == [201], response


def test_under_load_a_trickled_body_is_refused_by_the_gate(settings: Settings) -> None:
    """Three uploads going on at a good rate take the three threads for bodies; a fourth
    that trickles from its start waits in the gate and gets the gate's 408 there."""
    live_settings = replace(settings, threads=4, body_timeout=2.0)
    for live in served(live_settings, in_process=True):
        user = live.add_user("alice", PASSWORD)
        auth = basic(user)
        fields = ["Host: 127.0.0.1", f"Content-Length: {DECLARED}"]
        busy = [socket.create_connection(("127.0.0.1", live.port), timeout=30) for _ in range(3)]
        try:
            for number, connection in enumerate(busy):
                connection.sendall(head("PUT", f"/dav/busy-{number}.bin", auth, fields))
            deadline = time.monotonic() + 30
            while slots_taken(live) != 3:
                assert time.monotonic() < deadline, "three uploads never started"
                for connection in busy:
                    connection.sendall(b"b" * 1024)
                time.sleep(0.05)
            with socket.create_connection(("127.0.0.1", live.port), timeout=30) as slow:
                slow.sendall(head("PUT", "/dav/slow.bin", auth, fields))
                for _ in range(MAX_TRICKLE_STEPS):
                    readable, _, _ = select.select([slow], [], [], TRICKLE_INTERVAL)
                    if readable:
                        break
                    slow.sendall(b"x")
                    for connection in busy:  # 4 KiB/s each, far above the minimum rate
                        connection.sendall(b"b" * 1024)
                response = read_to_end(slow)
        finally:
            for connection in busy:
                connection.close()
        assert_408_and_closed(response)
        assert FROM_APPLICATION not in response
        assert live.services.store.stat(user.owner, ROOT.child("slow.bin")) is None
