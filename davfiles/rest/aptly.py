"""aptly dialect (seed 002): not implemented yet; serves no routes."""

from __future__ import annotations

from davfiles.rest.dialect import Dialect, Route


class Aptly(Dialect):
    name = "aptly"
    default_prefix = ""
    routes: tuple[Route, ...] = ()
