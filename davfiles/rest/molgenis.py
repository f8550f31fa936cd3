"""molgenis dialect (seed 004): the MOLGENIS Files API at ``/api/files``.

``POST /api/files`` stores the raw body in the home's root under ``x-molgenis-filename``
(default ``unknown``); a taken name makes the store pick a free one (``name (1).ext``).
``GET /api/files/{id}`` answers the file's metadata, ``?alt=media`` its bytes, ``DELETE``
removes it. Ids are the store's file ids in an opaque base32 form, so they survive WebDAV MOVE.
Failures use MOLGENIS's ``{"errors": [{"message": ...}]}`` body.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from werkzeug.wrappers import Request, Response

from davfiles.errors import DavfilesError, NotFound
from davfiles.rest.dialect import Dialect, Route, status_for
from davfiles.rest.io import announced_length, file_response, json_response, upload_raw_body
from davfiles.rest.openapi import json_object, json_response_spec
from davfiles.store import ROOT, FileInfo, Owner, UploadOptions, is_storable_id

DEFAULT_FILENAME = "unknown"
# The document allows every media type but these two: they are how browsers send forms.
REFUSED_TYPES = ("multipart/form-data", "application/x-www-form-urlencoded")
_ID_BYTES = 8
_ID_CHARS = 13  # unpadded base32 of 8 bytes


def id_text(file_id: int) -> str:
    """The store's integer id as MOLGENIS shows ids: lower-case base32, like the document's."""
    raw = base64.b32encode(file_id.to_bytes(_ID_BYTES, "big")).decode("ascii")
    return raw.rstrip("=").lower()


def id_number(text: str) -> int | None:
    """The store id behind ``text``, or None unless ``text`` is exactly what id_text makes."""
    if len(text) != _ID_CHARS:
        return None
    try:
        number = int.from_bytes(base64.b32decode(text.upper() + "===", casefold=False), "big")
    except (binascii.Error, ValueError):
        return None
    if not is_storable_id(number) or id_text(number) != text:
        return None
    return number


def _errors(message: str, status: int) -> Response:
    return json_response({"errors": [{"message": message}]}, status)


def _header_text(value: str) -> str:
    """WSGI hands headers over as Latin-1; clients such as curl send names as UTF-8 bytes."""
    try:
        return value.encode("latin-1").decode("utf-8")
    except UnicodeError:
        return value


class Molgenis(Dialect):
    name = "molgenis"
    default_prefix = "/molgenis"
    routes: tuple[Route, ...] = (
        Route("/api/files", ("POST",), "upload"),
        Route("/api/files/<file_id>", ("GET",), "retrieve"),
        Route("/api/files/<file_id>", ("DELETE",), "remove"),
    )

    def unauthorized(self, request: Request) -> Response:
        given = "Authorization" in request.headers or "x-molgenis-token" in request.headers
        response = _errors("invalid credentials" if given else "authentication required", 401)
        response.headers["WWW-Authenticate"] = 'Basic realm="davfiles"'
        return response

    def error_response(self, exc: DavfilesError) -> Response:
        return _errors(str(exc), status_for(exc))

    def internal_error(self) -> Response:
        return _errors("internal server error", 500)

    def upload(self, request: Request, owner: Owner) -> Response:
        """Stream the body into the home's root; 201 with the metadata and its Location."""
        if request.mimetype in REFUSED_TYPES:
            return _errors(
                f"{request.mimetype} is not accepted: send the file itself as the body", 415
            )
        name = _header_text(request.headers.get("x-molgenis-filename", "").strip())
        options = UploadOptions(
            content_type=request.headers.get("Content-Type") or None,
            expected_size=announced_length(request),
            if_exists="rename",
        )
        path = ROOT.child(name or DEFAULT_FILENAME)
        info = upload_raw_body(request, self.store, owner, path, options, self.context.block_size)
        location = f"{request.script_root}{self.prefix}/api/files/{id_text(info.id)}"
        return json_response(_meta(info), 201, {"Location": location})

    def retrieve(self, request: Request, owner: Owner, file_id: str) -> Response:
        """Metadata by default (``alt=json``), the bytes with ``alt=media`` (Range works)."""
        info = self._file(owner, file_id)
        alt = request.args.get("alt", "json")
        if alt == "media":
            return file_response(request, self.store, owner, info)
        if alt == "json":
            return json_response(_meta(info))
        return _errors(f"alt must be json or media, not {alt!r}", 400)

    def remove(self, request: Request, owner: Owner, file_id: str) -> Response:
        self.store.delete_id(owner, self._file(owner, file_id).id)
        return Response(status=204)

    def _file(self, owner: Owner, file_id: str) -> FileInfo:
        """The caller's file with this id; folders and other users' files are unknown ids."""
        number = id_number(file_id)
        info = self.store.stat_id(owner, number) if number is not None else None
        if info is None or info.is_dir:
            raise NotFound(f"unknown file id {file_id!r}")
        return info

    def openapi_paths(self) -> dict[str, Any]:
        return _openapi_paths()


def _meta(info: FileInfo) -> dict[str, Any]:
    # The store keeps only the stored name, so after a rename on upload this is "name (1).ext".
    return {
        "id": id_text(info.id),
        "filename": info.original_name or info.name,
        "contentType": info.content_type,
        "size": info.size,
    }


def _openapi_paths() -> dict[str, Any]:
    errors = json_object(
        errors={
            "type": "array",
            "minItems": 1,
            "items": json_object(message={"type": "string"}),
        }
    )
    meta = json_object(
        id={"type": "string", "pattern": "^[a-z2-7]{13}$"},
        filename={"type": "string"},
        contentType={"type": "string"},
        size={"type": "integer", "minimum": 0},
    )
    security = [{"molgenis": []}, {"basic": []}, {"bearer": []}]
    file_id = {"name": "file_id", "in": "path", "required": True, "schema": {"type": "string"}}

    def failure(description: str) -> dict[str, Any]:
        return json_response_spec(description, errors)

    unknown = failure("unknown id (also another user's file, or a folder)")
    upload = {
        "summary": "Upload the raw body as a file in the home's root",
        "security": security,
        "parameters": [
            {
                "name": "x-molgenis-filename",
                "in": "header",
                "required": False,
                "schema": {"type": "string", "default": DEFAULT_FILENAME},
                "description": "the file's name; a taken name is stored as 'name (1).ext'",
            }
        ],
        "requestBody": {
            "required": True,
            "description": "the file itself; Content-Type (default application/octet-stream) "
            "is any type except multipart/form-data and application/x-www-form-urlencoded",
            "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}},
        },
        "responses": {
            "201": {
                **json_response_spec("stored; the body is the file's metadata", meta),
                "headers": {
                    "Location": {
                        "description": "the metadata URL of the new file",
                        "schema": {"type": "string"},
                    }
                },
            },
            "400": failure("invalid filename, or a body shorter than its Content-Length"),
            "401": failure("missing or invalid credentials"),
            "409": failure("no free name left for this filename"),
            "415": failure("a form media type instead of the file itself"),
            "507": failure("quota exceeded or disk full; nothing was stored"),
        },
    }
    retrieve = {
        "summary": "The file's metadata, or with alt=media its bytes (Range supported)",
        "security": security,
        "parameters": [
            file_id,
            {
                "name": "alt",
                "in": "query",
                "required": False,
                "schema": {"enum": ["json", "media"], "default": "json"},
            },
        ],
        "responses": {
            "200": {
                "description": "alt=json: the metadata; alt=media: the bytes in the file's type",
                "content": {
                    "application/json": {"schema": meta},
                    "*/*": {"schema": {"type": "string", "format": "binary"}},
                },
            },
            "206": {"description": "alt=media with Range: the requested part"},
            "304": {"description": "alt=media: not modified (If-None-Match, If-Modified-Since)"},
            "400": failure("alt is neither json nor media"),
            "401": failure("missing or invalid credentials"),
            "404": unknown,
            "412": {"description": "alt=media: If-Match does not match"},
            "416": {"description": "alt=media: the range is not satisfiable"},
        },
    }
    remove = {
        "summary": "Delete the file",
        "security": security,
        "parameters": [file_id],
        "responses": {
            "204": {"description": "deleted"},
            "401": failure("missing or invalid credentials"),
            "404": unknown,
        },
    }
    return {
        "/api/files": {"post": upload},
        "/api/files/{file_id}": {"get": retrieve, "delete": remove},
    }
