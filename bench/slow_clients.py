"""How long a normal request waits while many clients hold connections open without a request.

Starts ``davfiles serve`` (one process, 16 threads, as in the tests) on a fresh data dir, then
for each scenario opens the slow connections, times one authenticated GET on a new connection
and closes them again:

    .venv/bin/python -m bench.slow_clients [--connections 200] [--cap 30] [--only NAME]

Scenarios: idle (connected, nothing sent), half a request line, slowloris (a header line
every 2 s) and slow bodies (an authenticated PUT head declaring 100 MB, then a body byte every
2 s; also after a fast first 32 KiB, which takes a request thread until the body rate ends
it). A wait longer than ``--cap`` seconds is reported as "> cap".
"""

from __future__ import annotations

import argparse
import base64
import socket
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from tests.harness import CliServer

TRICKLE_INTERVAL = 2.0
# More than the head gate awaits of a body: each such sender gets a request thread.
FAST_START = 32 * 1024


def connect_all(port: int, count: int, first: bytes) -> list[socket.socket]:
    """``count`` connections to ``port``, each having sent ``first``; none left open on error."""
    connections: list[socket.socket] = []
    try:
        for _ in range(count):
            connection = socket.create_connection(("127.0.0.1", port), timeout=10)
            connections.append(connection)
            if first:
                connection.sendall(first)
    except OSError:
        for connection in connections:
            connection.close()
        raise
    return connections


Step = Callable[[int], bytes]


def header_line(number: int) -> bytes:
    return f"X-Slow-{number}: a\r\n".encode()


def body_byte(number: int) -> bytes:
    return b"x"


def _trickle(connections: list[socket.socket], step: Step, stop: threading.Event) -> None:
    """Send ``step(n)`` on every connection every TRICKLE_INTERVAL seconds."""
    for number in range(10_000):
        if stop.wait(TRICKLE_INTERVAL):
            return
        for connection in connections:
            try:
                connection.sendall(step(number))
            except OSError:
                pass


def timed_get(port: int, authorization: str, cap: float) -> float | None:
    """Seconds until the full answer to a GET arrived, None past ``cap``."""
    request = (
        f"GET /dav/probe.txt HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: {authorization}\r\n"
        "Connection: close\r\n\r\n"
    ).encode()
    started = time.monotonic()
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=cap) as connection:
            connection.settimeout(cap)
            connection.sendall(request)
            response = b""
            for _ in range(1000):
                data = connection.recv(65536)
                if not data:
                    break
                response += data
    except OSError:
        return None
    if not response.startswith(b"HTTP/1.1 200"):
        return None
    return time.monotonic() - started


def scenario(
    port: int, authorization: str, count: int, cap: float, first: bytes, step: Step | None
) -> float | None:
    connections = connect_all(port, count, first)
    stop = threading.Event()
    thread = threading.Thread(target=_trickle, args=(connections, step, stop), daemon=True)
    try:
        if step is not None:
            thread.start()
        time.sleep(1.0)
        return timed_get(port, authorization, cap)
    finally:
        stop.set()
        if step is not None:
            thread.join(timeout=10)
        for connection in connections:
            connection.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=200)
    parser.add_argument("--cap", type=float, default=30.0)
    parser.add_argument("--only", help="run only the scenarios whose name contains this")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as work:
        env = {"DAVFILES_THREADS": "16", "DAVFILES_WORKERS": "1"}
        server = CliServer(Path(work) / "data", Path(work) / "server.log", env=env)
        try:
            token = base64.b64encode(f"admin:{server.admin_password}".encode()).decode()
            authorization = f"Basic {token}"
            put = (
                f"PUT /dav/probe.txt HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: "
                f"{authorization}\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello"
            ).encode()
            with socket.create_connection(("127.0.0.1", server.port), timeout=30) as connection:
                connection.sendall(put)
                connection.recv(65536)
            slow_put = (
                f"PUT /dav/slow.bin HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: "
                f"{authorization}\r\nContent-Length: 100000000\r\n\r\n"
            ).encode()
            scenarios: list[tuple[str, bytes, Step | None]] = [
                ("no other connections", b"", None),
                (f"{args.connections} idle connections", b"", None),
                (f"{args.connections} half request lines", b"GET /dav/probe.txt HT", None),
                (
                    f"{args.connections} slowloris (a header line every {TRICKLE_INTERVAL:.0f} s)",
                    b"GET /dav/probe.txt HTTP/1.1\r\nHost: 127.0.0.1\r\n",
                    header_line,
                ),
                (
                    f"{args.connections} slow bodies (a PUT body byte every "
                    f"{TRICKLE_INTERVAL:.0f} s)",
                    slow_put,
                    body_byte,
                ),
                (
                    f"{args.connections} slow bodies after a fast {FAST_START // 1024} KiB start",
                    slow_put + b"x" * FAST_START,
                    body_byte,
                ),
            ]
            for name, first, step in scenarios:
                if args.only and args.only not in name:
                    continue
                count = 0 if name.startswith("no ") else args.connections
                waited = scenario(server.port, authorization, count, args.cap, first, step)
                shown = f"> {args.cap:.0f} s" if waited is None else f"{waited:.3f} s"
                print(f"{name}: GET answered after {shown}", flush=True)
                time.sleep(1.0)
        finally:
            server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
