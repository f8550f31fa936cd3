"""Which requests the fast door answers: decided from the head alone, before any body byte.

A request qualifies only where WsgiDAV's pipeline would do nothing but what the fast door
does: no lock of the user's anywhere (so no lock check can refuse it), no header whose meaning
WsgiDAV's machinery implements (conditions, ranges, lock tokens, Depth, encodings), and a
target that exists or not as the method needs. Everything else returns None and goes to WsgiDAV.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from wsgidav import util
from wsgidav.dav_error import DAVError

from davfiles.body_rate import BODY_RECEIVED_KEY
from davfiles.provider.provider import OWNER_KEY, DavfilesProvider
from davfiles.provider.resources import FileResource, FolderResource
from davfiles.store.locks import SqlLockStorage

# Headers whose meaning WsgiDAV's own machinery implements: such a request goes on to it.
_DEFERRED_HEADERS = (
    "HTTP_IF",
    "HTTP_LOCK_TOKEN",
    "HTTP_IF_MATCH",
    "HTTP_IF_NONE_MATCH",
    "HTTP_IF_MODIFIED_SINCE",
    "HTTP_IF_UNMODIFIED_SINCE",
    "HTTP_IF_RANGE",
    "HTTP_RANGE",
    "HTTP_CONTENT_RANGE",
    "HTTP_CONTENT_ENCODING",
    "HTTP_TRANSFER_ENCODING",
    "HTTP_DEPTH",
)
_METHODS = frozenset({"GET", "HEAD", "PUT", "MKCOL", "DELETE"})
_WRITES = frozenset({"PUT", "MKCOL", "DELETE"})


@dataclass(frozen=True)
class Plan:
    """A request the fast door answers.

    ``resource``: for GET, HEAD, DELETE and a PUT over a file, the target; for MKCOL and a PUT
    of a new file, the parent folder, and ``name`` is the new member's.
    """

    method: str
    resource: FileResource | FolderResource
    name: str = ""


def plan_request(
    environ: dict[str, Any], provider: DavfilesProvider, locks: SqlLockStorage
) -> Plan | None:
    method = environ["REQUEST_METHOD"]
    if method not in _METHODS or OWNER_KEY not in environ or environ.get("QUERY_STRING"):
        return None
    if any(header in environ for header in _DEFERRED_HEADERS):
        return None
    if method in _WRITES and locks.holds_locks(provider.owner(environ).name):
        return None
    path = environ["PATH_INFO"]
    length = environ.get("CONTENT_LENGTH") or "0"
    try:
        if method == "PUT":
            return _plan_put(environ, provider, path, length)
        if length != "0":
            return None
        if method == "MKCOL":
            return _plan_mkcol(environ, provider, path)
        target = _resource(provider, path, environ)
        if target is None or (method != "DELETE" and isinstance(target, FolderResource)):
            return None
        if method == "DELETE" and target.user_path.is_root:
            return None
        return Plan(method, target)
    except DAVError:
        return None


def _resource(
    provider: DavfilesProvider, path: str, environ: dict[str, Any]
) -> FileResource | FolderResource | None:
    """A file or folder of the home; None for anything else (the chunk area, nothing)."""
    resource = provider.get_resource_inst(path, environ)
    return resource if type(resource) in (FileResource, FolderResource) else None


def _plan_put(
    environ: dict[str, Any], provider: DavfilesProvider, path: str, length: str
) -> Plan | None:
    if not length.isdigit() or not environ.get(BODY_RECEIVED_KEY):
        return None
    config = environ["wsgidav.config"]
    if config.get("honor_mtime_header") and "HTTP_X_OC_MTIME" in environ:
        return None
    target = provider.get_resource_inst(path, environ)
    if type(target) is FileResource:
        return Plan("PUT", target)
    if target is not None:
        return None
    parent = _resource(provider, util.get_uri_parent(path), environ)
    if not isinstance(parent, FolderResource):
        return None
    return Plan("PUT", parent, util.get_uri_name(path))


def _plan_mkcol(environ: dict[str, Any], provider: DavfilesProvider, path: str) -> Plan | None:
    if "HTTP_X_OC_MTIME" in environ or provider.get_resource_inst(path, environ) is not None:
        return None
    parent = _resource(provider, util.get_uri_parent(path), environ)
    if not isinstance(parent, FolderResource):
        return None
    return Plan("MKCOL", parent, util.get_uri_name(path))
