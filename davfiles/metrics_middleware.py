"""The one middleware in front of everything that counts requests and writes the access log.

It notes the time, the path (before WsgiDAV rewrites ``PATH_INFO``) and counts the request body
as the application reads it; it wraps the answer's iterable to count the bytes as the server
sends them (nothing is buffered) and, when the server closes it, records the request: status,
door and user as the doors left them in the environ (``metrics_doors``), client address as the
front of the stack left ``REMOTE_ADDR``. With metrics and the access log both off, it is not
installed at all.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from davfiles.access_log import AccessLog, AccessRecord
from davfiles.drain import CountingInput
from davfiles.metrics_doors import door_of, user_of

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

    from davfiles.app import Services
    from davfiles.metrics import Metrics

METRICS_PATH = "/metrics"
_UPLOAD_METHODS = frozenset({"PUT", "POST"})


def observe_requests(app: WSGIApplication, services: Services) -> WSGIApplication:
    """``app`` behind the middleware as the settings ask, or ``app`` itself when they ask for
    neither metrics nor an access log."""
    settings = services.settings
    metrics: Metrics | None = None
    endpoint: WSGIApplication | None = None
    if settings.metrics_enabled:
        # Here, not at the top: prometheus_client picks its storage when first imported, which
        # must follow the supervisor's PROMETHEUS_MULTIPROC_DIR; and without metrics a worker
        # never loads it.
        from davfiles import metrics_dir
        from davfiles.metrics import Metrics, MetricsEndpoint, metrics_token_digest

        metrics = Metrics(metrics_dir.current())
        services.audit.observer = metrics.audit_event
        metrics.watch_engine(services.db.engine)
        if settings.metrics_token:
            digest = metrics_token_digest(settings.metrics_token)
            endpoint = MetricsEndpoint(metrics.registry, digest)
    access_log = (
        AccessLog(settings.access_log, settings.access_log_format) if settings.access_log else None
    )
    if metrics is None and access_log is None:
        return app
    return ObserveRequests(app, metrics, access_log, endpoint)


class ObserveRequests:
    def __init__(
        self,
        app: WSGIApplication,
        metrics: Metrics | None,
        access_log: AccessLog | None,
        endpoint: WSGIApplication | None,
    ) -> None:
        self.app = app
        self.metrics = metrics
        self.access_log = access_log
        self._endpoint = endpoint

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        exchange = _Exchange(self, environ, start_response)
        app = self.app
        if self._endpoint is not None and environ.get("PATH_INFO") == METRICS_PATH:
            app = self._endpoint
        try:
            exchange.result = app(environ, exchange.start_response)
        except BaseException:
            exchange.close()
            raise
        return exchange


class _Exchange:
    """One request in progress, and the iterable of its answer."""

    __slots__ = (
        "_observer",
        "_environ",
        "_start_response",
        "_started",
        "_input",
        "_upload",
        "_iterator",
        "_closed",
        "path",
        "status",
        "result",
        "sent",
    )

    def __init__(
        self, observer: ObserveRequests, environ: WSGIEnvironment, start_response: StartResponse
    ) -> None:
        self._observer = observer
        self._environ = environ
        self._start_response = start_response
        self._started = time.perf_counter()
        self.path = environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")
        self.status = "500"
        self.result: Iterable[bytes] = ()
        self._iterator: Iterator[bytes] | None = None
        self.sent = 0
        self._closed = False
        self._input: CountingInput | None = None
        if environ.get("CONTENT_LENGTH", "") not in ("", "0") or (
            "HTTP_TRANSFER_ENCODING" in environ
        ):
            self._input = CountingInput(environ["wsgi.input"])
            environ["wsgi.input"] = self._input
        metrics = observer.metrics
        self._upload = (
            metrics is not None
            and self._input is not None
            and environ.get("REQUEST_METHOD") in _UPLOAD_METHODS
        )
        if self._upload:
            metrics.uploads.inc()  # type: ignore[union-attr]

    def start_response(self, status: str, headers: Any, exc_info: Any = None) -> Any:
        self.status = status[:3]
        return self._start_response(status, headers, exc_info)

    def __iter__(self) -> _Exchange:
        self._iterator = iter(self.result)
        return self

    def __next__(self) -> bytes:
        chunk = next(self._iterator)  # type: ignore[arg-type]
        self.sent += len(chunk)
        return chunk

    def close(self) -> None:
        """Close the application's iterable, then record the request (once)."""
        if self._closed:
            return
        self._closed = True
        try:
            close = getattr(self.result, "close", None)
            if close is not None:
                close()
        finally:
            self._record()

    def _record(self) -> None:
        seconds = time.perf_counter() - self._started
        environ = self._environ
        observer = self._observer
        door = door_of(environ)
        method = environ.get("REQUEST_METHOD", "")
        bytes_in = 0 if self._input is None else self._input.consumed
        if observer.metrics is not None:
            if self._upload:
                observer.metrics.uploads.dec()
            observer.metrics.request(door, method, self.status, seconds, bytes_in, self.sent)
        if observer.access_log is not None:
            observer.access_log.write(
                AccessRecord(
                    client=environ.get("REMOTE_ADDR"),
                    user=user_of(environ),
                    door=door,
                    method=method,
                    raw_path=self.path,
                    protocol=environ.get("SERVER_PROTOCOL", ""),
                    status=int(self.status) if self.status.isdigit() else 0,
                    bytes_in=bytes_in,
                    bytes_out=self.sent,
                    seconds=seconds,
                    referer=environ.get("HTTP_REFERER"),
                    user_agent=environ.get("HTTP_USER_AGENT"),
                )
            )
