"""The login page of Login Flow v2: server-rendered HTML, no script, a CSRF-protected form.

The CSRF token is an HMAC over a random cookie and the flow's login token (signed double
submit), so any worker process can check it without stored state; a cross-site page can neither
read the cookie nor compute the field. The page is never framed, cached or sent as a referrer
beyond this server (its URL holds the login token): with ``no-referrer`` browsers send
``Origin: null`` on the form's own POST, which looks like a foreign page.
"""

from __future__ import annotations

import hashlib
import hmac
import html
import secrets

from werkzeug.wrappers import Request, Response

CSRF_COOKIE = "davfiles_login_csrf"
COOKIE_PATH = "/index.php/login/v2/flow/"
_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
_STYLE = (
    "body{font-family:sans-serif;max-width:22em;margin:4em auto;padding:0 1em}"
    "label,input,button{display:block;width:100%;box-sizing:border-box;margin:.3em 0}"
    "input,button{padding:.5em}.error,.warning{color:#a00}"
)


class CsrfGuard:
    def __init__(self, key: bytes) -> None:
        self._key = key

    def cookie_value(self, request: Request) -> str:
        """The browser's CSRF cookie, or a new one (set by ``page``)."""
        value = request.cookies.get(CSRF_COOKIE, "")
        if len(value) == 43 and value.replace("-", "").replace("_", "").isalnum():
            return value
        return secrets.token_urlsafe(32)

    def field(self, cookie: str, login_token: str) -> str:
        message = f"{cookie}\0{login_token}".encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()

    def passes(self, request: Request, login_token: str) -> bool:
        """The form came from our page: matching cookie and field, and no foreign Origin."""
        origin = request.headers.get("Origin")
        if origin is not None and origin.rstrip("/") != request.host_url.rstrip("/"):
            return False
        cookie = request.cookies.get(CSRF_COOKIE, "")
        sent = request.form.get("csrf", "")
        return bool(cookie) and hmac.compare_digest(sent, self.field(cookie, login_token))


def page(
    request: Request,
    title: str,
    body: str,
    status: int = 200,
    cookie: str | None = None,
) -> Response:
    """An HTML page; ``body`` must already be escaped."""
    document = (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body><h1>{html.escape(title)}</h1>{body}</body></html>\n"
    )
    response = Response(document, status, _HEADERS, mimetype="text/html")
    if cookie is not None:
        response.set_cookie(
            CSRF_COOKIE,
            cookie,
            path=request.script_root + COOKIE_PATH,
            secure=request.scheme == "https",
            httponly=True,
            samesite="Strict",
        )
    return response


def login_form(csrf: str, app: str, name: str = "", error: str = "") -> str:
    """The form, posted back to the page's own URL; ``app`` is what the app calls itself
    (whoever started the flow chose it, so it is shown as text, never trusted)."""
    message = f'<p class="error">{html.escape(error)}</p>' if error else ""
    return (
        f"<p>An app asks to connect to your account: <strong>{html.escape(app)}</strong>. "
        "Log in to give it an app password; you can revoke it at any time.</p>"
        '<p class="warning">Only go on if you started this yourself, in an app you use, '
        "moments ago. If someone sent you this link, close the page: they would get "
        "access to your files.</p>"
        f"{message}"
        '<form method="post">'
        f'<input type="hidden" name="csrf" value="{html.escape(csrf)}">'
        '<label for="user">User name</label>'
        '<input id="user" name="user" autocomplete="username" required '
        f'value="{html.escape(name)}">'
        '<label for="password">Password</label>'
        '<input id="password" name="password" type="password" '
        'autocomplete="current-password" required>'
        '<button type="submit">Log in and grant access</button>'
        "</form>"
    )
