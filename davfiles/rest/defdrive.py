"""defdrive dialect (seed 001): not implemented yet; serves no routes."""

from __future__ import annotations

from davfiles.rest.dialect import Dialect, Route


class Defdrive(Dialect):
    name = "defdrive"
    default_prefix = "/defdrive"
    routes: tuple[Route, ...] = ()
