"""WebApp: the web app under ``/app/`` and the browser's way in from ``/`` and ``/dav/``.

A WSGI middleware in front of the other doors: it answers ``/app/...``, sends browsers that
navigate to ``/`` or to a folder under ``/dav/`` there (``entry.py``) and passes every other
request on after one prefix test. Its session cookie is scoped to ``/app/`` and read nowhere
else: WebDAV and the REST dialects never accept it.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Iterable
from importlib import resources
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from jinja2 import Environment, PackageLoader, select_autoescape
from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from davfiles.auth.accounts import Accounts
from davfiles.auth.service import Authenticator
from davfiles.auth.throttle import LoginThrottled
from davfiles.errors import AuthFailed, DavfilesError
from davfiles.metrics_doors import DOOR_KEY, USER_KEY
from davfiles.nextcloud.login_page import CSRF_COOKIE, CsrfGuard
from davfiles.rest.dialect import status_for
from davfiles.store import Owner, Store
from davfiles.store.nodes import MAX_ID
from davfiles.web import actions, admin, chunked, entry, link_pages, pages
from davfiles.web.headers import PAGE_HEADERS
from davfiles.web.sessions import BrowserSession, WebSessions
from davfiles.web.urls import see_other

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

logger = logging.getLogger(__name__)

APP_PREFIX = "/app/"
_UPLOADS = "/app/uploads/"
SESSION_COOKIE = "davfiles_session"
DOOR = "web"
# The login form's CSRF field is bound to this in place of a flow's token.
_LOGIN_PURPOSE = "web app login"
_STATIC_TYPES = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8"}
Handler = Callable[..., Response]
_ACCOUNT_ACTIONS = (
    "logout",
    "logout_everywhere",
    "password",
    "end_session",
    "token_create",
    "token_revoke",
)
# The admin pages (``admin.py``): a 403 page for anyone but an admin.
_ADMIN_PAGES: dict[str, Handler] = {
    "admin_users": admin.admin_users,
    "admin_links": admin.admin_links,
}
# The chunked uploads of the app's script (``chunked.py``), which answer JSON.
_CHUNKED: dict[str, Handler] = {
    "upload_check": chunked.check,
    "upload_state": chunked.state,
    "upload_start": chunked.start,
    "upload_cancel": chunked.cancel,
    "upload_finish": chunked.finish,
    "upload_chunk": chunked.chunk,
}
# The links pages (``link_pages.py``).
_LINK_PAGES: dict[str, Handler] = {
    "links": link_pages.links,
    "link": link_pages.link,
    "link_qr": link_pages.link_qr,
    "public_qr": link_pages.public_qr,
}
# Ids in URLs: beyond this no row can have one (a database integer).
_ID = f"int(max={MAX_ID})"


def _rules() -> list[Rule]:
    get, post = ["GET", "HEAD"], ["POST"]
    return [
        Rule("/app/", methods=get, endpoint="home"),
        Rule("/app/static/<name>", methods=get, endpoint="static"),
        Rule("/app/login", methods=[*get, *post], endpoint="login"),
        Rule("/app/logout", methods=post, endpoint="logout"),
        Rule("/app/logout-everywhere", methods=post, endpoint="logout_everywhere"),
        Rule("/app/account", methods=get, endpoint="account"),
        Rule("/app/account/password", methods=post, endpoint="password"),
        Rule("/app/account/end-session", methods=post, endpoint="end_session"),
        Rule("/app/account/tokens", methods=post, endpoint="token_create"),
        Rule("/app/account/tokens/revoke", methods=post, endpoint="token_revoke"),
        Rule("/app/files/", methods=get, endpoint="files", defaults={"path": ""}),
        Rule("/app/files/<path:path>", methods=get, endpoint="files"),
        Rule("/app/info/<path:path>", methods=get, endpoint="info"),
        Rule("/app/download/<path:path>", methods=get, endpoint="download"),
        Rule("/app/view/<path:path>", methods=get, endpoint="view"),
        Rule("/app/zip/", methods=get, endpoint="zip_folder", defaults={"path": ""}),
        Rule("/app/zip/<path:path>", methods=get, endpoint="zip_folder"),
        Rule("/app/zip", methods=post, endpoint="zip_selection"),
        Rule("/app/do/<action>", methods=post, endpoint="action"),
        Rule("/app/trash", methods=get, endpoint="trash"),
        Rule("/app/links", methods=get, endpoint="links"),
        Rule(f"/app/links/<{_ID}:link_id>", methods=get, endpoint="link"),
        Rule(f"/app/links/<{_ID}:link_id>/qr.svg", methods=get, endpoint="link_qr"),
        Rule(f"/app/links/public/<{_ID}:file_id>/qr.svg", methods=get, endpoint="public_qr"),
        Rule("/app/admin/", methods=get, endpoint="admin"),
        Rule("/app/admin/users", methods=get, endpoint="admin_users"),
        Rule("/app/admin/links", methods=get, endpoint="admin_links"),
        Rule("/app/versions/<int:version_id>", methods=get, endpoint="version_download"),
        Rule("/app/uploads/check", methods=post, endpoint="upload_check"),
        Rule("/app/uploads/<upload_id>", methods=get, endpoint="upload_state"),
        Rule("/app/uploads/<upload_id>", methods=post, endpoint="upload_start"),
        Rule("/app/uploads/<upload_id>", methods=["DELETE"], endpoint="upload_cancel"),
        Rule("/app/uploads/<upload_id>/finish", methods=post, endpoint="upload_finish"),
        Rule("/app/uploads/<upload_id>/<number>", methods=["PUT"], endpoint="upload_chunk"),
    ]


class WebApp:
    def __init__(
        self,
        app: WSGIApplication,
        store: Store,
        authenticator: Authenticator,
        accounts: Accounts,
        sessions: WebSessions,
        block_size: int,
    ) -> None:
        self.app = app
        self.store = store
        self.authenticator = authenticator
        self.accounts = accounts
        self.sessions = sessions
        self.block_size = block_size
        self._login_csrf = CsrfGuard(authenticator.derive_key("web app login csrf"))
        self._map = Map(_rules(), strict_slashes=False, merge_slashes=False)
        self.templates = Environment(
            loader=PackageLoader("davfiles.web", "templates"),
            autoescape=select_autoescape(default=True),
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.templates.globals.update(pages.TEMPLATE_HELPERS)
        self.templates.globals.update(link_pages.TEMPLATE_HELPERS)

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path.startswith(APP_PREFIX) or path == "/app":
            environ[DOOR_KEY] = DOOR
            return self._answer(Request(environ))(environ, start_response)
        if path == "/" or path == "/dav" or path.startswith(entry.DAV_PREFIX):
            request = Request(environ)
            if entry.wants_html(request):
                location = entry.app_location(request)
                if location is not None:
                    return see_other(request, location)(environ, start_response)
        return self.app(environ, start_response)

    def _answer(self, request: Request) -> Response:
        if request.path == "/app":
            return see_other(request, APP_PREFIX, 308)
        adapter = self._map.bind_to_environ(request.environ)
        try:
            endpoint, arguments = adapter.match()
        except MethodNotAllowed as exc:
            response = self.error_page(
                request, None, 405, "This address does not take that method."
            )
            response.headers["Allow"] = ", ".join(exc.valid_methods or [])
            return response
        except NotFound:
            return self.error_page(request, None, 404, "There is no such page.")
        except HTTPException as exc:  # a redirect for a missing slash
            return exc.get_response(request.environ)  # type: ignore[return-value]
        session: BrowserSession | None = None
        try:
            if endpoint == "static":
                return _static(request, arguments["name"])
            if endpoint == "login":
                return self._login(request)
            session = self._session(request)
            if session is None:
                return self._to_login(request)
            request.environ[USER_KEY] = session.owner.name
            return self._dispatch(endpoint, request, session, arguments)
        except LoginThrottled as exc:
            response = self.error_page(request, session, 429, str(exc))
            response.headers["Retry-After"] = str(exc.retry_after)
            return response
        except DavfilesError as exc:
            return self.error_page(request, session, status_for(exc), str(exc))
        except Exception:
            logger.exception("%s %s failed", request.method, request.path)
            return self.error_page(request, None, 500, "Something went wrong on the server.")

    def _to_login(self, request: Request) -> Response:
        """A page asked for without a live session goes to the login, and comes back; a
        change or a script's request is refused (its form or data would be lost)."""
        if request.method not in ("GET", "HEAD") or request.path.startswith(_UPLOADS):
            return self.error_page(request, None, 401, "Your login has ended: log in again.")
        query = request.query_string.decode("latin-1")
        back = request.path + ("?" + query if query else "")
        return see_other(request, "/app/login?" + urlencode({"next": back}))

    def _dispatch(
        self, endpoint: str, request: Request, session: BrowserSession, arguments: dict[str, Any]
    ) -> Response:
        if endpoint == "home":
            return see_other(request, "/app/files/")
        if endpoint == "admin":
            return see_other(request, "/app/admin/users")
        if endpoint == "action":
            return actions.run(self, request, session, str(arguments["action"]))
        if endpoint in _ACCOUNT_ACTIONS:
            return actions.run(self, request, session, endpoint)
        handler: Handler = (
            _CHUNKED.get(endpoint)
            or _LINK_PAGES.get(endpoint)
            or _ADMIN_PAGES.get(endpoint)
            or getattr(pages, endpoint)
        )
        return handler(self, request, session, **arguments)

    # --- sessions and login ---------------------------------------------------------------

    def _session(self, request: Request) -> BrowserSession | None:
        return self.sessions.find(request.cookies.get(SESSION_COOKIE, ""))

    def _login(self, request: Request) -> Response:
        cookie = self._login_csrf.cookie_value(request)
        csrf = self._login_csrf.field(cookie, _LOGIN_PURPOSE)
        target = _local_target(request.args.get("next", "") or request.form.get("next", ""))
        if request.method != "POST":
            if self._session(request) is not None:
                return see_other(request, target)
            return self._login_page(request, cookie, csrf, target)
        if not self._login_csrf.passes(request, _LOGIN_PURPOSE):
            return self._login_page(
                request,
                cookie,
                csrf,
                target,
                error="The form was out of date: log in again.",
                status=403,
            )
        name = request.form.get("user", "").strip()
        try:
            owner = self.authenticator.verify(
                name, request.form.get("password", ""), client=request.remote_addr
            )
        except LoginThrottled as exc:
            response = self._login_page(request, cookie, csrf, target, name, str(exc), 429)
            response.headers["Retry-After"] = str(exc.retry_after)
            return response
        except AuthFailed:
            return self._login_page(
                request, cookie, csrf, target, name, "Wrong user name or password.", 401
            )
        response = see_other(request, target)
        self.set_session_cookie(request, response, owner)
        return response

    def set_session_cookie(self, request: Request, response: Response, owner: Owner) -> None:
        secret = self.sessions.start(owner, request.remote_addr, request.headers.get("User-Agent"))
        response.set_cookie(
            SESSION_COOKIE,
            secret,
            max_age=self.sessions.lifetime,
            path=request.script_root + APP_PREFIX,
            secure=request.scheme == "https",
            httponly=True,
            samesite="Lax",
        )

    def clear_session_cookie(self, request: Request, response: Response) -> None:
        response.delete_cookie(
            SESSION_COOKIE,
            path=request.script_root + APP_PREFIX,
            secure=request.scheme == "https",
            httponly=True,
            samesite="Lax",
        )

    def _login_page(
        self,
        request: Request,
        cookie: str,
        csrf: str,
        target: str,
        name: str = "",
        error: str = "",
        status: int = 200,
    ) -> Response:
        response = self.render(
            request,
            "login.html",
            None,
            status=status,
            csrf=csrf,
            target=target,
            name=name,
            error=error,
        )
        response.set_cookie(
            CSRF_COOKIE,
            cookie,
            path=request.script_root + "/app/login",
            secure=request.scheme == "https",
            httponly=True,
            samesite="Strict",
        )
        return response

    # --- rendering ------------------------------------------------------------------------

    def render(
        self,
        request: Request,
        template: str,
        session: BrowserSession | None,
        status: int = 200,
        **context: object,
    ) -> Response:
        """A page; its URLs start with ``root``, the prefix the request came through."""
        body = self.templates.get_template(template).render(
            session=session, root=request.script_root, **context
        )
        return Response(body, status, PAGE_HEADERS, mimetype="text/html")

    def error_page(
        self, request: Request, session: BrowserSession | None, status: int, message: str
    ) -> Response:
        """The failure as a page, or as JSON to the script's upload requests."""
        if request.path.startswith(_UPLOADS):
            body = json.dumps({"error": message})
            return Response(body, status, PAGE_HEADERS, mimetype="application/json")
        return self.render(
            request, "error.html", session, status=status, status_code=status, message=message
        )


def _local_target(value: str) -> str:
    """Where to go after login: a path of the app only, never another site."""
    if value.startswith(APP_PREFIX) and not value.startswith("//") and "\\" not in value:
        return value
    return "/app/files/"


def _static(request: Request, name: str) -> Response:
    """The app's own stylesheet and script, from the package (never users' files)."""
    suffix = name[name.rfind(".") :] if "." in name else ""
    content_type = _STATIC_TYPES.get(suffix)
    if content_type is None or "/" in name or name.startswith("."):
        return Response("not found", 404, PAGE_HEADERS, mimetype="text/plain")
    try:
        data = resources.files("davfiles.web").joinpath("static", name).read_bytes()
    except (FileNotFoundError, IsADirectoryError):
        return Response("not found", 404, PAGE_HEADERS, mimetype="text/plain")
    response = Response(data, 200, {**PAGE_HEADERS, "Cache-Control": "public, max-age=3600"})
    response.headers["Content-Type"] = content_type
    response.set_etag(hashlib.sha256(data).hexdigest()[:32])
    return response.make_conditional(request)
