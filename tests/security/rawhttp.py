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
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as connection:
        connection.sendall(request)
        chunks = []
        for _ in range(10_000):
            data = connection.recv(65536)
            if not data:
                break
            chunks.append(data)
    response = b"".join(chunks)
    try:
        return int(response.split(b" ", 2)[1]), response
    except (IndexError, ValueError):
        return 0, response
