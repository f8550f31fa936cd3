"""aptly dialect (seed 002): ``/api/files`` upload directories, over the home's top level.

An aptly upload directory is a top-level folder of the user's home, so what is uploaded here
is what WebDAV shows at ``/dav/<dir>/<file>``. Errors use aptly's body ``{"error": "..."}``.

Where this differs from aptly itself, on purpose:

* aptly documents no authentication; davfiles requires it (Basic or an API token) and answers
  401 ``{"error": ...}`` without it.
* Deleting a missing directory or file is 404 (aptly answers 200), as is deleting
  ``/api/files/<dir>/<file>`` when ``<file>`` is a folder: that route deletes one file.
* Listing a directory returns the names of the files directly in it (aptly walks the tree).
* A file name is kept as sent; one the store refuses (a slash, "..", control characters) is 400
  rather than reduced to its last component.

POST creates the directory first, as aptly does, then streams each file part into it,
replacing files of the same name. When a part fails (quota: 507, a bad name: 400) the files
completed before it stay stored and the failing one and all later ones are not: the client
sees which ones arrived with ``GET /api/files/<dir>``.
"""

from __future__ import annotations

from typing import Any

from werkzeug.wrappers import Request, Response

from davfiles.errors import NotFound
from davfiles.rest.dialect import Dialect, Route
from davfiles.rest.io import FilePart, json_response, read_multipart
from davfiles.rest.openapi import json_object, json_response_spec
from davfiles.store import ROOT, FileInfo, Owner, Upload, UploadOptions, UserPath

_DIR = "/api/files/<dir>"


class Aptly(Dialect):
    name = "aptly"
    default_prefix = ""
    routes = (
        Route("/api/files", ("GET",), "list_dirs"),
        Route(_DIR, ("POST",), "upload"),
        Route(_DIR, ("GET",), "list_files"),
        Route(_DIR, ("DELETE",), "delete_dir"),
        Route(_DIR + "/<file>", ("DELETE",), "delete_file"),
    )

    def list_dirs(self, request: Request, owner: Owner) -> Response:
        """The upload directories: the folders at the top of the home."""
        return json_response(_names(self.store.list_dir(owner, ROOT), folders=True))

    def upload(self, request: Request, owner: Owner, dir: str) -> Response:
        """Store every file part under ``dir`` (created if missing); answer ``["dir/file"]``."""
        folder = self.store.ensure_dir(owner, ROOT.child(dir)).path

        def open_upload(part: FilePart) -> Upload | None:
            # A part without a file name is an empty file input or a plain field: not a file.
            if not part.filename:
                return None
            options = UploadOptions(content_type=part.content_type, if_exists="replace")
            return self.store.upload(owner, folder.child(part.filename), options)

        form = read_multipart(request, self.context.block_size, open_upload)
        return json_response([info.path.text for _part, info in form.files])

    def list_files(self, request: Request, owner: Owner, dir: str) -> Response:
        folder = self._existing_dir(owner, dir)
        return json_response(_names(self.store.list_dir(owner, folder), folders=False))

    def delete_dir(self, request: Request, owner: Owner, dir: str) -> Response:
        """Delete the directory with everything in it."""
        self.store.delete(owner, self._existing_dir(owner, dir))
        return json_response({})

    def delete_file(self, request: Request, owner: Owner, dir: str, file: str) -> Response:
        path = ROOT.child(dir).child(file)
        info = self.store.stat(owner, path)
        if info is None or info.is_dir:
            raise NotFound(f"no file {file!r} in directory {dir!r}")
        self.store.delete(owner, path)
        return json_response({})

    def _existing_dir(self, owner: Owner, dir: str) -> UserPath:
        """The top-level folder ``dir``; NotFound if it is missing or a file (aptly's 404)."""
        path = ROOT.child(dir)
        info = self.store.stat(owner, path)
        if info is None or not info.is_dir:
            raise NotFound(f"directory {dir!r} doesn't exist")
        return path

    def openapi_paths(self) -> dict[str, Any]:
        return {
            "/api/files": {"get": _LIST_DIRS},
            "/api/files/{dir}": {"post": _UPLOAD, "get": _LIST_FILES, "delete": _DELETE_DIR},
            "/api/files/{dir}/{file}": {"delete": _DELETE_FILE},
        }


def _names(entries: list[FileInfo], *, folders: bool) -> list[str]:
    return sorted(info.name for info in entries if info.is_dir == folders)


_ERROR_SCHEMA = json_object(error={"type": "string"})
_NAMES_SCHEMA = {"type": "array", "items": {"type": "string"}}
_EMPTY_SCHEMA = {"type": "object", "properties": {}, "additionalProperties": False}


def _errors(described: dict[str, str] | None = None) -> dict[str, Any]:
    """Error responses by status, each with aptly's ``{"error": ...}`` body; 401 everywhere."""
    statuses = {"401": "no or wrong credentials (davfiles requires them)", **(described or {})}
    return {status: json_response_spec(text, _ERROR_SCHEMA) for status, text in statuses.items()}


def _param(name: str, description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "description": description,
        "schema": {"type": "string"},
    }


_DIR_PARAM = _param("dir", "upload directory: a top-level folder of the home")
_BAD_NAME = "a name the store refuses ('..', a slash, control characters, too long)"

_LIST_DIRS = {
    "summary": "List directories",
    "responses": {"200": json_response_spec("directory names, sorted", _NAMES_SCHEMA), **_errors()},
}
_UPLOAD = {
    "summary": "Upload file(s) into a directory, created if it doesn't exist",
    "description": (
        "Every multipart part with a file name is stored as <dir>/<file name>, replacing a file "
        "of that name. If a part fails, the files before it stay stored; it and later ones are "
        "not."
    ),
    "parameters": [_DIR_PARAM],
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "additionalProperties": {"type": "string", "format": "binary"},
                }
            }
        },
    },
    "responses": {
        "200": json_response_spec("the stored files as dir/file, in upload order", _NAMES_SCHEMA),
        **_errors(
            {
                "400": f"not a multipart body, a malformed or truncated one, or {_BAD_NAME}",
                "409": "a file exists where the directory should be, or a folder where a file goes",
                "507": "quota exceeded or disk full",
            }
        ),
    },
}
_LIST_FILES = {
    "summary": "List files in directory",
    "parameters": [_DIR_PARAM],
    "responses": {
        "200": json_response_spec("names of the files in the directory, sorted", _NAMES_SCHEMA),
        **_errors({"400": _BAD_NAME, "404": "directory doesn't exist"}),
    },
}
_DELETE_DIR = {
    "summary": "Delete directory and all files in it",
    "parameters": [_DIR_PARAM],
    "responses": {
        "200": json_response_spec("deleted", _EMPTY_SCHEMA),
        **_errors({"400": _BAD_NAME, "404": "directory doesn't exist"}),
    },
}
_DELETE_FILE = {
    "summary": "Delete single file in directory",
    "parameters": [_DIR_PARAM, _param("file", "file name in the directory")],
    "responses": {
        "200": json_response_spec("deleted", _EMPTY_SCHEMA),
        **_errors({"400": _BAD_NAME, "404": "no such file in the directory"}),
    },
}
