"""spacedog dialect (seed 003): ``/1/file/{path}`` list, download, upload and delete by prefix.

``{path}`` is relative to the home; a "prefix" is a folder, matched name by name. Every JSON
answer is spacedog's envelope ``{"success": ..., "status": ..., ...}``; failures carry
``"error": {"message": ...}`` with the same status on the wire.

Choices where the document is silent or a store cannot be S3:

* ``GET`` of a file sends its bytes with ``Etag: <md5 hex>`` unquoted, exactly the value of a
  listing's ``etag`` (what spacedog sent from S3); conditional requests accept it either way.
* ``GET``/``DELETE`` of a missing path is 404; the home (``/1/file``) may list or delete
  nothing, and an existing empty folder lists as ``[]``. A path ending in ``/`` names a folder.
* ``PUT`` creates the missing parent folders (removed again if the upload fails and they hold
  no file) and always answers 200, as spacedog did, with the stored file's record.
* ``DELETE /1/file`` deletes everything in the home, as "all files with this prefix" says for
  an empty prefix; a folder's deletion removes the folder itself too.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from werkzeug.wrappers import Request, Response

from davfiles.errors import DavfilesError, InvalidName, NotFound
from davfiles.rest.dialect import Dialect, Route, status_for
from davfiles.rest.io import announced_length, file_response, json_response, upload_raw_body
from davfiles.rest.openapi import json_object, json_response_spec
from davfiles.store import ROOT, FileInfo, Owner, UploadOptions, UserPath, parse_user_path

_FILE = "/1/file"
_FILE_PATH = "/1/file/<path:path>"
_SECURITY = [{"basic": []}, {"token": []}, {"bearer": []}, {"molgenis": []}]


class Spacedog(Dialect):
    name = "spacedog"
    default_prefix = ""
    routes = tuple(
        Route(path, (method,), handler)
        for path in (_FILE, _FILE_PATH)
        for method, handler in (("GET", "fetch"), ("PUT", "upload"), ("DELETE", "remove"))
    )

    def unauthorized(self, request: Request) -> Response:
        response = _envelope(401, error={"message": "missing or invalid credentials"})
        response.headers["WWW-Authenticate"] = 'Basic realm="davfiles"'
        return response

    def error_response(self, exc: DavfilesError) -> Response:
        return _envelope(status_for(exc), error={"message": str(exc)})

    def internal_error(self) -> Response:
        return _envelope(500, error={"message": "internal server error"})

    def fetch(self, request: Request, owner: Owner, path: str = "") -> Response:
        """A file's bytes, or the files below a folder (recursively)."""
        info = self._existing(owner, path)
        if info.is_dir:
            files = sorted(self.store.list_files(owner, info.path), key=lambda f: f.path.parts)
            return _envelope(200, results=[_record(f) for f in files])
        with_disposition = request.args.get("withContentDisposition", "").lower() == "true"
        return file_response(
            request,
            self.store,
            owner,
            info,
            download_name=info.name if with_disposition else None,
            headers={"Etag": info.etag, "X-spacedog-owner": owner.name},
        )

    def upload(self, request: Request, owner: Owner, path: str = "") -> Response:
        """Store the raw body at ``path``, creating missing folders, replacing a file there."""
        if not path or path.endswith("/"):
            raise InvalidName("give a file path, not a folder: /1/file/{path}/{filename}")
        target = parse_user_path(path)
        options = UploadOptions(
            content_type=request.headers.get("Content-Type"),
            expected_size=announced_length(request),
        )
        new_folder = self._first_missing_folder(owner, target.parent)
        try:
            self.store.ensure_dirs(owner, target.parent)
            info = upload_raw_body(
                request, self.store, owner, target, options, self.context.block_size
            )
        except Exception:
            if new_folder is not None:
                self.store.delete_folder_without_files(owner, new_folder)
            raise
        location = request.root_url.rstrip("/") + self.prefix + _FILE + quote(str(info.path))
        return _envelope(200, **_record(info), contentType=info.content_type, location=location)

    def remove(self, request: Request, owner: Owner, path: str = "") -> Response:
        """Delete a file, a folder with everything below it, or (no path) the whole home."""
        info = self._existing(owner, path)
        deleted = self.store.list_files(owner, info.path) if info.is_dir else [info]
        targets = self.store.list_dir(owner, ROOT) if info.path.is_root else [info]
        for target in targets:
            self.store.delete(owner, target.path)
        paths = sorted(deleted, key=lambda f: f.path.parts)
        return _envelope(200, deleted=[str(f.path) for f in paths])

    def _existing(self, owner: Owner, raw: str) -> FileInfo:
        """What ``raw`` names; a trailing slash insists on a folder."""
        path = parse_user_path(raw)
        info = self.store.stat(owner, path)
        if info is None:
            raise NotFound(f"nothing at {path}")
        if raw.endswith("/") and not info.is_dir:
            raise NotFound(f"{path} is a file, not a folder")
        return info

    def _first_missing_folder(self, owner: Owner, folder: UserPath) -> UserPath | None:
        for depth in range(1, len(folder.parts) + 1):
            candidate = UserPath(folder.parts[:depth])
            if self.store.stat(owner, candidate) is None:
                return candidate
        return None

    def openapi_paths(self) -> dict[str, Any]:
        return _openapi()


def _envelope(status: int, **fields: Any) -> Response:
    return json_response({"success": status < 400, "status": status, **fields}, status)


def _time(timestamp: float) -> str:
    """The document's ``2016-05-25T11:59:51.000+02:00`` form, in UTC."""
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="milliseconds")


def _record(info: FileInfo) -> dict[str, Any]:
    return {
        "path": str(info.path),
        "size": info.size,
        "lastModified": _time(info.modified_at),
        "etag": info.etag,
    }


def _openapi() -> dict[str, Any]:
    record = {
        "path": {"type": "string"},
        "size": {"type": "integer"},
        "lastModified": {"type": "string"},
        "etag": {"type": "string"},
    }
    ok = {"success": {"const": True}, "status": {"const": 200}}
    failure = json_object(
        success={"const": False},
        status={"type": "integer"},
        error=json_object(message={"type": "string"}),
    )
    listing = json_object(**ok, results={"type": "array", "items": json_object(**record)})
    saved = json_object(**ok, **record, contentType={"type": "string"}, location={"type": "string"})
    deleted = json_object(**ok, deleted={"type": "array", "items": {"type": "string"}})
    file_headers = {
        name: {"description": text, "schema": {"type": "string"}}
        for name, text in (
            ("Etag", "the file's MD5 hash in hex, unquoted"),
            ("X-spacedog-owner", "the owner's user name"),
            ("Content-Disposition", "only with withContentDisposition=true"),
        )
    }
    binary = {"schema": {"type": "string", "contentMediaType": "application/octet-stream"}}
    answers: dict[str, dict[str, Any]] = {
        "listed": json_response_spec("the files below the folder, recursively", listing),
        "file": {
            "description": "a folder's listing (JSON) or a file's bytes in its own content type"
            " (a JSON file is not a listing)",
            "headers": file_headers,
            "content": {"application/json": {"schema": listing}, "*/*": binary},
        },
        "206": {"description": "the requested range of a file", "headers": file_headers},
        "304": {"description": "not modified (If-None-Match, If-Modified-Since)"},
        "412": {"description": "If-Match did not match"},
        "416": {
            "description": "the Range lies outside the file (no body)",
            "headers": {"Content-Range": {"schema": {"type": "string"}}},
        },
        "saved": json_response_spec("the file is stored (created or replaced)", saved),
        "deleted": json_response_spec("the paths of the deleted files", deleted),
        "400": json_response_spec("invalid path or incomplete body", failure),
        "401": {
            **json_response_spec("missing or invalid credentials", failure),
            "headers": {"WWW-Authenticate": {"schema": {"type": "string"}}},
        },
        "404": json_response_spec(
            "nothing at this path (or a file where a folder/ was named)", failure
        ),
        "409": json_response_spec(
            "a file is in the way of a folder, or a folder of the file", failure
        ),
        "500": json_response_spec("unexpected failure", failure),
        "507": json_response_spec("quota exceeded or disk full; nothing was stored", failure),
    }

    def operation(summary: str, ok_answer: str | None, *codes: str, **extra: Any) -> Any:
        responses = {"200": answers[ok_answer]} if ok_answer else {}
        responses.update({code: answers[code] for code in (*codes, "401", "500")})
        return {"summary": summary, "security": _SECURITY, **extra, "responses": responses}

    disposition = {
        "name": "withContentDisposition",
        "in": "query",
        "required": False,
        "schema": {"type": "boolean", "default": False},
    }
    body = {
        "requestBody": {
            "description": "the file's bytes; its Content-Type header (else the extension, else"
            " application/octet-stream) becomes the file's type",
            "required": True,
            "content": {"*/*": binary},
        }
    }
    path_parameter = {
        "name": "path",
        "in": "path",
        "required": True,
        "description": "a file or folder path relative to the home; it may contain slashes",
        "schema": {"type": "string"},
    }
    return {
        _FILE: {
            "get": operation("List every file of the home", "listed"),
            "put": operation("Refused: PUT needs a file path", None, "400", **body),
            "delete": operation("Delete everything in the home", "deleted"),
        },
        "/1/file/{path}": {
            "parameters": [path_parameter],
            "get": operation(
                "List the files below a folder (recursively), or download a file",
                "file",
                *("206", "304", "400", "404", "409", "412", "416"),
                parameters=[disposition],
            ),
            "put": operation(
                "Upload the raw body as the file at {path}, creating missing folders",
                "saved",
                *("400", "409", "507"),
                **body,
            ),
            "delete": operation(
                "Delete a file, or a folder and every file below it", "deleted", "400", "404"
            ),
        },
    }
