"""Refuse malformed requests before any part of the application interprets them.

The request path is checked once, as the bytes the client sent: it must be valid UTF-8 (no
overlong forms), hold no control characters and no ``.`` or ``..`` segments (clients resolve
those before sending; a server that resolves them again can be walked out of a folder). A
Content-Length must be a plain non-negative number, a Destination a URL that parses, an If
header follow RFC 4918's grammar (WsgiDAV reads what it can of a broken one and ignores the
rest, so a client's condition could silently not apply). Everything else is left to the
store's name rules, which apply to every front door.

A ``Range`` of more than one range is ignored (the whole body, 200; RFC 9110 14.2 allows it):
neither WsgiDAV nor the REST responses send ``multipart/byteranges``, and WsgiDAV merged the
ranges in quadratic time (a second of CPU for a 48 KB header) before sending just one of them.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from werkzeug.wrappers import Response

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment


def path_problem(raw_path: str) -> str | None:
    """Why the WSGI ``PATH_INFO`` (bytes as latin-1, per PEP 3333) is refused, or None."""
    try:
        path = raw_path.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return "the path is not valid UTF-8"
    if any(unicodedata.category(char) == "Cc" for char in path):
        return "the path contains control characters"
    if any(segment in (".", "..") for segment in path.split("/")):
        return "the path contains '.' or '..' segments"
    return None


# RFC 4918 section 10.4: If = ( 1*No-tag-list | 1*Tagged-list ); a Coded-URL or Resource-Tag
# is <...>, an entity tag ["..."] or [W/"..."], and "Not" negates a condition.
_CODED_URL = r"<[^<>\s]*>"
_CONDITION = rf'(?:[Nn][Oo][Tt]\s*)?(?:{_CODED_URL}|\[(?:W/)?"[^"]*"\])'
_LIST = rf"\(\s*{_CONDITION}(?:\s*{_CONDITION})*\s*\)"
_IF_HEADER = re.compile(rf"\s*(?:(?:{_LIST}\s*)+|(?:{_CODED_URL}\s*(?:{_LIST}\s*)+)+)")


def header_problem(environ: dict[str, Any]) -> str | None:
    """Why a header the application would trip over is refused, or None."""
    length = environ.get("CONTENT_LENGTH", "")
    if length and not length.strip().isdigit():
        return "Content-Length must be a non-negative whole number"
    if_header = environ.get("HTTP_IF")
    if if_header is not None and not _IF_HEADER.fullmatch(if_header):
        return "the If header does not follow RFC 4918's grammar"
    destination = environ.get("HTTP_DESTINATION")
    if destination is not None:
        try:
            urlsplit(destination)
        except ValueError:
            return "Destination is not a valid URL"
    return None


def readable_path(raw_path: str) -> str:
    """A lossy, always-valid form of a refused path: enough to see which API it was aimed at."""
    text = raw_path.encode("latin-1", "replace").decode("utf-8", "replace")
    segments = ["_" if segment in (".", "..") else segment for segment in text.split("/")]
    cleaned = "".join("_" if unicodedata.category(c) == "Cc" else c for c in "/".join(segments))
    return cleaned.encode("utf-8").decode("latin-1")


Refusal = Callable[[dict[str, Any], str], Response | None]


class RequestGuard:
    """Answers malformed requests with 400; ``refusal`` may shape the answer (REST dialects)."""

    def __init__(self, app: Any, refusal: Refusal | None = None) -> None:
        self.app = app
        self._refusal = refusal

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if "," in environ.get("HTTP_RANGE", ""):
            del environ["HTTP_RANGE"]
        problem = path_problem(environ.get("PATH_INFO", "")) or header_problem(environ)
        if problem is None:
            return self.app(environ, start_response)
        shaped = self._refusal(dict(environ), problem) if self._refusal else None
        if shaped is not None:
            shaped.headers["Connection"] = "close"
            return shaped(environ, start_response)
        body = json.dumps({"error": problem}).encode()
        start_response(
            "400 Bad Request",
            [
                ("Content-Type", "application/json"),
                ("Content-Length", str(len(body))),
                ("Connection", "close"),
            ],
        )
        return [body]
