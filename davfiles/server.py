"""Run a WSGI application on cheroot; used by the CLI and the tests."""

from __future__ import annotations

from typing import Any

from cheroot.ssl.builtin import BuiltinSSLAdapter

from davfiles.body_rate import BodyRate
from davfiles.config import Settings
from davfiles.connections import ConnectionLimits, GatedServer, raise_descriptor_limit

# Room for bursts of new connections: with cheroot's default backlog of 5, a burst of
# clients got their connections reset before a thread could accept them.
LISTEN_BACKLOG = 128


def connection_limits(settings: Settings) -> ConnectionLimits:
    """The connection options of ``settings``."""
    return ConnectionLimits(
        header_timeout=settings.header_timeout,
        idle_timeout=settings.idle_timeout,
        max_header_bytes=settings.max_header_bytes,
        max_header_fields=settings.max_header_fields,
        max_connections=settings.max_connections,
        body_rate=BodyRate(settings.body_timeout, settings.min_body_rate),
    )


def make_server(
    app: Any,
    host: str,
    port: int,
    *,
    threads: int,
    certfile: str | None = None,
    keyfile: str | None = None,
    reuse_port: bool = False,
    limits: ConnectionLimits | None = None,
) -> GatedServer:
    """A cheroot server for ``app``; HTTPS with cheroot's built-in adapter given cert and key.

    Connections reach the ``threads`` request threads only with a complete request head
    (``davfiles.connections``), so slow or idle clients cost a socket, not a thread.
    """
    limits = limits or ConnectionLimits()
    raise_descriptor_limit(limits, threads)
    server = GatedServer(
        (host, port),
        app,
        numthreads=threads,
        server_name="davfiles",
        request_queue_size=LISTEN_BACKLOG,
        reuse_port=reuse_port,
        limits=limits,
    )
    server.shutdown_timeout = 1
    if certfile and keyfile:
        server.ssl_adapter = BuiltinSSLAdapter(certfile, keyfile)
    return server


def server_for(settings: Settings, app: Any, port: int, *, reuse_port: bool = False) -> GatedServer:
    """The server ``davfiles serve`` runs ``app`` on, as ``settings`` configure it."""
    return make_server(
        app,
        settings.host,
        port,
        threads=settings.threads,
        certfile=settings.certfile,
        keyfile=settings.keyfile,
        reuse_port=reuse_port,
        limits=connection_limits(settings),
    )
