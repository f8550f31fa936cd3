"""DavfilesProvider: a share where every authenticated user sees their own home as the root.

The same class serves ``/dav`` and the ownCloud/Nextcloud-style paths; with ``user_in_path``
the first path segment names the user (``/remote.php/dav/files/<user>/...``) and must be the
authenticated one.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import unquote

from wsgidav import util
from wsgidav.dav_error import (
    HTTP_FORBIDDEN,
    HTTP_UNAUTHORIZED,
    DAVError,
    PRECONDITION_CODE_PropfindFiniteDepth,
)
from wsgidav.dav_provider import DAVProvider

from davfiles.provider.errors import dav_errors
from davfiles.provider.resources import FileResource, FolderResource
from davfiles.store import FileInfo, Owner, QuotaFigures, Store, UserPath, parse_user_path

OWNER_KEY = "davfiles.owner"
_RESPONSE_KEY = "davfiles.response"
_USAGE_KEY = "davfiles.usage"
_METHODS = "OPTIONS, GET, HEAD, PUT, DELETE, MKCOL, COPY, MOVE, PROPFIND, PROPPATCH, LOCK, UNLOCK"


class DavfilesProvider(DAVProvider):
    def __init__(
        self, store: Store, *, allow_depth_infinity: bool, user_in_path: bool = False
    ) -> None:
        super().__init__()
        self.store = store
        self._allow_depth_infinity = allow_depth_infinity
        self._user_in_path = user_in_path

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}(user_in_path={self._user_in_path})"

    def owner(self, environ: dict[str, Any]) -> Owner:
        owner = environ.get(OWNER_KEY)
        if owner is None:
            raise DAVError(HTTP_UNAUTHORIZED)
        return owner  # type: ignore[no-any-return]

    def user_path_of(self, path: str, environ: dict[str, Any]) -> UserPath:
        """The path inside the caller's home for a share-relative URL path."""
        owner = self.owner(environ)
        if self._user_in_path:
            user, _, rest = path.lstrip("/").partition("/")
            if user != owner.name:
                raise DAVError(HTTP_FORBIDDEN, context_info="this is not your home")
            path = rest
        with dav_errors():
            return parse_user_path(path)

    def get_resource_inst(self, path: str, environ: dict[str, Any]) -> Any:
        if OWNER_KEY not in environ:
            return None  # anonymous OPTIONS: nothing is visible without credentials
        user_path = self.user_path_of(path, environ)
        owner = self.owner(environ)
        with dav_errors():
            info = self.store.stat(owner, user_path)
        if info is None:
            return None
        return self.resource_for(path, environ, owner, info)

    def resource_for(
        self, path: str, environ: dict[str, Any], owner: Owner, info: FileInfo
    ) -> FileResource | FolderResource:
        kind = FolderResource if info.is_dir else FileResource
        return kind(self, path, environ, owner, info.path, info)

    def ref_url_to_path(self, ref_url: str) -> str:
        """Invert ``get_ref_url`` (``/<user>/<path in home>``) into a share-relative path."""
        user, _, rest = unquote(ref_url).lstrip("/").partition("/")
        return f"/{user}/{rest}" if self._user_in_path else f"/{rest}"

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
