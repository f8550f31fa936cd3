"""DavfilesProvider: a share where every authenticated user sees their own home as the root.

The same class serves ``/dav``, ``/remote.php/webdav`` and, with ``nextcloud_layout``,
``/remote.php/dav``: there the home is at ``files/<user>/``, the chunked-upload area at
``uploads/<user>/``, the trash at ``trashbin/<user>/`` and file versions at
``versions/<user>/`` (``trash_resources.py``), and ``<user>`` must be the authenticated user.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import unquote

from wsgidav import util
from wsgidav.dav_error import (
    HTTP_FORBIDDEN,
    HTTP_NOT_FOUND,
    HTTP_UNAUTHORIZED,
    DAVError,
    PRECONDITION_CODE_PropfindFiniteDepth,
)
from wsgidav.dav_provider import DAVProvider

from davfiles.provider import trash_resources
from davfiles.provider.chunk_resources import UploadsHome
from davfiles.provider.errors import dav_errors
from davfiles.provider.if_header import key_tagged_lists_by_ref_url
from davfiles.provider.propfind import stream_propfind
from davfiles.provider.resources import FileResource, FolderResource
from davfiles.store import FileInfo, Owner, QuotaFigures, Store, UserPath, parse_user_path
from davfiles.store.locks import request_scope

OWNER_KEY = "davfiles.owner"
_RESPONSE_KEY = "davfiles.response"
_USAGE_KEY = "davfiles.usage"
_STAT_KEY = "davfiles.stat"
# Nextcloud's areas of /remote.php/dav: a home, chunked uploads, the trash and file versions.
_AREAS = ("files", "uploads", "trashbin", "versions")
_READ_ONLY_METHODS = frozenset({"GET", "HEAD", "PROPFIND", "OPTIONS"})
_METHODS = "OPTIONS, GET, HEAD, PUT, DELETE, MKCOL, COPY, MOVE, PROPFIND, PROPPATCH, LOCK, UNLOCK"


class DavfilesProvider(DAVProvider):
    def __init__(
        self, store: Store, *, allow_depth_infinity: bool, nextcloud_layout: bool = False
    ) -> None:
        super().__init__()
        self.store = store
        self._allow_depth_infinity = allow_depth_infinity
        self._nextcloud = nextcloud_layout

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}(nextcloud_layout={self._nextcloud})"

    def owner(self, environ: dict[str, Any]) -> Owner:
        owner = environ.get(OWNER_KEY)
        if owner is None:
            raise DAVError(HTTP_UNAUTHORIZED)
        return owner  # type: ignore[no-any-return]

    def user_path_of(self, path: str, environ: dict[str, Any]) -> UserPath:
        """The path inside the caller's home for a share-relative URL path."""
        if self._nextcloud:
            area, rest = self._nextcloud_area(path, environ)
            if area != "files":
                raise DAVError(HTTP_FORBIDDEN, context_info="only files/<user>/ holds files")
            path = rest
        with dav_errors():
            return parse_user_path(path)

    def _nextcloud_area(self, path: str, environ: dict[str, Any]) -> tuple[str, str]:
        """Split ``/files/<user>/rest`` into ("files", "rest"); the user must be the caller."""
        area, _, remainder = path.lstrip("/").partition("/")
        user, _, rest = remainder.partition("/")
        if area not in _AREAS or not user:
            raise DAVError(
                HTTP_NOT_FOUND, context_info="use files/, uploads/, trashbin/ or versions/<user>/"
            )
        if user != self.owner(environ).name:
            raise DAVError(HTTP_FORBIDDEN, context_info="this is not your home")
        return area, rest

    def get_resource_inst(self, path: str | None, environ: dict[str, Any]) -> Any:
        if OWNER_KEY not in environ:
            return None  # anonymous OPTIONS: nothing is visible without credentials
        if path is None or (self._nextcloud and path.strip("/") in ("", *_AREAS)):
            # Above the home (WsgiDAV asks for the parent of DELETE /): nothing there. The
            # store then answers a DELETE or MOVE of the home itself with 403.
            return None
        if self._nextcloud:
            area = self._nextcloud_area(path, environ)[0]
            if area == "uploads":
                return self._chunk_resource(path, environ)
            if area in ("trashbin", "versions"):
                return trash_resources.resolve(self, environ, self.owner(environ), path)
        user_path = self.user_path_of(path, environ)
        owner = self.owner(environ)
        info = self._stat(environ, owner, user_path)
        if info is None:
            return None
        return self.resource_for(path, environ, owner, info)

    def _stat(self, environ: dict[str, Any], owner: Owner, user_path: UserPath) -> FileInfo | None:
        """The record at ``user_path``; read once per request by methods that change nothing.

        WsgiDAV looks a resource up several times per request (authorisation, the directory
        browser, the method itself).
        """
        if environ["REQUEST_METHOD"] not in _READ_ONLY_METHODS:
            with dav_errors():
                return self.store.stat(owner, user_path)
        cache: dict[UserPath, FileInfo | None] = environ.setdefault(_STAT_KEY, {})
        if user_path not in cache:
            with dav_errors():
                cache[user_path] = self.store.stat(owner, user_path)
        return cache[user_path]

    def resource_for(
        self, path: str, environ: dict[str, Any], owner: Owner, info: FileInfo
    ) -> FileResource | FolderResource:
        kind = FolderResource if info.is_dir else FileResource
        return kind(self, path, environ, owner, info.path, info)

    def _chunk_resource(self, path: str, environ: dict[str, Any]) -> Any:
        owner = self.owner(environ)
        _area, rest = self._nextcloud_area(path, environ)
        home_path = "/uploads/" + owner.name
        uploads = UploadsHome(self, home_path, environ, owner)
        return uploads.resolve(home_path, "/" + rest if rest else "/")

    def ref_url_to_path(self, ref_url: str) -> str:
        """Invert ``get_ref_url`` (``/<user>/<path in home>``) into a share-relative path."""
        user, _, rest = unquote(ref_url).lstrip("/").partition("/")
        if not self._nextcloud:
            return f"/{rest}"
        for area in ("uploads", "trashbin", "versions"):
            if user.endswith("@" + area):
                return f"/{area}/{user.removesuffix('@' + area)}/{rest}"
        return f"/files/{user}/{rest}"

    def usage(self, environ: dict[str, Any], owner: Owner) -> QuotaFigures:
        """Quota figures, read once per request however many folders a listing shows."""
        if _USAGE_KEY not in environ:
            with dav_errors():
                environ[_USAGE_KEY] = self.store.usage(owner)
        return environ[_USAGE_KEY]  # type: ignore[no-any-return]

    def disk_free_bytes(self) -> int:
        return shutil.disk_usage(self.store.users_dir).free

    def add_response_header(self, environ: dict[str, Any], name: str, value: str) -> None:
        environ.setdefault(_RESPONSE_KEY, {}).setdefault("headers", []).append((name, value))

    def set_response_status(self, environ: dict[str, Any], status: str) -> None:
        """WsgiDAV answers 204 for every native COPY/MOVE; RFC 4918 wants 201 for new ones."""
        environ.setdefault(_RESPONSE_KEY, {})["status"] = status

    def custom_request_handler(
        self,
        environ: dict[str, Any],
        start_response: Callable[..., Any],
        default_handler: Callable[..., Iterable[bytes]],
    ) -> Iterable[bytes]:
        method = environ["REQUEST_METHOD"]
        if method == "OPTIONS" and OWNER_KEY not in environ:
            return _anonymous_options(start_response)
        if method not in ("LOCK", "UNLOCK") and "HTTP_IF" not in environ:
            # Microsoft Office sends the token of its lock in Lock-Token instead of If.
            token = environ.get("HTTP_LOCK_TOKEN", "").strip()
            if token:
                environ["HTTP_IF"] = f"({token if token.startswith('<') else f'<{token}>'})"
        if "HTTP_IF" in environ:
            key_tagged_lists_by_ref_url(self, environ)
        if method == "PROPFIND" and not self._allow_depth_infinity:
            if environ.get("HTTP_DEPTH", "infinity").lower() == "infinity":
                raise DAVError(
                    HTTP_FORBIDDEN,
                    context_info="PROPFIND with Depth: infinity is disabled on this server.",
                    err_condition=PRECONDITION_CODE_PropfindFiniteDepth,
                )

        def adjusted_start_response(status: str, headers: list[Any], *args: Any) -> Any:
            adjustments = environ.get(_RESPONSE_KEY, {})
            if status.startswith("2") and "status" in adjustments:
                status = adjustments["status"]
            return start_response(status, headers + adjustments.get("headers", []), *args)

        with request_scope():
            if method == "PROPFIND":
                streamed = stream_propfind(self, environ, adjusted_start_response)
                if streamed is not None:
                    return streamed
            return default_handler(environ, adjusted_start_response)


def _anonymous_options(start_response: Callable[..., Any]) -> list[bytes]:
    """Windows' WebDAV client sends OPTIONS without credentials and gives up on a 401."""
    start_response(
        "200 OK",
        [
            ("DAV", "1, 2"),
            ("MS-Author-Via", "DAV"),
            ("Allow", _METHODS),
            ("Content-Length", "0"),
            ("Date", util.get_rfc1123_time()),
        ],
    )
    return [b""]
