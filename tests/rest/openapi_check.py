"""Record every REST response a test causes and check it against the served OpenAPI document."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from jsonschema import Draft202012Validator

from davfiles.request_guard import RequestGuard, readable_path
from davfiles.rest.middleware import RestMiddleware
from tests.shared_log import SharedLog


@dataclass(frozen=True)
class Exchange:
    method: str
    path: str
    status: int
    content_type: str
    body: bytes


def _rest_middleware(app: Any) -> RestMiddleware:
    """The RestMiddleware inside the application's stack of WSGI wrappers (each has ``app``)."""
    for _ in range(10):
        if isinstance(app, RestMiddleware):
            return app
        app = app.app
    raise AssertionError("no RestMiddleware in the application stack")


class ResponseRecorder:
    """Keeps the responses of requests the REST middleware answered itself.

    ``wrap`` is the LiveServer wrapper; records go to a shared file, so they are seen from
    worker processes too.
    """

    def __init__(self, log: SharedLog) -> None:
        self._log = log

    def wrap(self, app: RequestGuard) -> Callable[..., Iterable[bytes]]:
        rest = _rest_middleware(app)

        def recording_app(
            environ: dict[str, Any], start_response: Callable[..., Any]
        ) -> Iterable[bytes]:
            captured: dict[str, Any] = {}

            def recording_start_response(
                status: str, headers: list[tuple[str, str]], *args: Any
            ) -> Any:
                captured["status"] = int(status.split()[0])
                captured["type"] = dict((k.lower(), v) for k, v in headers).get("content-type", "")
                return start_response(status, headers, *args)

            # Ask before the call: WebDAV rewrites PATH_INFO in place into a decoded string.
            answered_here = rest.answers(
                dict(environ, PATH_INFO=readable_path(environ.get("PATH_INFO", "")))
            )
            body = b"".join(app(environ, recording_start_response))
            if answered_here and captured.get("type", "").startswith("application/json"):
                self._log.append(
                    {
                        "method": environ["REQUEST_METHOD"],
                        "path": environ.get("PATH_INFO", ""),
                        "status": captured["status"],
                        "content_type": captured["type"],
                        "body": body.decode("latin-1"),
                    }
                )
            return [body]

        return recording_app

    def exchanges(self) -> list[Exchange]:
        return [
            Exchange(
                r["method"], r["path"], r["status"], r["content_type"], r["body"].encode("latin-1")
            )
            for r in self._log.records()
        ]


def _operation(spec: dict[str, Any], method: str, path: str) -> dict[str, Any] | None:
    candidates = []
    for template, item in spec["paths"].items():
        pattern = re.escape(template.rstrip("/") or "/")
        strict = re.sub(r"\\\{[^}]+\\\}", "[^/]+", pattern)
        loose = re.sub(r"\\\{[^}]+\\\}", ".+", pattern)
        if re.fullmatch(strict, path.rstrip("/") or "/"):
            candidates.append((0, item))
        elif re.fullmatch(loose, path.rstrip("/") or "/"):
            candidates.append((1, item))
    for _rank, item in sorted(candidates, key=lambda pair: pair[0]):
        operation = item.get("head" if method == "HEAD" else method.lower()) or (
            item.get("get") if method == "HEAD" else None
        )
        if operation is not None:
            return operation  # type: ignore[no-any-return]
    return None


def problems(spec: dict[str, Any], exchanges: list[Exchange]) -> list[str]:
    """Every way the recorded responses disagree with the document."""
    found: list[str] = []
    for exchange in exchanges:
        where = f"{exchange.method} {exchange.path} -> {exchange.status}"
        if exchange.path.startswith("/public") or exchange.path == "/openapi.json":
            continue
        operation = _operation(spec, exchange.method, exchange.path)
        if operation is None:
            found.append(f"{where}: no such operation in /openapi.json")
            continue
        responses = operation.get("responses", {})
        response = (
            responses.get(str(exchange.status))
            or responses.get(f"{str(exchange.status)[0]}XX")
            or responses.get("default")
        )
        if response is None:
            found.append(f"{where}: status not documented")
            continue
        schema = response.get("content", {}).get("application/json", {}).get("schema")
        if schema is None or exchange.method == "HEAD":
            continue
        document = {**schema, "components": spec.get("components", {})}
        try:
            data = json.loads(exchange.body)
        except ValueError:
            found.append(f"{where}: body is not JSON")
            continue
        for error in Draft202012Validator(document).iter_errors(data):
            found.append(f"{where}: {error.message} at {list(error.absolute_path)}")
    return found
