"""Which door answered a request and for whom, as the metrics and the access log report it.

Each door names itself in the WSGI environ where it takes a request (the fast door, a REST
dialect, the Nextcloud endpoints); a request WsgiDAV mapped to one of its providers went through
WebDAV, and anything else (``/public/``, ``/openapi.json``, refusals, unknown paths) is ``other``.
"""

from __future__ import annotations

from typing import Any

DOOR_KEY = "davfiles.door"
USER_KEY = "davfiles.user"
FAST = "fast"
NEXTCLOUD = "nextcloud"
WEBDAV = "webdav"
OTHER = "other"


def rest_door(dialect: str) -> str:
    return f"rest:{dialect}"


def door_of(environ: dict[str, Any]) -> str:
    door = environ.get(DOOR_KEY)
    if door is not None:
        return str(door)
    return WEBDAV if environ.get("wsgidav.provider") is not None else OTHER


def protocol_door(environ: dict[str, Any]) -> str:
    """The door as a user knows it: the fast door is WebDAV's shortcut, so it counts as
    ``webdav`` (what the trash records as the door that deleted)."""
    door = door_of(environ)
    return WEBDAV if door == FAST else door


def user_of(environ: dict[str, Any]) -> str | None:
    """The authenticated user: set by a REST dialect, or by WsgiDAV's authenticator."""
    return environ.get(USER_KEY) or environ.get("wsgidav.auth.user_name") or None
