"""How long a normal request waits while many clients hold connections open without a request.

Starts ``davfiles serve`` (one process, 16 threads, as in the tests) on a fresh data dir, then
for each scenario opens the slow connections, times one authenticated GET on a new connection
and closes them again:

    .venv/bin/python -m bench.slow_clients [--connections 200] [--cap 30]

Scenarios: idle (connected, nothing sent), half a request line, and slowloris (a header line
every 2 s). A wait longer than ``--cap`` seconds is reported as "> cap".
"""

from __future__ import annotations

import argparse
import base64
import socket
import tempfile
import threading
import time
from pathlib import Path

from tests.harness import CliServer

TRICKLE_INTERVAL = 2.0


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


def _trickle(connections: list[socket.socket], stop: threading.Event) -> None:
    """Send one more header line on every connection every TRICKLE_INTERVAL seconds."""
    for number in range(10_000):
        if stop.wait(TRICKLE_INTERVAL):
            return
        for connection in connections:
            try:
                connection.sendall(f"X-Slow-{number}: a\r\n".encode())
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
    port: int, authorization: str, count: int, cap: float, first: bytes, trickle: bool
) -> float | None:
    connections = connect_all(port, count, first)
    stop = threading.Event()
    thread = threading.Thread(target=_trickle, args=(connections, stop), daemon=True)
    try:
        if trickle:
            thread.start()
        time.sleep(1.0)
        return timed_get(port, authorization, cap)
    finally:
        stop.set()
        if trickle:
            thread.join(timeout=10)
        for connection in connections:
            connection.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=200)
    parser.add_argument("--cap", type=float, default=30.0)
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
            scenarios = [
                ("no other connections", b"", False),
                (f"{args.connections} idle connections", b"", False),
                (f"{args.connections} half request lines", b"GET /dav/probe.txt HT", False),
                (
                    f"{args.connections} slowloris (a header line every {TRICKLE_INTERVAL:.0f} s)",
                    b"GET /dav/probe.txt HTTP/1.1\r\nHost: 127.0.0.1\r\n",
                    True,
                ),
            ]
            for name, first, trickle in scenarios:
                count = 0 if name.startswith("no ") else args.connections
                waited = scenario(server.port, authorization, count, args.cap, first, trickle)
                shown = f"> {args.cap:.0f} s" if waited is None else f"{waited:.3f} s"
                print(f"{name}: GET answered after {shown}", flush=True)
                time.sleep(1.0)
        finally:
            server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
