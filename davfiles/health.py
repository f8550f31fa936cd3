"""``/healthz`` and ``/readyz`` for load balancers and orchestrators, answered without
credentials in front of every door (so no authenticator sees them and no login fails).

``/healthz``: the process answers. ``/readyz``: the database answers a trivial query, the data
dir takes a new file and has more than ``ready_min_free_bytes`` free. Both answer ``ok`` or
``not ready`` and nothing else: no paths, versions or error texts for a stranger. The reason
for a 503 goes to the server log, once per change of state.
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import text

from davfiles.db.engine import Database

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

logger = logging.getLogger(__name__)

HEALTH_PATH = "/healthz"
READY_PATH = "/readyz"
_PATHS = frozenset({HEALTH_PATH, READY_PATH})


class ReadinessCheck:
    """The three conditions of ``/readyz``; ``problem`` says which one fails (for the log)."""

    def __init__(self, db: Database, data_dir: Path, min_free_bytes: int) -> None:
        self._db = db
        self._staging = data_dir / "tmp"
        self._data_dir = data_dir
        self._min_free = min_free_bytes

    def problem(self) -> str | None:
        try:
            with self._db.connect() as connection:
                connection.execute(text("SELECT 1")).scalar_one()
        except Exception as exc:  # any driver error means "not reachable"
            return f"database not reachable: {exc.__class__.__name__}: {exc}".splitlines()[0]
        probe = self._staging / f"readyz-{uuid.uuid4().hex}"
        try:
            self._staging.mkdir(parents=True, exist_ok=True)
            os.close(os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
            probe.unlink()
            stat = os.statvfs(self._data_dir)
        except OSError as exc:
            return f"data dir not writable: {exc.strerror}"
        free = stat.f_bavail * stat.f_frsize
        if free < self._min_free:
            return f"free disk space {free} bytes, below ready_min_free_bytes {self._min_free}"
        return None


class HealthEndpoints:
    """WSGI middleware: answers the two paths (GET and HEAD), passes everything else on."""

    def __init__(self, app: WSGIApplication, readiness: ReadinessCheck) -> None:
        self.app = app
        self._readiness = readiness
        self._last_problem: str | None = None

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path not in _PATHS:
            return self.app(environ, start_response)
        method = environ.get("REQUEST_METHOD", "")
        if method not in ("GET", "HEAD"):
            return _answer(start_response, "405 Method Not Allowed", b"", [("Allow", "GET, HEAD")])
        if path == HEALTH_PATH:
            body, status = b"ok\n", "200 OK"
        else:
            ready = self._ready()
            body = b"ok\n" if ready else b"not ready\n"
            status = "200 OK" if ready else "503 Service Unavailable"
        return _answer(start_response, status, b"" if method == "HEAD" else body, [], len(body))

    def _ready(self) -> bool:
        problem = self._readiness.problem()
        if problem != self._last_problem:
            if problem is None:
                logger.warning("ready again")
            else:
                logger.warning("not ready: %s", problem)
            self._last_problem = problem
        return problem is None


def _answer(
    start_response: StartResponse,
    status: str,
    body: bytes,
    headers: list[tuple[str, str]],
    length: int | None = None,
) -> list[bytes]:
    start_response(
        status,
        [
            ("Content-Type", "text/plain; charset=utf-8"),
            ("Content-Length", str(len(body) if length is None else length)),
            ("Cache-Control", "no-store"),
            *headers,
        ],
    )
    return [body]
