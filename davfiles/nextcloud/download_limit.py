"""Nextcloud's download limit API (the ``files_downloadlimit`` app) over the links' own
limit: ``/ocs/v{1,2}.php/apps/files_downloadlimit/api/v1/<token>/limit``. ``GET`` answers
``{"limit": N or null, "count": downloads}``, ``PUT`` takes ``{"limit": N}`` (0 removes it),
``DELETE`` removes it; only for the owner's own links (404 otherwise, as Nextcloud does)."""

from __future__ import annotations

import json
from typing import Any

from werkzeug.wrappers import Request, Response

from davfiles.errors import DavfilesError, InvalidName, NotFound
from davfiles.nextcloud.ocs import ocs_response
from davfiles.store import Owner, Store


def download_limit_endpoint(
    request: Request, version: int, owner: Owner, store: Store, token: str
) -> Response:
    try:
        data = _answer(request, owner, store, token)
    except NotFound:
        return ocs_response(request, version, [], 404, "Unknown share")
    except DavfilesError as exc:
        return ocs_response(request, version, [], 400, str(exc))
    return ocs_response(request, version, data)


def _answer(request: Request, owner: Owner, store: Store, token: str) -> Any:
    links = store.links
    matching = [entry.link for entry in links.listing(owner) if entry.link.token == token]
    if not matching:
        raise NotFound("Unknown share")
    link = matching[0]
    if request.method == "GET":
        return {"limit": link.max_downloads, "count": link.downloads}
    limit = None
    if request.method == "PUT":
        limit = _limit(request)
    links.update(owner, link.id, {"max_downloads": limit or None})
    return []


def _limit(request: Request) -> int:
    raw: Any = request.form.get("limit")
    if raw is None and request.mimetype == "application/json":
        try:
            raw = json.loads(request.get_data(cache=False)[: 64 * 1024] or b"{}").get("limit")
        except (ValueError, AttributeError):
            raise InvalidName("the body is not a JSON object") from None
    try:
        limit = int(raw)
    except (TypeError, ValueError):
        raise InvalidName("limit must be a whole number") from None
    if limit < 0:
        raise InvalidName("Limit must be greater than or equal to 0")
    return limit
