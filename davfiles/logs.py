"""Logging of the ``davfiles`` command, shared by the CLI and the lean worker parent."""

from __future__ import annotations

import logging


def configure_logging() -> None:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # At INFO WsgiDAV's authenticator logs parsed Digest fields, response hash included.
    logging.getLogger("wsgidav.http_authenticator").setLevel(logging.WARNING)
    # Alembic names its SQL dialect on every connection; `davfiles db` prints what it did.
    logging.getLogger("alembic").setLevel(logging.WARNING)
