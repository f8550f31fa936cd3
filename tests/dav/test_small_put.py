"""A small PUT is stored in one write transaction, whether its body came with its head or not.

The server tells the application when the whole body is already buffered (the connection gate
waits for a body of up to ``BODY_PRELOAD`` bytes); such an upload waits for no client, so it
checks the per-user cap without taking a slot and settles quota and record together. A larger
body that arrives later takes the usual way: slot and reservation first. All must give the
same answers.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, event

from davfiles.connections import BODY_PRELOAD
from davfiles.db.engine import WRITE_OPTION
from davfiles.store import parse_user_path
from tests.harness import LiveServer, TestUser
from tests.security.rawhttp import basic, exchange, read_to_end

BODY = b"x" * 4096
# Above what the gate waits for before a thread takes the request.
LARGER = b"y" * (BODY_PRELOAD + 4096)


@contextmanager
def write_transactions(server: LiveServer) -> Iterator[list[object]]:
    """The write transactions the server begins inside the block, on SQLite or PostgreSQL."""
    engine = server.services.db.engine
    begun: list[object] = []

    def record(connection: Connection) -> None:
        if connection.get_execution_options().get(WRITE_OPTION):
            begun.append(connection)

    event.listen(engine, "begin", record)
    try:
        yield begun
    finally:
        event.remove(engine, "begin", record)


def put(server: LiveServer, user: TestUser, path: str, body: bytes, *, pause: float) -> bytes:
    """PUT over a raw socket; ``pause`` > 0 sends the body that long after the head."""
    head = (
        f"PUT {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: {basic(user)}\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode()
    if not pause:
        return exchange(server.port, head + body, timeout=30)
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as connection:
        connection.sendall(head)
        time.sleep(pause)
        connection.sendall(body)
        return read_to_end(connection)


def test_a_small_body_is_one_write_transaction_however_it_arrives(
    in_process_server: LiveServer,
) -> None:
    server = in_process_server
    user = server.add_user("small", max_bytes=10**9)
    assert put(server, user, "/dav/warm.txt", BODY, pause=0).startswith(b"HTTP/1.1 201")
    with write_transactions(server) as begun:
        answer = put(server, user, "/dav/one.txt", BODY, pause=0)
    assert answer.startswith(b"HTTP/1.1 201"), answer
    assert len(begun) == 1
    with write_transactions(server) as begun:
        answer = put(server, user, "/dav/two.txt", BODY, pause=0.3)
    assert answer.startswith(b"HTTP/1.1 201"), answer
    assert len(begun) == 1
    with write_transactions(server) as begun:
        answer = put(server, user, "/dav/three.txt", LARGER, pause=0.3)
    assert answer.startswith(b"HTTP/1.1 201"), answer
    # Slot and reservation, then the commit.
    assert len(begun) == 2
    store = server.services.store
    for name, body in (("one.txt", BODY), ("two.txt", BODY), ("three.txt", LARGER)):
        info = store.stat(user.owner, parse_user_path(name))
        assert info is not None and info.size == len(body)
        with store.open_read(user.owner, info) as stored:
            assert stored.read() == body


def test_both_ways_answer_alike(in_process_server: LiveServer) -> None:
    """A body above what the gate awaits, sent with its head (one transaction) and after it
    (slot and reservation first)."""
    server = in_process_server
    user = server.add_user("alike", max_bytes=3 * len(LARGER), max_files=10)
    store, owner = server.services.store, user.owner
    for pause in (0, 0.3):
        name = f"/dav/file-{pause}.txt"
        created = put(server, user, name, LARGER, pause=pause)
        replaced = put(server, user, name, LARGER[:-100], pause=pause)
        missing_parent = put(server, user, "/dav/none/x.txt", LARGER, pause=pause)
        assert created.split(b"\r\n")[0] == b"HTTP/1.1 201 Created"
        assert replaced.split(b"\r\n")[0] == b"HTTP/1.1 204 No Content"
        assert b"OC-FileId: " in created and b"ETag: " in replaced
        assert missing_parent.split(b"\r\n")[0] == b"HTTP/1.1 409 Conflict"
    before = store.usage(owner)
    for pause in (0, 0.3):
        over = put(server, user, f"/dav/big-{pause}.txt", LARGER * 3, pause=pause)
        assert over.startswith(b"HTTP/1.1 507 "), over
        assert store.stat(owner, parse_user_path(f"big-{pause}.txt")) is None
    assert store.usage(owner) == before
    assert not list(store.staging_dir.iterdir())
