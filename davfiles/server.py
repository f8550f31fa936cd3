"""Run a WSGI application on cheroot; used by the CLI and the tests."""

from __future__ import annotations

from typing import Any

from cheroot import wsgi

# Room for bursts of new connections: with cheroot's default backlog of 5, a burst of
# clients got their connections reset before a thread could accept them.
LISTEN_BACKLOG = 128


def make_server(app: Any, host: str, port: int, *, threads: int) -> wsgi.Server:
    server = wsgi.Server(
        (host, port),
        app,
        numthreads=threads,
        server_name="davfiles",
        request_queue_size=LISTEN_BACKLOG,
    )
    server.shutdown_timeout = 1
    return server
