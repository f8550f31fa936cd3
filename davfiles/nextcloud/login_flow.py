"""Login Flow v2 over HTTP, as Nextcloud's desktop client and mobile apps drive it.

``POST /index.php/login/v2`` starts a flow and answers the login URL and the poll endpoint;
the user logs in on that URL in a browser; the app polls ``POST /index.php/login/v2/poll`` with
``token=<poll token>`` and gets ``{server, loginName, appPassword}`` once, 404 before and after.
The page's login is checked and throttled exactly like a WebDAV login.
"""

from __future__ import annotations

import html

from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Request, Response

from davfiles.auth.login_flows import LoginFlows, TooManyFlows
from davfiles.auth.service import Authenticator
from davfiles.auth.throttle import LoginThrottled
from davfiles.errors import AuthFailed
from davfiles.nextcloud.login_page import CsrfGuard, login_form, page
from davfiles.rest.io import json_response

FLOW_PREFIX = "/index.php/login/v2"
# A flow's label, which becomes its app password's token label: "Login flow: <User-Agent>".
_LABEL_PREFIX = "Login flow: "
_UNNAMED = "an app that gave no name"
# Seconds an address with too many flows waiting is told to wait (flows expire in 20 minutes).
FLOW_RETRY_AFTER = 60
_FORM_LIMIT = 64 * 1024


class _FormRequest(Request):
    """A request whose form may hold a few small fields, nothing more."""

    max_content_length = _FORM_LIMIT
    max_form_memory_size = _FORM_LIMIT
    max_form_parts = 16


class LoginFlowDoor:
    def __init__(self, flows: LoginFlows, authenticator: Authenticator) -> None:
        self._flows = flows
        self._authenticator = authenticator
        self._csrf = CsrfGuard(authenticator.derive_key("login flow csrf"))

    def start(self, request: Request) -> Response:
        agent = request.headers.get("User-Agent", "").strip()
        try:
            flow = self._flows.start(_LABEL_PREFIX + (agent or _UNNAMED), request.remote_addr or "")
        except TooManyFlows:
            return json_response(
                {"error": "too many login flows waiting from this address"},
                429,
                headers={"Retry-After": str(FLOW_RETRY_AFTER), "Cache-Control": "no-store"},
            )
        base = _server(request)
        return json_response(
            {
                "poll": {"token": flow.poll_token, "endpoint": f"{base}{FLOW_PREFIX}/poll"},
                "login": f"{base}{FLOW_PREFIX}/flow/{flow.login_token}",
            },
            headers={"Cache-Control": "no-store"},
        )

    def poll(self, request: Request) -> Response:
        form = _FormRequest(request.environ)
        try:
            token = form.form.get("token") or form.args.get("token") or ""
        except HTTPException as exc:
            return json_response({"error": exc.description}, exc.code or 400)
        granted = self._flows.claim(token) if token else None
        if granted is None:
            return json_response([], 404)
        return json_response(
            {
                "server": _server(request),
                "loginName": granted.login_name,
                "appPassword": granted.secret,
            },
            headers={"Cache-Control": "no-store"},
        )

    def page(self, request: Request, login_token: str) -> Response:
        form = _FormRequest(request.environ)
        label = self._flows.pending(login_token)
        if label is None:
            return page(
                form, "Link expired", "<p>This login link is invalid or has expired.</p>", 404
            )
        app = label.removeprefix(_LABEL_PREFIX)
        if form.method != "POST":
            cookie = self._csrf.cookie_value(form)
            csrf = self._csrf.field(cookie, login_token)
            return page(form, "Connect an app", login_form(csrf, app), cookie=cookie)
        try:
            return self._submit(form, login_token, app)
        except HTTPException as exc:
            text = html.escape(exc.description or "")
            return page(form, "Bad request", f"<p>{text}</p>", exc.code or 400)

    def _submit(self, form: _FormRequest, login_token: str, app: str) -> Response:
        if not self._csrf.passes(form, login_token):
            return page(form, "Session expired", "<p>Reload the page and log in again.</p>", 403)
        name = form.form.get("user", "").strip()
        password = form.form.get("password", "")
        csrf = form.form.get("csrf", "")
        try:
            owner = self._authenticator.verify(
                name, password, client=form.remote_addr, tokens=False
            )
        except LoginThrottled as exc:
            response = page(
                form,
                "Connect an app",
                login_form(
                    csrf, app, name, f"Too many failed logins: retry in {exc.retry_after} s."
                ),
                429,
            )
            response.headers["Retry-After"] = str(exc.retry_after)
            return response
        except AuthFailed:
            return page(
                form,
                "Connect an app",
                login_form(csrf, app, name, "Wrong user name or password."),
                403,
            )
        if not self._flows.grant(login_token, owner):
            return page(
                form, "Link expired", "<p>This login link is invalid or has expired.</p>", 404
            )
        return page(form, "Account connected", "<p>You can close this window.</p>")


def _server(request: Request) -> str:
    """The server URL the app should use, as the client reached us (with a proxy's prefix)."""
    return request.root_url.rstrip("/")
