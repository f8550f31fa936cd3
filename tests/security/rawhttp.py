"""Send requests as raw bytes, so no client library normalises the path first."""

from __future__ import annotations

import base64
import socket

from tests.harness import TestUser


def basic(user: TestUser) -> str:
    return "Basic " + base64.b64encode(f"{user.name}:{user.password}".encode()).decode()


def raw_request(
    port: int,
    method: str,
    target: bytes,
    headers: dict[str, str] | None = None,
    body: bytes = b"",
    timeout: float = 10.0,
) -> tuple[int, bytes]:
    """Status code and raw response (0 if the server sent nothing)."""
    lines = [
        method.encode() + b" " + target + b" HTTP/1.1",
        b"Host: 127.0.0.1",
        b"Connection: close",
    ]
    lines += [f"{name}: {value}".encode("latin-1") for name, value in (headers or {}).items()]
    request = b"\r\n".join(lines) + b"\r\n\r\n" + body
    response = exchange(port, request, timeout)
    return status_of(response), response


def exchange(port: int, request: bytes, timeout: float = 10.0) -> bytes:
    """Send ``request`` as it is, then read until the server closes the connection.

    Raises TimeoutError if the server keeps the connection open ``timeout`` s without sending.
    """
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as connection:
        connection.sendall(request)
        return read_to_end(connection)


def read_to_end(connection: socket.socket) -> bytes:
    """Everything the server sends until it closes (a reset after its answer ends it too)."""
    chunks = []
    for _ in range(10_000):
        try:
            data = connection.recv(65536)
        except ConnectionResetError:
            break
        if not data:
            break
        chunks.append(data)
    return b"".join(chunks)


def status_of(response: bytes) -> int:
    """The status code of the first response in ``response`` (0 if there is none)."""
    try:
        return int(response.split(b" ", 2)[1])
    except (IndexError, ValueError):
        return 0
