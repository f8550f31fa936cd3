"""Prometheus metrics of a server process, with ``prometheus_client``.

Imported only when metrics are on (``app.py`` builds them through ``metrics_middleware``):
``prometheus_client`` decides where values live when it is first imported. With several
workers the supervisor has set ``PROMETHEUS_MULTIPROC_DIR`` before forking them
(``metrics_dir``), so every worker writes its values to files there and any process reading
the folder reports the sum over all of them. Without it (a server inside a test process) the
values stay in this process's own registry.

Every label takes few values: the door (``webdav``, ``fast``, ``rest:<dialect>``, ``other``),
the method (WebDAV's and HTTP's; anything else is ``other``), the status code, and for login
events how the client authenticated or which limit refused it.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, make_wsgi_app, values
from prometheus_client.multiprocess import MultiProcessCollector
from sqlalchemy import Engine, event

from davfiles.auth.audit import AuditEvent
from davfiles.config import METRICS_TOKEN_HASH

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

# Small requests take milliseconds, transfers of large files minutes.
REQUEST_BUCKETS = (0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)
METHODS = frozenset(
    "GET HEAD PUT POST DELETE OPTIONS PATCH PROPFIND PROPPATCH MKCOL COPY MOVE LOCK UNLOCK "
    "REPORT SEARCH TRACE".split()
)
OTHER_METHOD = "other"


class Metrics:
    """The metrics one worker records; ``registry`` reports those of every worker."""

    def __init__(self, multiprocess_dir: str | None) -> None:
        registry = CollectorRegistry()
        if multiprocess_dir:
            if values.ValueClass is values.MutexValue:
                raise RuntimeError(
                    "prometheus_client was imported before PROMETHEUS_MULTIPROC_DIR was set"
                )
            MultiProcessCollector(registry, multiprocess_dir)
            own: CollectorRegistry | None = None
        else:
            own = registry
        self.registry = registry
        self._requests = Counter(
            "davfiles_http_requests",
            "Requests answered, by door, method and status code.",
            ("door", "method", "status"),
            registry=own,
        )
        self._duration = Histogram(
            "davfiles_http_request_duration_seconds",
            "Time from a request's arrival at the application to the end of its answer.",
            ("door", "method"),
            buckets=REQUEST_BUCKETS,
            registry=own,
        )
        self._bytes_in = Counter(
            "davfiles_http_request_body_bytes",
            "Request body bytes read, by door.",
            ("door",),
            registry=own,
        )
        self._bytes_out = Counter(
            "davfiles_http_response_body_bytes",
            "Response body bytes sent, by door.",
            ("door",),
            registry=own,
        )
        self.uploads = Gauge(
            "davfiles_uploads_in_progress",
            "PUT and POST requests with a body whose answer is not finished yet.",
            registry=own,
            multiprocess_mode="livesum",
        )
        self._quota_refusals = Counter(
            "davfiles_quota_refusals",
            "Writes refused for quota (WebDAV 507, each dialect's equivalent).",
            registry=own,
        )
        self._login_failures = Counter(
            "davfiles_login_failures",
            "Failed logins, by how the client authenticated.",
            ("via",),
            registry=own,
        )
        self._login_throttled = Counter(
            "davfiles_login_throttled",
            "Login attempts refused with 429 while a user name or address must wait.",
            ("limit",),
            registry=own,
        )
        self._database_seconds = Counter(
            "davfiles_db_seconds",
            "Time spent in database statements while serving requests, by door.",
            ("door",),
            registry=own,
        )
        self._database_statements = Counter(
            "davfiles_db_statements",
            "Database statements run while serving requests, by door.",
            ("door",),
            registry=own,
        )
        self._database_clock = _DatabaseClock()
        self._request_children: dict[tuple[str, str, str], Any] = {}
        self._duration_children: dict[tuple[str, str], Any] = {}
        self._in_children: dict[str, Any] = {}
        self._out_children: dict[str, Any] = {}
        self._db_seconds_children: dict[str, Any] = {}
        self._db_statements_children: dict[str, Any] = {}

    def request(
        self, door: str, method: str, status: str, seconds: float, bytes_in: int, bytes_out: int
    ) -> None:
        """Count one answered request (children cached: ``labels()`` takes a lock each time)."""
        if method not in METHODS:
            method = OTHER_METHOD
        key = (door, method, status)
        counter = self._request_children.get(key)
        if counter is None:
            counter = self._request_children[key] = self._requests.labels(*key)
        counter.inc()
        histogram = self._duration_children.get(key[:2])
        if histogram is None:
            histogram = self._duration_children[key[:2]] = self._duration.labels(door, method)
        histogram.observe(seconds)
        if bytes_in:
            _child(self._in_children, self._bytes_in, door).inc(bytes_in)
        if bytes_out:
            _child(self._out_children, self._bytes_out, door).inc(bytes_out)
        clock = self._database_clock
        if clock.statements:
            _child(self._db_seconds_children, self._database_seconds, door).inc(clock.seconds)
            _child(self._db_statements_children, self._database_statements, door).inc(
                clock.statements
            )
            clock.seconds, clock.statements = 0.0, 0

    def audit_event(self, name: AuditEvent, target: str | None) -> None:
        """Count the security events the audit log sees (see ``AuditLog.observer``)."""
        if name is AuditEvent.LOGIN_FAIL:
            self._login_failures.labels(target or "unknown").inc()
        elif name is AuditEvent.LOGIN_THROTTLED:
            self._login_throttled.labels(target or "unknown").inc()
        elif name is AuditEvent.QUOTA_REFUSED:
            self._quota_refusals.inc()

    def watch_engine(self, engine: Engine) -> None:
        """Add each statement's time (SQLAlchemy's cursor events) to the request in progress
        in this thread; ``request`` counts the sum once, not a metric write per statement."""
        clock = self._database_clock

        def before(*_: Any) -> None:
            clock.started = time.perf_counter()

        def after(*_: Any) -> None:
            clock.seconds += time.perf_counter() - clock.started
            clock.statements += 1

        event.listen(engine, "before_cursor_execute", before)
        event.listen(engine, "after_cursor_execute", after)


class _DatabaseClock(threading.local):
    """Database time of the request this thread serves (one request at a time per thread)."""

    started = 0.0
    seconds = 0.0
    statements = 0


def _child(cache: dict[str, Any], metric: Any, label: str) -> Any:
    child = cache.get(label)
    if child is None:
        child = cache[label] = metric.labels(label)
    return child


def metrics_token_digest(token: str) -> bytes:
    """What the endpoint keeps of ``metrics_token``: a SHA-256 (given as ``sha256:<hex>``)."""
    if METRICS_TOKEN_HASH.match(token):
        return bytes.fromhex(token.removeprefix("sha256:"))
    return hashlib.sha256(token.encode()).digest()


class MetricsEndpoint:
    """``/metrics`` on the main port for ``Authorization: Bearer <metrics_token>``; else 401."""

    def __init__(self, registry: CollectorRegistry, digest: bytes) -> None:
        self._app: Callable[..., Iterable[bytes]] = make_wsgi_app(registry)
        self._digest = digest

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        scheme, _, token = environ.get("HTTP_AUTHORIZATION", "").partition(" ")
        presented = hashlib.sha256(token.strip().encode("latin-1", "replace")).digest()
        if scheme.lower() == "bearer" and hmac.compare_digest(presented, self._digest):
            return self._app(environ, start_response)
        body = b'{"error": "metrics need the bearer token"}'
        start_response(
            "401 Unauthorized",
            [
                ("Content-Type", "application/json"),
                ("Content-Length", str(len(body))),
                ("WWW-Authenticate", 'Bearer realm="metrics"'),
            ],
        )
        return [body]
