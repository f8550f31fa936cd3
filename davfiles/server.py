"""Run a WSGI application on cheroot; used by the CLI and the tests."""

from __future__ import annotations

from typing import Any

from cheroot import wsgi


def make_server(app: Any, host: str, port: int, *, threads: int) -> wsgi.Server:
    server = wsgi.Server((host, port), app, numthreads=threads, server_name="davfiles")
    server.shutdown_timeout = 1
    return server
