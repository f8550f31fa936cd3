"""The OCS envelope: ``{"ocs": {"meta": ..., "data": ...}}`` as JSON or XML.

As in Nextcloud, ``?format=json`` or an ``Accept`` naming JSON selects JSON, XML otherwise.
Version 1 answers HTTP 200 for everything but 401 and carries the outcome in
``meta.statuscode`` (100 = OK, 997 = not logged in, 998 = not found); version 2 answers the
HTTP status itself and repeats it there.
"""

from __future__ import annotations

import json
from enum import IntEnum
from typing import Any
from xml.etree import ElementTree

from werkzeug.wrappers import Request, Response


class OcsStatus(IntEnum):
    """``meta.statuscode`` of OCS version 1 (version 2 uses the HTTP status)."""

    OK = 100
    SERVER_ERROR = 996
    UNAUTHORISED = 997
    NOT_FOUND = 998


_HTTP_OF = {
    OcsStatus.OK: 200,
    OcsStatus.SERVER_ERROR: 500,
    OcsStatus.UNAUTHORISED: 401,
    OcsStatus.NOT_FOUND: 404,
}


def wants_json(request: Request) -> bool:
    format_ = request.args.get("format")
    if format_ is not None:
        return format_.lower() == "json"
    return "application/json" in request.headers.get("Accept", "")


def ocs_response(
    request: Request,
    version: int,
    data: Any,
    status: OcsStatus | int = OcsStatus.OK,
    message: str = "OK",
    headers: dict[str, str] | None = None,
) -> Response:
    """An OCS answer; ``status`` is an OcsStatus or, for what OCS has no code for, an HTTP
    status (429, 405) sent as it is by both versions."""
    http = _HTTP_OF.get(status, status) if isinstance(status, OcsStatus) else status
    if version == 1:
        code = int(status)
        # Version 1 says failures in the body, but the clients read only the HTTP status of the
        # capabilities: a server error must not look like a server without chunking.
        if http not in (401, 429, 405, 500):
            http = 200
    else:
        code = http
    meta = {
        "status": "ok" if status == OcsStatus.OK else "failure",
        "statuscode": code,
        "message": message,
        "totalitems": "",
        "itemsperpage": "",
    }
    envelope = {"ocs": {"meta": meta, "data": data}}
    if wants_json(request):
        body = json.dumps(envelope, ensure_ascii=False, separators=(",", ":"))
        return Response(body, http, headers, mimetype="application/json")
    return Response(_xml(envelope), http, headers, content_type="text/xml; charset=UTF-8")


def _xml(envelope: dict[str, Any]) -> bytes:
    ((name, value),) = envelope.items()
    root = ElementTree.Element(name)
    _fill(root, value)
    return b'<?xml version="1.0"?>\n' + ElementTree.tostring(root, encoding="utf-8")


def _fill(element: ElementTree.Element, value: Any) -> None:
    """PHP's OCS writer: list items are ``<element>``, true is "1", false and null are empty."""
    if isinstance(value, dict):
        for key, item in value.items():
            _fill(ElementTree.SubElement(element, str(key)), item)
    elif isinstance(value, list):
        for item in value:
            _fill(ElementTree.SubElement(element, "element"), item)
    elif value is True:
        element.text = "1"
    elif value is not None and value is not False:
        element.text = str(value)
