"""Which requests the fast door answers: decided from the head alone, before any body byte.

A request qualifies only where WsgiDAV's pipeline would do nothing but what the fast door
does: no lock of the user's anywhere (so no lock check can refuse it), no header whose meaning
WsgiDAV's machinery implements (conditions, ranges, lock tokens, encodings, Depth beyond a
MOVE's or COPY's), and a target that exists or not as the method needs. Everything else
returns None and goes to WsgiDAV.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlparse

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
)
# Headers that change how WsgiDAV reads a Destination: such a MOVE or COPY goes on to it.
_FORWARDED_HEADERS = ("HTTP_X_FORWARDED_PROTO", "HTTP_X_FORWARDED_HOST")
_METHODS = frozenset({"GET", "HEAD", "PUT", "MKCOL", "DELETE", "MOVE", "COPY"})
_WRITES = frozenset({"PUT", "MKCOL", "DELETE", "MOVE", "COPY"})
_TRANSFERS = frozenset({"MOVE", "COPY"})


@dataclass(frozen=True)
class Plan:
    """A request the fast door answers.

    ``resource``: for GET, HEAD, DELETE, MOVE, COPY and a PUT over a file, the target; for MKCOL
    and a PUT of a new file, the parent folder, and ``name`` is the new member's. For MOVE and
    COPY, ``destination`` is the share-relative path WsgiDAV hands to ``handle_move`` or
    ``handle_copy``, and ``recursive`` is COPY's Depth.
    """

    method: str
    resource: FileResource | FolderResource
    name: str = ""
    destination: str = ""
    recursive: bool = True


def plan_request(
    environ: dict[str, Any], provider: DavfilesProvider, locks: SqlLockStorage
) -> Plan | None:
    method = environ["REQUEST_METHOD"]
    if method not in _METHODS or OWNER_KEY not in environ or environ.get("QUERY_STRING"):
        return None
    if any(header in environ for header in _DEFERRED_HEADERS):
        return None
    if "HTTP_DEPTH" in environ and method not in _TRANSFERS:
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
        if method in _TRANSFERS:
            return _plan_transfer(environ, provider, method, path)
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


def _plan_transfer(
    environ: dict[str, Any], provider: DavfilesProvider, method: str, path: str
) -> Plan | None:
    """A MOVE or COPY that WsgiDAV's ``_copy_or_move`` would hand to the resource at once.

    Its checks are WsgiDAV's; where one would refuse the request (a missing source, a foreign
    or odd Destination, Overwrite F on an existing target, a missing parent, a copy onto or
    below itself), the request goes on to WsgiDAV, which refuses it in its own words.
    """
    source = _resource(provider, path, environ)
    overwrite = environ.get("HTTP_OVERWRITE", "T").upper()
    if source is None or source.user_path.is_root or overwrite not in ("T", "F"):
        return None
    depth = environ.get("HTTP_DEPTH", "infinity").lower()
    if depth not in ("0", "infinity") or (method == "MOVE" and depth == "0"):
        return None
    destination = _destination(environ, provider, source.is_collection)
    if destination is None or util.is_equal_or_child_uri(path, destination):
        return None
    target = provider.get_resource_inst(destination, environ)
    if target is None:
        parent = _resource(provider, util.get_uri_parent(destination), environ)
        if not isinstance(parent, FolderResource):
            return None
    elif type(target) not in (FileResource, FolderResource) or overwrite != "T":
        return None
    environ["HTTP_OVERWRITE"] = overwrite
    return Plan(
        method,
        source,
        destination=destination,
        recursive=depth == "infinity" or not source.is_collection,
    )


def _destination(
    environ: dict[str, Any], provider: DavfilesProvider, is_collection: bool
) -> str | None:
    """The Destination as WsgiDAV reads it, when it names this mount on this host; else None."""
    header = environ.get("HTTP_DESTINATION")
    if header is None or any(name in environ for name in _FORWARDED_HEADERS):
        return None
    try:
        scheme, netloc, dest_path, *_ = urlparse(unquote(header), allow_fragments=False)
    except ValueError:
        return None
    if scheme.lower() not in ("", environ["wsgi.url_scheme"].lower()):
        return None
    if netloc.lower() not in ("", environ.get("HTTP_HOST", "").lower()):
        return None
    if is_collection:
        dest_path = dest_path.rstrip("/") + "/"
    dest_path = util.normalize_path(dest_path)
    prefix = provider.mount_path + provider.share_path
    if environ["wsgidav.app"].resolve_provider(dest_path)[1] is not provider:
        return None
    if not dest_path.startswith(prefix + "/"):
        return None
    return dest_path[len(prefix) :]
