"""The OCS share API subset Nextcloud's apps use for public links
(``/ocs/v{1,2}.php/apps/files_sharing/api/v1/shares``), over the store's share links.

Only link shares (``shareType=3``) exist; any other type is refused with 403 as a server
without user, group or federated sharing does. ``permissions`` map onto the link kinds: 4
(create only) is a drop, any update, create or delete right with read (or ``publicUpload``
on a folder) is an edit link, and read alone is a view link; answers show 1, 4 or 15.
``expireDate`` (``YYYY-MM-DD``) is the last day the link works: it expires at the next
midnight UTC. ``GET`` lists every link, those of ``path``, or with ``subfiles=true`` those of
the files directly in the folder ``path``; ``shared_with_me=true`` is always empty. Fields
come as a form or JSON body (or query parameters, as Nextcloud takes
them too). The link's password is never shown, only that one is set.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from werkzeug.wrappers import Request, Response

from davfiles.errors import Conflict, DavfilesError, InvalidName, NotFound, PermissionDenied
from davfiles.nextcloud.ocs import ocs_response
from davfiles.store import Owner, Store, parse_id, parse_user_path
from davfiles.store.links import LinkKind, LinkListing

LINK_SHARE = 3
READ, UPDATE, CREATE, DELETE, SHARE = 1, 2, 4, 8, 16
_PERMISSIONS = {LinkKind.VIEW: READ, LinkKind.DROP: CREATE, LinkKind.EDIT: 15}
_STATUS = ((NotFound, 404), (PermissionDenied, 403), (Conflict, 400), (InvalidName, 400))


def _kind(permissions: int, public_upload: bool) -> LinkKind:
    if permissions == CREATE:
        return LinkKind.DROP
    if public_upload or permissions & (UPDATE | CREATE | DELETE):
        return LinkKind.EDIT
    return LinkKind.VIEW


def _fields(request: Request) -> dict[str, Any]:
    """The request's fields: query, then form or JSON body (the body wins). A password in the
    query is refused: URLs end up in proxies' logs and browsers' histories."""
    if "password" in request.args:
        raise InvalidName(
            "a link password is never accepted in the query string; send it in the body"
        )
    fields: dict[str, Any] = dict(request.args.items())
    if request.mimetype == "application/json":
        try:
            body = json.loads(request.get_data(cache=False)[: 64 * 1024] or b"{}")
        except ValueError:
            raise InvalidName("the body is not JSON") from None
        if isinstance(body, dict):
            fields.update(body)
    else:
        fields.update(request.form.items())
    return fields


def _true(value: Any) -> bool:
    return value is True or str(value).lower() in ("true", "1", "yes")


def _expiry(value: Any) -> float | None:
    if value in (None, ""):
        return None
    try:
        day = datetime.strptime(str(value)[:10], "%Y-%m-%d").replace(tzinfo=UTC)
        return (day + timedelta(days=1)).timestamp()
    except (ValueError, OverflowError):
        raise InvalidName("expireDate must be YYYY-MM-DD, at the latest 9999-12-30") from None


def _expiration(expires_at: float | None) -> str | None:
    """The expiry as OCS shows it: the last day the link works, at midnight."""
    if expires_at is None:
        return None
    last_day = datetime.fromtimestamp(expires_at, UTC) - timedelta(days=1)
    return last_day.strftime("%Y-%m-%d 00:00:00")


def _settings(fields: dict[str, Any], kind_now: LinkKind | None) -> dict[str, Any]:
    settings: dict[str, Any] = {}
    if "permissions" in fields or "publicUpload" in fields:
        try:
            permissions = int(fields.get("permissions", READ))
        except (TypeError, ValueError, OverflowError):
            raise InvalidName("permissions must be a number") from None
        settings["kind"] = str(_kind(permissions, _true(fields.get("publicUpload"))))
    elif kind_now is None:
        settings["kind"] = str(LinkKind.VIEW)
    if "password" in fields:
        settings["password"] = fields["password"] or None
    if "expireDate" in fields:
        settings["expires_at"] = _expiry(fields["expireDate"])
    for name in ("label", "note"):
        if name in fields:
            settings[name] = fields[name]
    return settings


def share_json(request: Request, listed: LinkListing) -> dict[str, Any]:
    link = listed.link
    path = "/" + listed.path.text if listed.path is not None else None
    return {
        "id": str(link.id),
        "share_type": LINK_SHARE,
        "uid_owner": listed.owner_name,
        "displayname_owner": listed.owner_name,
        "uid_file_owner": listed.owner_name,
        "displayname_file_owner": listed.owner_name,
        "permissions": _PERMISSIONS[link.kind],
        "can_edit": True,
        "can_delete": True,
        "stime": int(link.created_at),
        "parent": None,
        "expiration": _expiration(link.expires_at),
        "token": link.token,
        "path": path,
        "file_target": path,
        "item_type": "folder" if listed.is_dir else "file",
        "item_source": link.node_id,
        "file_source": link.node_id,
        "storage_id": f"home::{listed.owner_name}",
        "share_with": None,
        "share_with_displayname": "(Shared link)",
        "password": "***redacted***" if link.has_password else None,
        "label": link.label or "",
        "note": link.note or "",
        "hide_download": 0,
        "mail_send": 0,
        "url": f"{request.url_root}s/{link.token}",
        "attributes": None,
    }


def shares_endpoint(
    request: Request, version: int, owner: Owner, store: Store, share_id: str | None = None
) -> Response:
    try:
        data = _answer(request, owner, store, share_id)
    except DavfilesError as exc:
        status = next((code for kind, code in _STATUS if isinstance(exc, kind)), 400)
        return ocs_response(request, version, [], status, str(exc))
    return ocs_response(request, version, data)


def _answer(request: Request, owner: Owner, store: Store, share_id: str | None) -> Any:
    links = store.links
    if share_id is None and request.method == "GET":
        if _true(request.args.get("shared_with_me")):
            return []  # nobody shares with a user here: only public links exist
        if not request.args.get("path"):
            # Links whose target is in the trash or gone have no path a client could show.
            present = [entry for entry in links.listing(owner) if entry.path is not None]
            return [share_json(request, entry) for entry in present]
        path = parse_user_path(request.args["path"])
        info = store.stat(owner, path)
        if info is None:
            raise NotFound("Wrong path, file/folder does not exist")
        if _true(request.args.get("subfiles")):
            if not info.is_dir:
                raise InvalidName("subfiles needs a folder")
            inside = [e for e in links.listing(owner) if e.path and e.path.parent == path]
            return [share_json(request, entry) for entry in inside]
        return [share_json(request, entry) for entry in links.listing(owner, info.id)]
    if share_id is None:
        fields = _fields(request)
        if str(fields.get("shareType", LINK_SHARE)) != str(LINK_SHARE):
            raise PermissionDenied("only public link shares (shareType 3) are supported")
        path = parse_user_path(str(fields.get("path", "")))
        if store.stat(owner, path) is None:
            raise NotFound("Wrong path, file/folder does not exist")
        settings = _settings(fields, None)
        kind = settings.pop("kind")
        link = links.create(owner, path, kind, settings)
        return share_json(request, links.get(owner, link.id))
    number = parse_id(share_id)
    if number is None:
        raise NotFound("Wrong share ID, share does not exist")
    try:
        listed = links.get(owner, number)
    except NotFound:
        raise NotFound("Wrong share ID, share does not exist") from None
    if request.method == "DELETE":
        links.delete(owner, number)
        return []
    if request.method == "PUT":
        settings = _settings(_fields(request), listed.link.kind)
        shown = _expiration(listed.link.expires_at)
        if shown is not None and settings.get("expires_at", 0) == _expiry(shown):
            # The date this API shows, sent back as clients do with every field: no change
            # (the link may end later that day, which the date cannot say).
            del settings["expires_at"]
        links.update(owner, number, settings)
        return share_json(request, links.get(owner, number))
    return [share_json(request, listed)]
