"""spacedog dialect (seed 003): not implemented yet; serves no routes."""

from __future__ import annotations

from davfiles.rest.dialect import Dialect, Route


class Spacedog(Dialect):
    name = "spacedog"
    default_prefix = ""
    routes: tuple[Route, ...] = ()
