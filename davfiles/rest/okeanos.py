"""okeanos dialect (seed 000): ``/backend/user_files`` upload, list and delete by id.

Its curl examples use ``/backend/upload_file/``, so both paths are served. Uploads go to the
home's root. Authentication is ``Authorization: Token <api token>`` (the document's form),
answered in Django REST framework's shapes when it fails.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl

from werkzeug.wrappers import Request, Response

from davfiles.errors import DavfilesError, InvalidName
from davfiles.rest.dialect import Dialect, Route, parse_file_id, small_body, status_for
from davfiles.rest.io import (
    FilePart,
    iso_time,
    json_response,
    read_multipart,
)
from davfiles.rest.openapi import json_response_spec
from davfiles.store import ROOT, FileInfo, Owner, Upload, UploadOptions

_PATHS = ("/backend/user_files", "/backend/upload_file/")
_SUCCESS = {"result": "success"}


class Okeanos(Dialect):
    name = "okeanos"
    default_prefix = ""
    routes = tuple(
        Route(path, (method,), handler)
        for path in _PATHS
        for method, handler in (("PUT", "upload"), ("GET", "listing"), ("DELETE", "remove"))
    )

    def unauthorized(self, request: Request) -> Response:
        given = "Authorization" in request.headers or "x-molgenis-token" in request.headers
        detail = "Invalid token." if given else "Authentication credentials were not provided."
        return json_response({"detail": detail}, 401, {"WWW-Authenticate": "Token"})

    def error_response(self, exc: DavfilesError) -> Response:
        return json_response({"result": "failure", "error": str(exc)}, status_for(exc))

    def upload(self, request: Request, owner: Owner) -> Response:
        def open_upload(part: FilePart) -> Upload | None:
            if part.field_name != "file":
                return None
            return self.store.upload(
                owner,
                ROOT.child(part.filename or ""),
                UploadOptions(content_type=part.content_type),
            )

        form = read_multipart(request, self.context.block_size, open_upload)
        stored = [info for _part, info in form.files]
        if not stored and form.fields.get("file"):
            # `-F file=name` (no @, as in the document's example) sends the name as a text
            # part: store exactly what arrived, under that name.
            name = form.fields["file"]
            stored.append(self.store.write_bytes(owner, ROOT.child(name), name.encode()))
        if not stored:
            raise InvalidName("no file given: send it as the multipart field 'file'")
        description = form.fields.get("description")
        if description is not None:
            for info in stored:
                self.store.set_description(owner, info.id, description)
        return json_response(_SUCCESS)

    def listing(self, request: Request, owner: Owner) -> Response:
        files = [_record(info) for info in self.store.list_files(owner)]
        return json_response({**_SUCCESS, "files": files})

    def remove(self, request: Request, owner: Owner) -> Response:
        self.store.delete_id(owner, _requested_id(request, self.context.block_size))
        return json_response(_SUCCESS)

    def openapi_paths(self) -> dict[str, Any]:
        failure = {
            "type": "object",
            "properties": {"result": {"const": "failure"}, "error": {"type": "string"}},
            "required": ["result", "error"],
        }
        unauthorized = json_response_spec(
            "missing or invalid token",
            {
                "type": "object",
                "properties": {"detail": {"type": "string"}},
                "required": ["detail"],
            },
        )
        success = {
            "type": "object",
            "properties": {"result": {"const": "success"}},
            "required": ["result"],
        }
        record = {
            "type": "object",
            "properties": {
                "id": {"type": "integer"},
                "name": {"type": "string"},
                "path": {"type": "string"},
                "description": {"type": ["string", "null"]},
                "size": {"type": "integer"},
                "created_at": {"type": "string"},
                "updated_at": {"type": "string"},
            },
            "required": ["id", "name", "path", "description", "size", "created_at", "updated_at"],
        }

        def answer(schema: dict[str, Any]) -> dict[str, Any]:
            return {
                "200": json_response_spec("success", schema),
                "401": unauthorized,
                "4XX": json_response_spec("failure", failure),
                "507": json_response_spec("quota exceeded", failure),
            }

        item = {
            "put": {
                "summary": "Upload a file (multipart: file, description) to the home's root",
                "security": [{"token": []}, {"basic": []}],
                "requestBody": {
                    "required": True,
                    "content": {
                        "multipart/form-data": {
                            "schema": {
                                "type": "object",
                                "properties": {
                                    "file": {"type": "string", "format": "binary"},
                                    "description": {"type": "string"},
                                },
                                "required": ["file"],
                            }
                        }
                    },
                },
                "responses": answer(success),
            },
            "get": {
                "summary": "List every file of the user",
                "security": [{"token": []}, {"basic": []}],
                "responses": answer(
                    {
                        **success,
                        "properties": {
                            **success["properties"],
                            "files": {"type": "array", "items": record},
                        },
                        "required": ["result", "files"],
                    }
                ),
            },
            "delete": {
                "summary": "Delete the file with the given id (form field, JSON body or query)",
                "security": [{"token": []}, {"basic": []}],
                "parameters": [
                    {"name": "id", "in": "query", "required": False, "schema": {"type": "integer"}}
                ],
                "responses": answer(success),
            },
        }
        return {path: item for path in _PATHS}


def _record(info: FileInfo) -> dict[str, Any]:
    return {
        "id": info.id,
        "name": info.name,
        "path": info.path.text,
        "description": info.description,
        "size": info.size,
        "created_at": iso_time(info.created_at),
        "updated_at": iso_time(info.modified_at),
    }


def _requested_id(request: Request, block_size: int) -> int:
    """The id from the query, a multipart or urlencoded form, or a JSON object body."""
    raw: Any = request.args.get("id")
    content_type = request.mimetype
    if raw is None and content_type == "multipart/form-data":
        raw = read_multipart(request, block_size, lambda _part: None).fields.get("id")
    elif raw is None and content_type == "application/x-www-form-urlencoded":
        raw = dict(parse_qsl(small_body(request).decode("utf-8", "replace"))).get("id")
    elif raw is None and content_type == "application/json":
        try:
            body = json.loads(small_body(request) or b"{}")
        except (ValueError, RecursionError):
            raise InvalidName("the body is not JSON") from None
        if not isinstance(body, dict):
            raise InvalidName('the body must be a JSON object: {"id": <file id>}')
        raw = body.get("id")
    return parse_file_id(raw, "give the numeric id of the file to delete")
