"""The per-request cache of dead properties, by reference URL.

A PROPFIND asks for each resource's properties name by name; the cache lets that cost one
query per resource, and a folder listing fills it for all members with one query.
"""

from __future__ import annotations

from typing import Any

_CACHE_KEY = "davfiles.dead_properties"


def property_cache(environ: dict[str, Any]) -> dict[str, dict[str, bytes]]:
    """The request's cache: reference URL -> that resource's dead properties."""
    return environ.setdefault(_CACHE_KEY, {})  # type: ignore[no-any-return]
