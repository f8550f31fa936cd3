"""FolderGet: what WebDAV answers to a GET of a folder, in place of WsgiDAV's directory browser.

A folder has no content of its own. A browser's GET of a folder under ``/dav/`` is sent to
the web app's page of it (``web/entry.py`` tells a browser from a WebDAV client; a path
ending in a slash was sent on before authentication, one without is sent from here, after
it); clients and scripts that GET a folder (as a check that the address and credentials
work) keep the ``200`` they had from the directory browser, with a short plain text saying
where the listing is, and nothing of the folder's members.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from werkzeug.wrappers import Request
from wsgidav import util
from wsgidav.dav_error import HTTP_MEDIATYPE_NOT_SUPPORTED, DAVError
from wsgidav.mw.base_mw import BaseMiddleware

from davfiles.web.entry import folder_page, wants_html

# The mount whose folders a browser sees in the web app.
DAV_MOUNT = "/dav"

TEXT = (
    b"This is a WebDAV folder: connect a WebDAV client to this address, "
    b"or open /app/ in a browser to see its files.\n"
)


class FolderGet(BaseMiddleware):  # type: ignore[misc]
    def is_disabled(self) -> bool:
        return False

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        method = environ["REQUEST_METHOD"]
        provider = environ.get("wsgidav.provider")
        if method not in ("GET", "HEAD") or provider is None:
            return self.next_app(environ, start_response)  # type: ignore[no-any-return]
        resource = provider.get_resource_inst(environ["PATH_INFO"], environ)
        if resource is None or not resource.is_collection:
            return self.next_app(environ, start_response)  # type: ignore[no-any-return]
        if util.get_content_length(environ) != 0:
            raise DAVError(HTTP_MEDIATYPE_NOT_SUPPORTED, "A GET carries no body.")
        mount = environ.get("SCRIPT_NAME", "")
        if mount.endswith(DAV_MOUNT) and wants_html(Request(environ)):
            # Any prefix a trusted proxy announced comes before the mount.
            location = mount[: -len(DAV_MOUNT)] + folder_page(environ["PATH_INFO"])
            start_response("303 See Other", [("Location", location), ("Content-Length", "0")])
            return []
        start_response(
            "200 OK",
            [
                ("Content-Type", "text/plain; charset=utf-8"),
                ("Content-Length", str(len(TEXT))),
                ("Cache-Control", "private"),
                ("X-Content-Type-Options", "nosniff"),
                ("Date", util.get_rfc1123_time()),
            ],
        )
        return [] if method == "HEAD" else [TEXT]
