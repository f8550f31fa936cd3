"""RestMiddleware: answers the dialects' paths, /public/ and /openapi.json; passes the rest on.

It sits in front of WsgiDAV, which would otherwise challenge ``Bearer`` and ``Token``
credentials; it authenticates through the same authenticator as the WebDAV side.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

from werkzeug.exceptions import MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from davfiles.auth.throttle import LoginThrottled
from davfiles.errors import AuthFailed, Busy, DavfilesError, InvalidName
from davfiles.request_guard import readable_path
from davfiles.rest.credentials import authenticate
from davfiles.rest.dialect import Dialect, DialectContext, Route
from davfiles.rest.io import file_response, json_response

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

logger = logging.getLogger(__name__)

PUBLIC_PATHS = ("/public/<int:file_id>", "/public/<int:file_id>/<path:name>")
# Everything else below /public/ is answered 404 here, never passed on to WebDAV's 401.
PUBLIC_FALLBACK_PATHS = ("/public", "/public/<path:rest>")
OPENAPI_PATH = "/openapi.json"


class RestMiddleware:
    def __init__(
        self,
        app: WSGIApplication,
        context: DialectContext,
        dialects: Sequence[Dialect],
        openapi: Callable[[], dict[str, Any]],
    ) -> None:
        self._app = app
        self._context = context
        self._openapi = openapi
        self._routes: dict[str, tuple[Dialect, Route]] = {}
        rules = [Rule(path, methods=["GET"], endpoint="public") for path in PUBLIC_PATHS]
        rules += [Rule(path, endpoint="public_missing") for path in PUBLIC_FALLBACK_PATHS]
        rules.append(Rule(OPENAPI_PATH, methods=["GET"], endpoint="openapi"))
        for dialect in dialects:
            for route in dialect.routes:
                endpoint = f"{dialect.name}.{route.handler}"
                self._routes[endpoint] = (dialect, route)
                rules.append(
                    Rule(
                        dialect.prefix + route.path, methods=list(route.methods), endpoint=endpoint
                    )
                )
        self._map = Map(rules, strict_slashes=False, merge_slashes=False)
        self._segments = _first_segments(rule.rule for rule in rules)

    def refusal(self, environ: dict[str, Any], problem: str) -> Response | None:
        """The dialect's own 400 for a malformed request aimed at it (None if not aimed at one)."""
        environ["PATH_INFO"] = readable_path(environ.get("PATH_INFO", ""))
        try:
            endpoint, _args = self._map.bind_to_environ(environ).match()
        except (NotFound, MethodNotAllowed):
            return None
        if endpoint not in self._routes:
            return None
        dialect, _route = self._routes[endpoint]
        return dialect.error_response(InvalidName(problem))

    def answers(self, environ: WSGIEnvironment) -> bool:
        """True if this middleware (not WebDAV behind it) handles the request's path."""
        try:
            self._map.bind_to_environ(environ).match()
        except NotFound:
            return False
        except MethodNotAllowed:
            return True
        return True

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if not self._may_match(environ.get("PATH_INFO", "")):
            return self._app(environ, start_response)
        adapter = self._map.bind_to_environ(environ)
        try:
            endpoint, args = adapter.match()
        except NotFound:
            return self._app(environ, start_response)
        except MethodNotAllowed as exc:
            allowed = ", ".join(sorted(exc.valid_methods or ()))
            response = json_response({"error": "method not allowed"}, 405, {"Allow": allowed})
            return response(environ, start_response)
        request = Request(environ)
        response = self._dispatch(endpoint, request, args)
        return response(environ, start_response)

    def _may_match(self, path: str) -> bool:
        """False when no rule can match: binding the map costs more than a WebDAV GET's read."""
        if self._segments is None:
            return True
        return path.lstrip("/").split("/", 1)[0] in self._segments

    def _dispatch(self, endpoint: str, request: Request, args: dict[str, Any]) -> Response:
        if endpoint == "openapi":
            # The outside URL (scheme, host, prefix) as the client reached this document.
            servers = [{"url": request.url_root.rstrip("/")}]
            return json_response({**self._openapi(), "servers": servers})
        if endpoint == "public":
            return self._public_download(request, **args)
        if endpoint == "public_missing":
            return json_response({"error": "not found"}, 404)
        dialect, route = self._routes[endpoint]
        try:
            owner = None if route.public else authenticate(request, self._context.authenticator)
        except LoginThrottled as exc:
            return _throttled(exc)
        except AuthFailed:
            return dialect.unauthorized(request)
        try:
            return dialect.handler(route)(request, owner, **args)
        except LoginThrottled as exc:
            return _throttled(exc)
        except DavfilesError as exc:
            response = dialect.error_response(exc)
            if isinstance(exc, Busy):
                response.headers["Retry-After"] = str(exc.retry_after)
            return response
        except Exception:
            logger.exception("%s %s failed", request.method, request.path)
            return dialect.internal_error()

    def _public_download(self, request: Request, file_id: int, name: str | None = None) -> Response:
        found = self._context.store.public_file(file_id)
        if found is None or (name is not None and name != found[1].name):
            return json_response({"error": "not found"}, 404)
        owner, info = found
        return file_response(request, self._context.store, owner, info)


def _throttled(exc: LoginThrottled) -> Response:
    """Too many failed logins (also through a dialect's login route): 429, whatever the dialect."""
    return json_response(
        {"error": "too many failed logins, retry later"},
        429,
        {"Retry-After": str(exc.retry_after)},
    )


def _first_segments(paths: Iterable[str]) -> frozenset[str] | None:
    """The fixed first path segments of all rules, as WSGI spells them in ``PATH_INFO`` (UTF-8
    bytes read as Latin-1); None if a rule starts with a variable."""
    segments = set()
    for path in paths:
        first = path.lstrip("/").split("/", 1)[0]
        if not first or "<" in first:
            return None
        segments.add(first.encode().decode("latin-1"))
    return frozenset(segments)
