"""molgenis dialect (seed 004): not implemented yet; serves no routes."""

from __future__ import annotations

from davfiles.rest.dialect import Dialect, Route


class Molgenis(Dialect):
    name = "molgenis"
    default_prefix = "/molgenis"
    routes: tuple[Route, ...] = ()
