"""The fast door gives the answers WsgiDAV gives, header by header and byte by byte.

The same requests go, in the same order, to two servers that differ only in ``fast_door``;
their answers must be equal once dates (and the time in WsgiDAV's status pages) are masked.
The requests cover what the fast door answers and what it must leave to WsgiDAV: conditions,
locks, ranges, folders, missing parents, the chunk area, another user's path, quota, and for
MOVE and COPY every Destination WsgiDAV refuses (another host, scheme, mount or user, onto or
below the source, a missing parent, Overwrite F onto an existing target).
"""

from __future__ import annotations

import re
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import event

from davfiles.app import create_services
from davfiles.config import Settings
from tests.dav.helpers import LOCK_BODY
from tests.harness import LiveServer, TestUser
from tests.security.rawhttp import basic, exchange, read_to_end

QUOTA = 64 * 1024
_DATE = re.compile(rb"(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d \w{3} \d{4} \d\d:\d\d:\d\d GMT")
_PAGE_TIME = re.compile(rb"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+")
_LOCK_TOKEN = re.compile(rb"opaquelocktoken:[0-9a-f]+")


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[tuple[LiveServer, LiveServer]]:
    """A server with the fast door and one without, on separate data dirs."""
    servers = []
    for fast in (True, False):
        settings = Settings(data_dir=tmp_path / f"fast-{fast}", fast_door=fast)
        servers.append(LiveServer(create_services(settings), in_process=True))
    yield servers[0], servers[1]
    for server in servers:
        server.stop()
        server.services.close()


def masked(server: LiveServer, user: TestUser, request: bytes) -> bytes:
    """Send one request (head and body in one write) and return the masked response."""
    head, _, body = request.partition(b"\n\n")
    lines = head.split(b"\n")
    lines[0] += b" HTTP/1.1"
    lines[1:1] = [b"Host: 127.0.0.1", f"Authorization: {basic(user)}".encode()]
    if body or lines[0].startswith(b"PUT"):
        lines.append(f"Content-Length: {len(body)}".encode())
    lines.append(b"Connection: close")
    answer = exchange(server.port, b"\r\n".join(lines) + b"\r\n\r\n" + body, timeout=30)
    answer = _DATE.sub(b"<date>", answer)
    answer = _PAGE_TIME.sub(b"<time>", answer)
    return _LOCK_TOKEN.sub(b"<token>", answer)


# Both doors must move a folder's ETag and size alike.
FOLDER_PROPS = (
    b'<?xml version="1.0"?><d:propfind xmlns:d="DAV:" xmlns:oc="http://owncloud.org/ns">'
    b"<d:prop><d:getetag/><oc:size/><oc:id/></d:prop></d:propfind>"
)

# (request, what the answer starts with); the head is "METHOD target" and header lines.
SCRIPT: list[tuple[bytes, bytes]] = [
    (b"PUT /dav/a.txt\n\nhello", b"HTTP/1.1 201"),
    (b"PUT /dav/a.txt\nContent-Type: text/x-special\n\nhello again", b"HTTP/1.1 204"),
    (b"PUT /dav/empty.bin\n\n", b"HTTP/1.1 201"),
    (b"GET /dav/a.txt", b"HTTP/1.1 200"),
    (b"HEAD /dav/a.txt", b"HTTP/1.1 200"),
    (b"GET /dav/empty.bin", b"HTTP/1.1 200"),
    (b"GET /dav/missing.txt", b"HTTP/1.1 404"),
    (b"GET /dav/a.txt\nRange: bytes=0-3", b"HTTP/1.1 206"),
    (b"GET /dav/a.txt\nIf-None-Match: *", b"HTTP/1.1 304"),
    (b"GET /dav/a.txt\nDepth: 1", b"HTTP/1.1 400"),
    (b"GET /dav/a.txt?x=1", b"HTTP/1.1 200"),
    (b"MKCOL /dav/f", b"HTTP/1.1 201"),
    (b"MKCOL /dav/f", b"HTTP/1.1 405"),
    (b"MKCOL /dav/g/", b"HTTP/1.1 201"),
    (b"MKCOL /dav/none/h", b"HTTP/1.1 409"),
    (b"MKCOL /dav/a.txt/h", b"HTTP/1.1 409"),
    (b"MKCOL /dav/k\n\nbody", b"HTTP/1.1 415"),
    (b"GET /dav/f", b"HTTP/1.1 200"),
    (b"PUT /dav/f/b.txt\n\nin a folder", b"HTTP/1.1 201"),
    (b"PUT /dav/f\n\nonto a folder", b"HTTP/1.1 405"),
    (b"PUT /dav/none/b.txt\n\nno parent", b"HTTP/1.1 409"),
    (b"PUT /dav/a.txt/b.txt\n\nfile as parent", b"HTTP/1.1 409"),
    (b"PUT /dav/big.bin\n\n" + b"b" * (QUOTA + 1), b"HTTP/1.1 507"),
    (b"PUT /dav/mtime.txt\nX-OC-Mtime: 1700000000\n\nold", b"HTTP/1.1 201"),
    (b"GET /dav/mtime.txt", b"HTTP/1.1 200"),
    (b"PUT /dav/bad%00name.txt\n\nx", b"HTTP/1.1 400"),
    (b"PUT /remote.php/webdav/oc.txt\n\nowncloud", b"HTTP/1.1 201"),
    (b"PUT /remote.php/dav/files/alice/nc.txt\n\nnextcloud", b"HTTP/1.1 201"),
    (b"GET /remote.php/dav/files/alice/nc.txt", b"HTTP/1.1 200"),
    (b"MKCOL /remote.php/webdav/ocdir", b"HTTP/1.1 201"),
    (b"PUT /remote.php/webdav/ocdir/x.txt\nX-OC-Mtime: 1700000000\n\nx", b"HTTP/1.1 201"),
    (b"PUT /remote.php/webdav/ocdir/x.txt\nX-OC-Mtime: 1700000001\n\nxy", b"HTTP/1.1 204"),
    (b"PROPFIND /remote.php/webdav/ocdir\nDepth: 0\n\n" + FOLDER_PROPS, b"HTTP/1.1 207"),
    (b"PUT /remote.php/dav/files/bob/nc.txt\n\nnot mine", b"HTTP/1.1 403"),
    (b"MKCOL /remote.php/dav/uploads/alice/chunks", b"HTTP/1.1 201"),
    (b"PUT /remote.php/dav/uploads/alice/chunks/00001\n\nchunk", b"HTTP/1.1 201"),
    (b"DELETE /remote.php/dav/uploads/alice/chunks", b"HTTP/1.1 204"),
    (b"DELETE /dav/f/b.txt\nIf: (<opaquelocktoken:none>)", b"HTTP/1.1 412"),
    (b"DELETE /dav/f/b.txt", b"HTTP/1.1 204"),
    (b"DELETE /dav/g", b"HTTP/1.1 204"),
    (b"DELETE /dav/f\nDepth: 0", b"HTTP/1.1 400"),
    (b"DELETE /dav/missing", b"HTTP/1.1 404"),
    (b"DELETE /dav/", b"HTTP/1.1 403"),
    (b"LOCK /dav/f\nTimeout: Second-600\n\n" + LOCK_BODY.encode(), b"HTTP/1.1 200"),
    (b"PUT /dav/f/locked.txt\n\nlocked parent", b"HTTP/1.1 423"),
    (b"DELETE /dav/f", b"HTTP/1.1 423"),
    (b"PUT /dav/free.txt\n\nelsewhere", b"HTTP/1.1 201"),
    (b"GET /dav/free.txt", b"HTTP/1.1 200"),
]


# MOVE and COPY: what the fast door answers, and every refusal it leaves to WsgiDAV.
TRANSFERS: list[tuple[bytes, bytes]] = [
    (b"PUT /dav/a.txt\n\nhello", b"HTTP/1.1 201"),
    (b"PUT /dav/b.txt\n\nbee", b"HTTP/1.1 201"),
    (b"MKCOL /dav/f", b"HTTP/1.1 201"),
    (b"PUT /dav/f/in.txt\n\ninside", b"HTTP/1.1 201"),
    (b"MKCOL /dav/g", b"HTTP/1.1 201"),
    (b"MOVE /dav/a.txt\nDestination: /dav/a2.txt", b"HTTP/1.1 201"),
    (b"GET /dav/a2.txt", b"HTTP/1.1 200"),
    (b"GET /dav/a.txt", b"HTTP/1.1 404"),
    (b"COPY /dav/a2.txt\nDestination: /dav/b.txt", b"HTTP/1.1 204"),
    (b"GET /dav/b.txt", b"HTTP/1.1 200"),
    (b"COPY /dav/a2.txt\nDestination: /dav/b.txt\nOverwrite: F", b"HTTP/1.1 412"),
    (b"MOVE /dav/a2.txt\nDestination: /dav/b.txt\nOverwrite: f", b"HTTP/1.1 412"),
    (b"MOVE /dav/a2.txt\nDestination: /dav/b.txt\nOverwrite: t", b"HTTP/1.1 204"),
    (b"COPY /dav/b.txt\nDestination: /dav/c.txt\nOverwrite: F", b"HTTP/1.1 201"),
    (b"COPY /dav/b.txt\nDestination: /dav/c.txt\nOverwrite: X", b"HTTP/1.1 400"),
    (b"MOVE /dav/b.txt\nDestination: /dav/none/x.txt", b"HTTP/1.1 409"),
    (b"MOVE /dav/b.txt\nDestination: /dav/c.txt/x.txt", b"HTTP/1.1 409"),
    (b"MOVE /dav/b.txt\nDestination: /dav/b.txt", b"HTTP/1.1 403"),
    (b"COPY /dav/b.txt\nDestination: http://127.0.0.1/dav/b.txt", b"HTTP/1.1 403"),
    (b"MOVE /dav/f\nDestination: /dav/f/sub", b"HTTP/1.1 403"),
    (b"MOVE /dav/f/\nDestination: /dav/f", b"HTTP/1.1 403"),
    (b"MOVE /dav/missing\nDestination: /dav/x", b"HTTP/1.1 404"),
    (b"MOVE /dav/b.txt", b"HTTP/1.1 400"),
    (b"MOVE /dav/b.txt\nDestination: http://other.example/dav/z.txt", b"HTTP/1.1 502"),
    (b"MOVE /dav/b.txt\nDestination: http://127.0.0.1:81/dav/z.txt", b"HTTP/1.1 502"),
    (b"MOVE /dav/b.txt\nDestination: https://127.0.0.1/dav/z.txt", b"HTTP/1.1 502"),
    (b"MOVE /dav/b.txt\nDestination: http://[::1/dav/z.txt", b"HTTP/1.1 400"),
    (b"MOVE /dav/b.txt\nDestination: /remote.php/webdav/z.txt", b"HTTP/1.1 502"),
    (b"MOVE /dav/b.txt\nDestination: /elsewhere/z.txt", b"HTTP/1.1 502"),
    (b"MOVE /dav/b.txt\nDestination: /DAV/z.txt", b"HTTP/1.1 502"),
    (b"MOVE /dav/b.txt\nDestination: /dav/../../z.txt", b"HTTP/1.1 400"),
    (b"MOVE /dav/b.txt\nDestination: /dav/f/../up.txt", b"HTTP/1.1 201"),
    (
        b"MOVE /dav/up.txt\nDestination: HTTP://127.0.0.1/dav/odd%20n%C3%A4me%23.txt",
        b"HTTP/1.1 201",
    ),
    (b"GET /dav/odd%20n%C3%A4me%23.txt", b"HTTP/1.1 200"),
    (b"MOVE /dav/odd%20n%C3%A4me%23.txt\nDestination: /dav/q%3Fx.txt", b"HTTP/1.1 201"),
    (b"GET /dav/q", b"HTTP/1.1 200"),
    (b"MOVE /dav/q\nDestination: /dav/per%2525cent.txt", b"HTTP/1.1 201"),
    (b"GET /dav/per%2525cent.txt", b"HTTP/1.1 200"),
    (b"COPY /dav/per%2525cent.txt\nDestination: /dav/bad%00.txt", b"HTTP/1.1 400"),
    (b"MOVE /dav/c.txt\nDestination: /dav/c2.txt\nX-Forwarded-Host: proxy", b"HTTP/1.1 201"),
    (b"MOVE /dav/c2.txt\nDestination: /dav/c3.txt\n\n<body/>", b"HTTP/1.1 201"),
    (b"MOVE /dav/c3.txt\nDestination: /dav/c4.txt\nDepth: 0", b"HTTP/1.1 201"),
    (b"COPY /dav/c4.txt\nDestination: /dav/c5.txt\nDepth: 0", b"HTTP/1.1 201"),
    (b"MOVE /dav/f\nDestination: /dav/h", b"HTTP/1.1 201"),
    (b"GET /dav/h/in.txt", b"HTTP/1.1 200"),
    (b"GET /dav/f/in.txt", b"HTTP/1.1 404"),
    (b"MOVE /dav/h/\nDestination: /dav/g/", b"HTTP/1.1 204"),
    (b"GET /dav/g/in.txt", b"HTTP/1.1 200"),
    (b"MOVE /dav/g\nDestination: /dav/g1\nDepth: 0", b"HTTP/1.1 400"),
    (b"MOVE /dav/g\nDestination: /dav/g1\nDepth: Infinity", b"HTTP/1.1 201"),
    (b"COPY /dav/g1\nDestination: /dav/g2", b"HTTP/1.1 201"),
    (b"GET /dav/g2/in.txt", b"HTTP/1.1 200"),
    (b"COPY /dav/g1\nDestination: /dav/g2\nDepth: 0", b"HTTP/1.1 204"),
    (b"GET /dav/g2/in.txt", b"HTTP/1.1 404"),
    (b"COPY /dav/g1\nDestination: /dav/g3\nDepth: 1", b"HTTP/1.1 400"),
    (b"MOVE /dav/\nDestination: /dav/home", b"HTTP/1.1 403"),
    (b"PUT /dav/big.bin\n\n" + b"b" * (QUOTA // 2 + 1), b"HTTP/1.1 201"),
    (b"COPY /dav/big.bin\nDestination: /dav/big2.bin", b"HTTP/1.1 507"),
    (b"GET /dav/big2.bin", b"HTTP/1.1 404"),
    (b"MOVE /dav/big.bin\nDestination: /dav/big2.bin", b"HTTP/1.1 201"),
    (b"PUT /remote.php/dav/files/alice/nc.txt\n\nnextcloud", b"HTTP/1.1 201"),
    (
        b"MOVE /remote.php/dav/files/alice/nc.txt\n"
        b"Destination: /remote.php/dav/files/alice/nc2.txt",
        b"HTTP/1.1 201",
    ),
    (
        b"MOVE /remote.php/dav/files/alice/nc2.txt\nDestination: /remote.php/dav/files/bob/nc2.txt",
        b"HTTP/1.1 403",
    ),
    (
        b"COPY /remote.php/dav/files/alice/nc2.txt\n"
        b"Destination: /remote.php/dav/uploads/alice/nc2.txt",
        b"HTTP/1.1 403",
    ),
    (b"COPY /remote.php/webdav/nc2.txt\nDestination: /remote.php/webdav/oc.txt", b"HTTP/1.1 201"),
    (b"LOCK /dav/g1\nTimeout: Second-600\n\n" + LOCK_BODY.encode(), b"HTTP/1.1 200"),
    (b"MOVE /dav/g1\nDestination: /dav/g4", b"HTTP/1.1 423"),
    (b"MOVE /dav/c4.txt\nDestination: /dav/g1/c4.txt", b"HTTP/1.1 423"),
    (b"COPY /dav/c4.txt\nDestination: /dav/c6.txt", b"HTTP/1.1 201"),
]


@pytest.mark.parametrize("script", [SCRIPT, TRANSFERS], ids=["methods", "moves-and-copies"])
def test_answers_equal_wsgidavs(
    pair: tuple[LiveServer, LiveServer], script: list[tuple[bytes, bytes]]
) -> None:
    users = [server.add_user("alice", max_bytes=QUOTA) for server in pair]
    for server in pair:
        server.add_user("bob")
    for request, expected in script:
        fast, plain = (
            masked(server, user, request) for server, user in zip(pair, users, strict=True)
        )
        assert fast.startswith(expected), (request, fast)
        assert fast == plain, request


def statements(server: LiveServer, user: TestUser, request: bytes) -> int:
    return counted(server, lambda: masked(server, user, request))[0]


def counted(server: LiveServer, send: Callable[[], bytes]) -> tuple[int, bytes]:
    """The statements the server ran while ``send`` exchanged a request, and the answer."""
    engine = server.services.db.engine
    seen: list[str] = []

    def record(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        answer = send()
    finally:
        event.remove(engine, "before_cursor_execute", record)
    return len(seen), answer


def test_the_fast_door_needs_no_more_statements(pair: tuple[LiveServer, LiveServer]) -> None:
    """Its gain is CPU (WsgiDAV's machinery skipped); since WsgiDAV's directory browser, which
    looked every request's resource up, left the stack, the statements are mostly equal."""
    users = [server.add_user("alice") for server in pair]
    for server, user in zip(pair, users, strict=True):
        masked(server, user, b"PUT /dav/warm.txt\n\nwarm")
    for request in (
        b"PUT /dav/x.txt\n\nsmall",
        b"MKCOL /dav/d",
        b"PUT /dav/d/y.txt\n\nsmall",
        b"MOVE /dav/d\nDestination: /dav/e",
        b"COPY /dav/e\nDestination: /dav/d",
        b"DELETE /dav/d",
    ):
        fast, plain = (
            statements(server, user, request) for server, user in zip(pair, users, strict=True)
        )
        assert fast <= plain, (request, fast, plain)


def _put_in_two_writes(server: LiveServer, user: TestUser, path: str, body: bytes) -> bytes:
    """A PUT whose body is sent apart from its head, after a pause, as many clients send it."""
    head = (
        f"PUT {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: {basic(user)}\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as connection:
        connection.sendall(head.encode())
        time.sleep(0.2)
        connection.sendall(body)
        return read_to_end(connection)


def test_a_small_body_sent_after_its_head_takes_the_fast_door(
    pair: tuple[LiveServer, LiveServer],
) -> None:
    """The gate awaits a small body whole before a thread takes the request, so the fast door
    stores it in one transaction however the client splits its writes."""
    server = pair[0]
    user = server.add_user("alice")
    body = b"b" * 4096
    masked(server, user, b"PUT /dav/warm.txt\n\nwarm")
    in_one_write = statements(server, user, b"PUT /dav/one.bin\n\n" + body)
    in_two, answer = counted(server, lambda: _put_in_two_writes(server, user, "/dav/two.bin", body))
    assert answer.startswith(b"HTTP/1.1 201 "), answer
    assert in_two == in_one_write
    assert server.session(user).get(server.url("/dav/two.bin")).content == body


def test_the_switch_is_a_setting() -> None:
    assert Settings().fast_door is True
    assert replace(Settings(), fast_door=False).fast_door is False
