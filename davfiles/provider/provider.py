"""DavfilesProvider: one share where every authenticated user sees their own home as the root."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import unquote

from wsgidav.dav_error import (
    HTTP_FORBIDDEN,
    HTTP_UNAUTHORIZED,
    DAVError,
    PRECONDITION_CODE_PropfindFiniteDepth,
)
from wsgidav.dav_provider import DAVProvider

from davfiles.provider.errors import dav_errors
from davfiles.provider.resources import FileResource, FolderResource
from davfiles.store import FileInfo, Owner, QuotaFigures, Store, parse_user_path

OWNER_KEY = "davfiles.owner"
_CREATED_KEY = "davfiles.created"
_USAGE_KEY = "davfiles.usage"


class DavfilesProvider(DAVProvider):
    def __init__(self, store: Store, *, allow_depth_infinity: bool) -> None:
        super().__init__()
        self.store = store
        self._allow_depth_infinity = allow_depth_infinity

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}({self.store.users_dir})"

    def owner(self, environ: dict[str, Any]) -> Owner:
        owner = environ.get(OWNER_KEY)
        if owner is None:
            raise DAVError(HTTP_UNAUTHORIZED)
        return owner  # type: ignore[no-any-return]

    def get_resource_inst(self, path: str, environ: dict[str, Any]) -> Any:
        owner = self.owner(environ)
        with dav_errors():
            user_path = parse_user_path(path)
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
        """Invert ``get_ref_url``: drop the leading user segment."""
        parts = unquote(ref_url).split("/", 2)
        return "/" + (parts[2] if len(parts) > 2 else "")

    def usage(self, environ: dict[str, Any], owner: Owner) -> QuotaFigures:
        """Quota figures, read once per request however many folders a listing shows."""
        if _USAGE_KEY not in environ:
            with dav_errors():
                environ[_USAGE_KEY] = self.store.usage(owner)
        return environ[_USAGE_KEY]  # type: ignore[no-any-return]

    def disk_free_bytes(self) -> int:
        return shutil.disk_usage(self.store.users_dir).free

    def report_created(self, environ: dict[str, Any], created: bool) -> None:
        environ[_CREATED_KEY] = created

    def custom_request_handler(
        self,
        environ: dict[str, Any],
        start_response: Callable[..., Any],
        default_handler: Callable[..., Iterable[bytes]],
    ) -> Iterable[bytes]:
        method = environ["REQUEST_METHOD"]
        if method == "PROPFIND" and not self._allow_depth_infinity:
            depth = environ.get("HTTP_DEPTH", "infinity").lower()
            if depth == "infinity":
                raise DAVError(
                    HTTP_FORBIDDEN,
                    context_info="PROPFIND with Depth: infinity is disabled on this server.",
                    err_condition=PRECONDITION_CODE_PropfindFiniteDepth,
                )
        if method in ("COPY", "MOVE"):
            # WsgiDAV answers 204 for every natively handled COPY/MOVE; RFC 4918 wants 201
            # when the destination did not exist, so correct the status here.
            def created_aware_start_response(status: str, headers: list[Any], *args: Any) -> Any:
                if environ.get(_CREATED_KEY) and status.startswith("204"):
                    status = "201 Created"
                return start_response(status, headers, *args)

            return default_handler(environ, created_aware_start_response)
        return default_handler(environ, start_response)
