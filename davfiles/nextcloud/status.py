"""``GET /status.php``: what Nextcloud's apps read before they log in.

The version is the one Nextcloud release whose client behaviour davfiles matches: at least 20,
the oldest server the current desktop client and mobile apps accept, and from 16 on they log in
with Login Flow v2. Real Nextcloud capabilities carry no ``core.status``, but the command-line
clients read their server version from there, so the same figures are served in both places.
"""

from __future__ import annotations

from typing import Any

from werkzeug.wrappers import Request, Response

from davfiles.rest.io import json_response

VERSION = (25, 0, 0, 0)
VERSION_STRING = "25.0.0"
PRODUCT = "davfiles"


def server_status() -> dict[str, Any]:
    return {
        "installed": True,
        "maintenance": False,
        "needsDbUpgrade": False,
        "version": ".".join(str(part) for part in VERSION),
        "versionstring": VERSION_STRING,
        "edition": "",
        "productname": PRODUCT,
        "extendedSupport": False,
    }


def status_php(request: Request) -> Response:
    """Unauthenticated, as in Nextcloud: apps probe it before they have credentials."""
    return json_response(server_status())
