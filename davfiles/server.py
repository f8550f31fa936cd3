"""Run a WSGI application on cheroot; used by the CLI and the tests."""

from __future__ import annotations

from typing import Any

from cheroot import wsgi
from cheroot.ssl.builtin import BuiltinSSLAdapter

# Room for bursts of new connections: with cheroot's default backlog of 5, a burst of
# clients got their connections reset before a thread could accept them.
LISTEN_BACKLOG = 128


def make_server(
    app: Any,
    host: str,
    port: int,
    *,
    threads: int,
    certfile: str | None = None,
    keyfile: str | None = None,
) -> wsgi.Server:
    """A cheroot server for ``app``; HTTPS with cheroot's built-in adapter given cert and key."""
    server = wsgi.Server(
        (host, port),
        app,
        numthreads=threads,
        server_name="davfiles",
        request_queue_size=LISTEN_BACKLOG,
    )
    server.shutdown_timeout = 1
    if certfile and keyfile:
        server.ssl_adapter = BuiltinSSLAdapter(certfile, keyfile)
    return server
