"""Which requests for ``/`` and ``/dav/`` come from a person in a browser, to send to the app.

A browser navigating to a folder asks ``GET`` with ``text/html`` in Accept and none of the
headers WebDAV clients send; WebDAV clients (litmus, rclone, davfs2, cadaver, gvfs, Windows'
and macOS' redirectors, the Nextcloud clients) never ask for HTML, so their answers stay
WebDAV's. Only folders move: a file's GET under ``/dav/`` is answered by WebDAV as before. A
path with a trailing slash names a folder and moves here, before any credentials are read;
one without a slash is left to WebDAV, where ``FolderGet`` sends a browser on once the
request's credentials are checked and the path is known to be a folder (checking them here
too counted every wrong password twice).
"""

from __future__ import annotations

from urllib.parse import quote

from werkzeug.wrappers import Request

DAV_PREFIX = "/dav/"
# Headers only WebDAV clients send on a GET.
_DAV_HEADERS = ("Depth", "Translate", "If", "Overwrite", "Destination", "Lock-Token")
# Parts of the User-Agent of WebDAV clients that may send Accept: */* with text/html in it.
_DAV_AGENTS = (
    "webdav",
    "davfs",
    "rclone",
    "litmus",
    "cadaver",
    "neon",
    "gvfs",
    "davclnt",
    "mirall",
    "nextcloud",
    "owncloud",
    "cyberduck",
    "dolphin",
    "kio",
    "curl",
    "wget",
)


def wants_html(request: Request) -> bool:
    """A browser's navigation: GET or HEAD, HTML accepted, no WebDAV client's headers."""
    if request.method not in ("GET", "HEAD"):
        return False
    if "text/html" not in request.headers.get("Accept", ""):
        return False
    if any(name in request.headers for name in _DAV_HEADERS):
        return False
    agent = request.headers.get("User-Agent", "").lower()
    return not any(token in agent for token in _DAV_AGENTS)


def app_location(request: Request) -> str | None:
    """The app's path to send a browser's ``request`` to, or None to leave it to WebDAV."""
    path = request.path
    if path == "/":
        return "/app/files/"
    if not (path == "/dav" or path.startswith(DAV_PREFIX)):
        return None
    relative = path[len(DAV_PREFIX) :] if path.startswith(DAV_PREFIX) else ""
    if relative == "" or relative.endswith("/"):
        return folder_page(relative)
    return None


def folder_page(relative: str) -> str:
    """The app's page of the folder at ``relative`` (a path in the home, "" for the home)."""
    relative = relative.strip("/")
    return "/app/files/" + quote(relative + "/" if relative else "")
