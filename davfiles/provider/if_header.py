"""Tagged ``If`` lists (RFC 4918 10.4.2) keyed the way WsgiDAV looks them up.

WsgiDAV finds the list for a resource under the resource's ref URL, which for davfiles is
``/<user>/<path>``, while a client tags a list with the URL it used. The tag never matched, so
its conditions were ignored: a Nextcloud client's chunked-upload MOVE carrying
``If: </remote.php/dav/files/alice/f.bin> (["<etag>"])`` replaced a file changed on the server
since, instead of getting 412 and keeping a conflict copy.
"""

from __future__ import annotations

from typing import Any, Protocol
from urllib.parse import unquote, urlsplit

from wsgidav import util
from wsgidav.dav_error import DAVError

PARSED_KEY = "wsgidav.conditions.if"


class _ResourceFinder(Protocol):
    def get_resource_inst(self, path: str | None, environ: dict[str, Any]) -> Any: ...


def key_tagged_lists_by_ref_url(provider: _ResourceFinder, environ: dict[str, Any]) -> None:
    """Parse the ``If`` header as WsgiDAV does and re-key each tag to its resource's ref URL."""
    util.parse_if_header_dict(environ)
    conditions = environ[PARSED_KEY]
    if not conditions:
        return
    keyed: dict[str, list[Any]] = {}
    for tag, lists in conditions.items():
        keyed.setdefault(_ref_url(provider, environ, tag), []).extend(lists)
    environ[PARSED_KEY] = keyed


def _ref_url(provider: _ResourceFinder, environ: dict[str, Any], tag: str) -> str:
    """The ref URL of the resource a tag names on this share, or the tag itself."""
    if tag == "*":
        return tag
    try:
        parts = urlsplit(tag)
    except ValueError:
        return tag  # not a URL (an unclosed "[" host): it names nothing here
    if parts.netloc and parts.netloc != environ.get("HTTP_HOST"):
        return tag
    path = unquote(parts.path)
    share = environ.get("SCRIPT_NAME", "")
    if not path.startswith(share + "/"):
        return tag
    try:
        resource = provider.get_resource_inst(path[len(share) :], environ)
    except DAVError:
        return tag  # another user's home or outside any home: it names nothing of the caller's
    return resource.get_ref_url() if resource is not None else tag
