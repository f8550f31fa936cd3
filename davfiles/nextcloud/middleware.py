"""NextcloudMiddleware: answers ``/status.php``, ``/ocs/`` and ``/index.php/login/``; passes
everything else on after one prefix test, so other requests pay nothing measurable."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING

from werkzeug.exceptions import MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from davfiles.auth.login_flows import LoginFlows
from davfiles.auth.service import Authenticator
from davfiles.auth.throttle import LoginThrottled
from davfiles.errors import AuthFailed
from davfiles.metrics_doors import DOOR_KEY, NEXTCLOUD, USER_KEY
from davfiles.nextcloud import cloud
from davfiles.nextcloud.download_limit import download_limit_endpoint
from davfiles.nextcloud.login_flow import LoginFlowDoor
from davfiles.nextcloud.ocs import OcsStatus, ocs_response
from davfiles.nextcloud.shares import shares_endpoint
from davfiles.nextcloud.status import status_php
from davfiles.rest.credentials import authenticate
from davfiles.store import Store

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

logger = logging.getLogger(__name__)

PREFIXES = ("/status.php", "/ocs/", "/index.php/login/")
# For the start-up check that no REST dialect is mounted over these paths.
CLAIMED_PATHS = ("/status.php", "/ocs/<path:rest>", "/index.php/login/<path:rest>")
_OCS = {
    "capabilities": cloud.capabilities_endpoint,
    "user": cloud.user_endpoint,
    "shares": shares_endpoint,
    "download_limit": download_limit_endpoint,
}
SHARES = "/apps/files_sharing/api/v1/shares"


def _rules() -> list[Rule]:
    rules = [Rule("/status.php", methods=["GET"], endpoint="status")]
    for version in (1, 2):
        rules += [
            Rule(
                f"/ocs/v{version}.php{SHARES}",
                methods=["GET", "POST"],
                endpoint="shares",
                defaults={"version": version},
            ),
            Rule(
                f"/ocs/v{version}.php{SHARES}/<share_id>",
                methods=["GET", "PUT", "DELETE"],
                endpoint="shares",
                defaults={"version": version},
            ),
            Rule(
                f"/ocs/v{version}.php/apps/files_downloadlimit/api/v1/<token>/limit",
                methods=["GET", "PUT", "DELETE"],
                endpoint="download_limit",
                defaults={"version": version},
            ),
        ]
        for name in ("capabilities", "user"):
            rules.append(
                Rule(
                    f"/ocs/v{version}.php/cloud/{name}",
                    methods=["GET"],
                    endpoint=name,
                    defaults={"version": version},
                )
            )
    rules += [
        Rule("/index.php/login/v2", methods=["POST"], endpoint="flow_start"),
        Rule("/index.php/login/v2/poll", methods=["POST"], endpoint="flow_poll"),
        Rule("/index.php/login/v2/flow/<token>", methods=["GET", "POST"], endpoint="flow_page"),
    ]
    return rules


class NextcloudMiddleware:
    def __init__(
        self,
        app: WSGIApplication,
        store: Store,
        authenticator: Authenticator,
        flows: LoginFlows,
    ) -> None:
        self.app = app
        self._store = store
        self._authenticator = authenticator
        self._flows = LoginFlowDoor(flows, authenticator)
        self._map = Map(_rules(), strict_slashes=False, merge_slashes=False)

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if not path.startswith(PREFIXES) and path != "/ocs":
            return self.app(environ, start_response)
        environ[DOOR_KEY] = NEXTCLOUD
        request = Request(environ)
        try:
            response = self._dispatch(request)
        except Exception:
            logger.exception("%s %s failed", request.method, request.path)
            response = self._failure(request)
        return response(environ, start_response)

    def _dispatch(self, request: Request) -> Response:
        try:
            endpoint, args = self._map.bind_to_environ(request.environ).match()
        except NotFound:
            return self._not_found(request)
        except MethodNotAllowed as exc:
            return self._method_not_allowed(request, exc)
        if endpoint == "status":
            return status_php(request)
        if endpoint == "flow_start":
            return self._flows.start(request)
        if endpoint == "flow_poll":
            return self._flows.poll(request)
        if endpoint == "flow_page":
            return self._flows.page(request, args["token"])
        version = args.pop("version")
        return self._ocs(request, endpoint, version, args)

    def _ocs(self, request: Request, endpoint: str, version: int, args: dict[str, str]) -> Response:
        try:
            owner = authenticate(request, self._authenticator)
        except LoginThrottled as exc:
            return ocs_response(
                request,
                version,
                [],
                429,
                "too many failed logins, retry later",
                {"Retry-After": str(exc.retry_after)},
            )
        except AuthFailed:
            return ocs_response(
                request,
                version,
                [],
                OcsStatus.UNAUTHORISED,
                "Current user is not logged in",
                {"WWW-Authenticate": f'Basic realm="{self._authenticator.realm}"'},
            )
        request.environ[USER_KEY] = owner.name
        return _OCS[endpoint](request, version, owner, self._store, **args)

    def _not_found(self, request: Request) -> Response:
        version = _ocs_version(request.path)
        if version is None:
            return Response("not found\n", 404, mimetype="text/plain")
        return ocs_response(request, version, [], OcsStatus.NOT_FOUND, "Invalid query")

    def _method_not_allowed(self, request: Request, exc: MethodNotAllowed) -> Response:
        allow = {"Allow": ", ".join(sorted(exc.valid_methods or ()))}
        version = _ocs_version(request.path)
        if version is None:
            return Response("method not allowed\n", 405, allow, mimetype="text/plain")
        return ocs_response(request, version, [], 405, "method not allowed", allow)

    def _failure(self, request: Request) -> Response:
        version = _ocs_version(request.path)
        if version is None:
            return Response("internal server error\n", 500, mimetype="text/plain")
        return ocs_response(request, version, [], OcsStatus.SERVER_ERROR, "internal server error")


def _ocs_version(path: str) -> int | None:
    """1 or 2 for a path below ``/ocs/``, None for the other prefixes."""
    if not path.startswith("/ocs"):
        return None
    return 2 if path.startswith("/ocs/v2.php") else 1
