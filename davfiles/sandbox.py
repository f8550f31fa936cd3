"""Every response that does not say otherwise is sandboxed: user content never runs in the
origin of the web app.

A user's HTML or SVG file fetched through WebDAV (``/dav/``, ``/remote.php/...``), a public
download (``/public/<id>``) or a REST dialect came back as it was stored, inline, in the origin
that also serves ``/app/``: its scripts could read the app's pages with a logged-in visitor's
session (their CSRF tokens included) and act as that visitor. ``SandboxUnmarked`` adds
``Content-Security-Policy: sandbox`` (the browser gives the document an opaque origin of its
own and runs no script in it) and ``X-Content-Type-Options: nosniff`` to every response that
has no policy of its own. The pages davfiles means to run in a browser, the web app's, the share
links' and the login flow's, set their own policies and are left as they are; WebDAV and REST
clients ignore both headers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

SANDBOX = ("Content-Security-Policy", "sandbox")
NOSNIFF = ("X-Content-Type-Options", "nosniff")

StartResponse = Callable[..., Any]


class SandboxUnmarked:
    """WSGI middleware; see the module docstring."""

    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        def marked(status: str, headers: list[tuple[str, str]], *exc_info: Any) -> Any:
            names = {name.lower() for name, _value in headers}
            added = [header for header in (SANDBOX, NOSNIFF) if header[0].lower() not in names]
            return start_response(status, [*headers, *added] if added else headers, *exc_info)

        return self.app(environ, marked)
