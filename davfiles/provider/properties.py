"""Dead properties for WsgiDAV, stored by the store on the file record.

WsgiDAV addresses properties by reference URL; ours carry the user in their first segment,
and the request's owner is taken from the environ, so users never see each other's properties.
Because properties belong to the record, MOVE keeps them and DELETE removes them without help.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

from wsgidav.dav_error import HTTP_FORBIDDEN, DAVError

from davfiles.provider.errors import dav_errors
from davfiles.provider.property_cache import property_cache
from davfiles.provider.provider import OWNER_KEY
from davfiles.store import Owner, Store, UserPath, parse_user_path


class DeadPropertyManager:
    """Implements the method set of WsgiDAV's ``PropertyManager``."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def __repr__(self) -> str:
        return self.__class__.__name__

    def _locate(self, norm_url: str, environ: dict[str, Any]) -> tuple[Owner, UserPath] | None:
        """The file a reference URL names, or None outside the home (the chunk area)."""
        owner: Owner = environ[OWNER_KEY]
        _empty, user, rest = (norm_url + "/").split("/", 2)
        if unquote(user) != owner.name:
            return None
        with dav_errors():
            return owner, parse_user_path(unquote(rest))

    def _writable(self, norm_url: str, environ: dict[str, Any] | None) -> tuple[Owner, UserPath]:
        located = self._locate(norm_url, environ or {})
        if located is None:
            raise DAVError(HTTP_FORBIDDEN, context_info="no properties here")
        return located

    def _properties(self, norm_url: str, environ: dict[str, Any] | None) -> dict[str, bytes]:
        """All of a resource's properties, read once per request (a PROPFIND asks per name)."""
        environ = environ if environ is not None else {}
        cache = property_cache(environ)
        if norm_url not in cache:
            located = self._locate(norm_url, environ)
            cache[norm_url] = self._store.dead_properties(*located) if located else {}
        return cache[norm_url]

    def get_properties(self, norm_url: str, environ: dict[str, Any] | None = None) -> list[str]:
        return list(self._properties(norm_url, environ))

    def get_property(
        self, norm_url: str, name: str, environ: dict[str, Any] | None = None
    ) -> bytes | None:
        return self._properties(norm_url, environ).get(name)

    def write_property(
        self,
        norm_url: str,
        name: str,
        property_value: bytes,
        dry_run: bool = False,
        environ: dict[str, Any] | None = None,
    ) -> None:
        owner, path = self._writable(norm_url, environ)
        if dry_run:
            return
        property_cache(environ or {}).pop(norm_url, None)
        with dav_errors():
            self._store.set_dead_property(owner, path, name, property_value)

    def remove_property(
        self,
        norm_url: str,
        name: str,
        dry_run: bool = False,
        environ: dict[str, Any] | None = None,
    ) -> None:
        owner, path = self._writable(norm_url, environ)
        if dry_run:
            return
        property_cache(environ or {}).pop(norm_url, None)
        with dav_errors():
            self._store.set_dead_property(owner, path, name, None)

    def remove_properties(self, norm_url: str, environ: dict[str, Any] | None = None) -> None:
        """Properties go with their record; nothing to do here."""

    def copy_properties(
        self, src_url: str, dest_url: str, environ: dict[str, Any] | None = None
    ) -> None:
        """The store's copy brings the properties along; nothing to do here."""

    def move_properties(
        self,
        src_url: str,
        dest_url: str,
        with_children: bool,
        environ: dict[str, Any] | None = None,
    ) -> None:
        """The store's move keeps the record and so its properties; nothing to do here."""
