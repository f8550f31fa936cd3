"""FolderGet: what WebDAV answers to a GET of a folder, in place of WsgiDAV's directory browser.

A folder has no content of its own. Browsers are sent to the web app before they get here
(``web/entry.py``); clients and scripts that GET a folder (as a check that the address and
credentials work) keep the ``200`` they had from the directory browser, with a short plain
text saying where the listing is, and nothing of the folder's members.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from wsgidav import util
from wsgidav.dav_error import HTTP_MEDIATYPE_NOT_SUPPORTED, DAVError
from wsgidav.mw.base_mw import BaseMiddleware

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
