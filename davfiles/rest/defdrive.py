"""defdrive dialect (seed 001): DefDrive's ``/api`` upload, file list, access toggle and login.

Uploads go to the home's root under their own name (a duplicate is 409) and records show
``location`` as ``{username}/{path}``. Clients log in with ``POST /api/login`` and send
``Authorization: Bearer <JWT>``. Open sign-up exists but is off unless ``signup_enabled`` is
set, because accounts are normally made with the admin CLI. Files start private; a public
file is served to anyone at ``/public/{id}`` by the middleware.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl

from werkzeug.wrappers import Request, Response

from davfiles.errors import (
    AlreadyExists,
    AuthFailed,
    Conflict,
    DavfilesError,
    InvalidName,
    NotFound,
    QuotaExceeded,
    StorageFull,
)
from davfiles.rest.dialect import Dialect, Route, parse_file_id, small_body, status_for
from davfiles.rest.io import (
    FilePart,
    iso_time,
    json_response,
    read_multipart,
)
from davfiles.rest.openapi import json_object, json_response_spec
from davfiles.store import ROOT, FileInfo, Owner, Upload, UploadOptions

# Once the quota refuses a file part, the rest of the part is counted (never stored) for the
# 403's exact ``file_size``, up to this many bytes past the refusal; beyond, the count stops,
# ``file_size`` is what arrived so far and the connection is closed instead of read on.
MAX_COUNTED_BYTES = 64 * 1024 * 1024
_SIGNUP_DISABLED = "Sign-up is disabled: accounts are created by the administrator (davfiles CLI)"


class Defdrive(Dialect):
    name = "defdrive"
    default_prefix = "/defdrive"
    routes = (
        Route("/api/login", ("POST",), "login", public=True),
        Route("/api/signup", ("POST",), "signup", public=True),
        Route("/api/upload", ("POST",), "upload"),
        Route("/api/files", ("GET",), "listing"),
        Route("/api/files/<file_id>/access", ("PUT",), "access"),
        Route("/api/files/<file_id>", ("DELETE",), "remove"),
    )

    # --- the document's error shapes ----------------------------------------------------

    def unauthorized(self, request: Request) -> Response:
        return json_response(
            {"error": "User not authenticated"},
            401,
            {"WWW-Authenticate": 'Bearer realm="davfiles"'},
        )

    def error_response(self, exc: DavfilesError) -> Response:
        if isinstance(exc, (AlreadyExists, Conflict)):
            return json_response(
                {"error": "A file with this name already exists in your folder"}, 409
            )
        if isinstance(exc, NotFound):
            return json_response({"error": "File not found"}, 404)
        if isinstance(exc, AuthFailed):
            return json_response({"error": "Invalid username or password"}, 401)
        if isinstance(exc, StorageFull):
            return self.internal_error()
        return json_response({"error": str(exc)}, status_for(exc))

    def internal_error(self) -> Response:
        """The document's 500 body; the middleware gives no route, so every route uses it."""
        return json_response({"error": "Failed to save file"}, 500)

    # --- accounts -----------------------------------------------------------------------

    def login(self, request: Request, owner: None) -> Response:
        username, password = self._credentials(request)
        token = self.context.authenticator.login(username, password, client=request.remote_addr)
        user = self.context.accounts.owner(username)
        return json_response(
            {
                "message": "Login successful",
                "token": token,
                "expires_in": self.context.authenticator.login_token_lifetime,
                "user": {"id": user.id, "username": user.name},
            }
        )

    def signup(self, request: Request, owner: None) -> Response:
        if not self.context.signup_enabled:
            return json_response({"error": _SIGNUP_DISABLED}, 403)
        username, password = self._credentials(request)
        try:
            user = self.context.accounts.add_user(
                username,
                password,
                max_bytes=self.context.default_max_bytes,
                max_files=self.context.default_max_files,
            )
        except AlreadyExists:
            return json_response({"error": "Username already taken"}, 409)
        return json_response(
            {"message": "User created successfully", "user": {"id": user.id, "username": user.name}}
        )

    # --- files --------------------------------------------------------------------------

    def upload(self, request: Request, owner: Owner) -> Response:
        """Store the first file part named ``file`` in the home's root; other parts are fields."""
        if request.mimetype != "multipart/form-data":
            raise InvalidName("No file provided")
        opened = False

        def open_upload(part: FilePart) -> _MeasuredPart | None:
            nonlocal opened
            if opened or part.field_name != "file" or not part.filename:
                return None
            opened = True
            options = UploadOptions(content_type=part.content_type, if_exists="fail")
            try:
                upload = self.store.upload(owner, ROOT.child(part.filename), options)
            except QuotaExceeded as exc:
                if exc.kind != "bytes":
                    raise
                return _MeasuredPart(None, exc)
            return _MeasuredPart(upload, None)

        try:
            form = read_multipart(request, self.context.block_size, open_upload)
        except QuotaExceeded as exc:
            return self._quota_refusal(owner, exc, 0)
        except _RefusedPart as refused:
            response = self._quota_refusal(owner, refused.quota, refused.size)
            if not refused.complete:
                response.headers["Connection"] = "close"
            return response
        if not form.files:
            raise InvalidName("No file provided")
        record = _record(owner, form.files[0][1])
        return json_response({"message": "File uploaded successfully", "file": record})

    def listing(self, request: Request, owner: Owner) -> Response:
        return json_response(
            {"files": [_record(owner, info) for info in self.store.list_files(owner)]}
        )

    def access(self, request: Request, owner: Owner, file_id: str) -> Response:
        number = _parse_id(file_id)
        body = _parse_json(small_body(request))
        public = body.get("public") if isinstance(body, dict) else None
        if not isinstance(public, bool):
            raise InvalidName('Invalid request body: send {"public": true} or {"public": false}')
        info = self.store.set_public(owner, number, public)
        return json_response(
            {"message": "File access updated successfully", "file": _record(owner, info)}
        )

    def remove(self, request: Request, owner: Owner, file_id: str) -> Response:
        """Delete one file; folders made over WebDAV are not DefDrive files, so they are 404."""
        number = _parse_id(file_id)
        info = self.store.stat_id(owner, number)
        if info is None or info.is_dir:
            raise NotFound(f"no file with id {number}")
        self.store.delete_id(owner, number)
        return json_response({"message": "File deleted successfully"})

    # --- request parsing and refusals ---------------------------------------------------

    def _quota_refusal(self, owner: Owner, exc: QuotaExceeded, file_size: int) -> Response:
        """The documented 403 with the figures after the refused upload gave its reservation
        back; ``file_size`` is the refused part's size as ``_MeasuredPart`` counted it."""
        usage = self.store.usage(owner)
        if exc.kind == "files":
            body: dict[str, Any] = {
                "error": "File limit exceeded",
                "current_files": usage.used_files,
                "max_files": exc.limit,
            }
        else:
            body = {
                "error": "Storage limit exceeded",
                "current_storage": usage.used_bytes,
                "max_storage": exc.limit,
                "file_size": file_size,
            }
        return json_response(body, 403)

    def _credentials(self, request: Request) -> tuple[str, str]:
        """``username`` and ``password`` from a JSON object, a urlencoded or a multipart form."""
        if request.mimetype == "multipart/form-data":
            fields: Any = read_multipart(
                request, self.context.block_size, lambda _part: None
            ).fields
        else:
            data = small_body(request)
            fields = _parse_json(data)
            if (
                not isinstance(fields, dict)
                and request.mimetype == "application/x-www-form-urlencoded"
            ):
                fields = dict(parse_qsl(data.decode("utf-8", "replace")))
        if not isinstance(fields, dict):
            raise InvalidName("Invalid request body: send username and password as JSON or a form")
        username, password = fields.get("username"), fields.get("password")
        if not isinstance(username, str) or not isinstance(password, str) or not username:
            raise InvalidName("username and password are required")
        return username, password

    def openapi_paths(self) -> dict[str, Any]:
        return _openapi()


class _RefusedPart(Exception):
    """The quota refused the file part of ``size`` bytes (fewer if not ``complete``)."""

    def __init__(self, quota: QuotaExceeded, size: int, *, complete: bool) -> None:
        super().__init__(str(quota))
        self.quota = quota
        self.size = size
        self.complete = complete


class _MeasuredPart:
    """The file part's upload; once the quota refuses it, it counts the rest instead."""

    def __init__(self, upload: Upload | None, refused: QuotaExceeded | None) -> None:
        self._upload = upload
        self._refused = refused
        self._size = 0
        self._counted = 0

    def write(self, data: bytes) -> None:
        self._size += len(data)
        if self._refused is None:
            assert self._upload is not None
            try:
                self._upload.write(data)
            except QuotaExceeded as exc:
                self._refused = exc
                self._upload.abort()
            return
        self._counted += len(data)
        if self._counted > MAX_COUNTED_BYTES:
            raise _RefusedPart(self._refused, self._size, complete=False)

    def commit(self) -> FileInfo:
        if self._refused is not None:
            raise _RefusedPart(self._refused, self._size, complete=True)
        assert self._upload is not None
        return self._upload.commit()

    def abort(self) -> None:
        if self._upload is not None:
            self._upload.abort()


def _record(owner: Owner, info: FileInfo) -> dict[str, Any]:
    return {
        "id": info.id,
        "name": info.name,
        "location": f"{owner.name}/{info.path.text}",
        "user_id": owner.id,
        "size": info.size,
        "public": info.public,
        "created_at": iso_time(info.created_at),
        "updated_at": iso_time(info.modified_at),
    }


def _parse_id(text: str) -> int:
    """The document's "Invalid file ID" for anything but an id the database can hold."""
    return parse_file_id(text, "Invalid file ID")


def _parse_json(data: bytes) -> Any:
    """The parsed body, or None if it is not JSON (deep nesting included)."""
    try:
        return json.loads(data)
    except (ValueError, RecursionError):
        return None


_STRING = {"type": "string"}
_INTEGER = {"type": "integer"}
_ERROR = json_object(error=_STRING)
_RECORD = json_object(
    id=_INTEGER,
    name=_STRING,
    location={**_STRING, "description": "{username}/{path}"},
    user_id=_INTEGER,
    size=_INTEGER,
    public={"type": "boolean"},
    created_at={**_STRING, "format": "date-time"},
    updated_at={**_STRING, "format": "date-time"},
)
_WITH_FILE = json_object(message=_STRING, file=_RECORD)
_USER = json_object(id=_INTEGER, username=_STRING)
_CREDENTIALS = {
    "required": True,
    "content": {
        media: {"schema": json_object(username=_STRING, password=_STRING)}
        for media in (
            "application/json",
            "application/x-www-form-urlencoded",
            "multipart/form-data",
        )
    },
}
_FILE_ID_PARAMETER = {"name": "file_id", "in": "path", "required": True, "schema": _INTEGER}
_SECURED = [{"bearer": []}, {"basic": []}, {"token": []}]


def _operation(summary: str, responses: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """An operation; every route can fail with the document's 500 body."""
    failure = json_response_spec("unexpected server failure", _ERROR)
    return {"summary": summary, **extra, "responses": {**responses, "500": failure}}


def _secured(summary: str, responses: dict[str, Any], **extra: Any) -> dict[str, Any]:
    unauthorized = json_response_spec("missing or invalid credentials", _ERROR)
    return _operation(summary, {**responses, "401": unauthorized}, security=_SECURED, **extra)


def _openapi() -> dict[str, Any]:
    bad_request = json_response_spec("malformed request", _ERROR)
    not_found = json_response_spec("no such file of this user (or a bad id)", _ERROR)
    quota = {
        "anyOf": [
            json_object(
                error={"const": "File limit exceeded"}, current_files=_INTEGER, max_files=_INTEGER
            ),
            json_object(
                error={"const": "Storage limit exceeded"},
                current_storage=_INTEGER,
                max_storage=_INTEGER,
                file_size={
                    **_INTEGER,
                    "description": "bytes of the refused file part (counted up to 64 MiB "
                    "past the refusal; beyond, those received and the connection is closed)",
                },
            ),
        ]
    }
    upload_body = {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {"file": {"type": "string", "format": "binary"}},
                    "required": ["file"],
                }
            }
        },
    }
    access_body = {
        "required": True,
        "content": {"application/json": {"schema": json_object(public={"type": "boolean"})}},
    }
    return {
        "/api/login": {
            "post": _operation(
                "Log in with username and password; returns a JWT for Authorization: Bearer",
                {
                    "200": json_response_spec(
                        "logged in",
                        json_object(
                            message=_STRING, token=_STRING, expires_in=_INTEGER, user=_USER
                        ),
                    ),
                    "400": bad_request,
                    "401": json_response_spec("wrong username or password", _ERROR),
                },
                security=[],
                requestBody=_CREDENTIALS,
            )
        },
        "/api/signup": {
            "post": _operation(
                "Create an account (only when the server enables open sign-up)",
                {
                    "200": json_response_spec(
                        "account created", json_object(message=_STRING, user=_USER)
                    ),
                    "400": bad_request,
                    "403": json_response_spec("sign-up is disabled", _ERROR),
                    "409": json_response_spec("the username is taken", _ERROR),
                },
                security=[],
                requestBody=_CREDENTIALS,
            )
        },
        "/api/upload": {
            "post": _secured(
                "Upload a file (multipart field file) to the home's root; private by default",
                {
                    "200": json_response_spec("stored", _WITH_FILE),
                    "400": bad_request,
                    "403": json_response_spec("file or storage quota exceeded", quota),
                    "409": json_response_spec("a file with this name exists", _ERROR),
                },
                requestBody=upload_body,
            )
        },
        "/api/files": {
            "get": _secured(
                "List every file of the user",
                {
                    "200": json_response_spec(
                        "the files", json_object(files={"type": "array", "items": _RECORD})
                    )
                },
            )
        },
        "/api/files/{file_id}/access": {
            "put": _secured(
                "Make a file public (downloadable at /public/{id}) or private",
                {
                    "200": json_response_spec("updated", _WITH_FILE),
                    "400": bad_request,
                    "403": json_response_spec(
                        "the server's link policy (passwords or expiry) keeps files private",
                        _ERROR,
                    ),
                    "404": not_found,
                },
                parameters=[_FILE_ID_PARAMETER],
                requestBody=access_body,
            )
        },
        "/api/files/{file_id}": {
            "delete": _secured(
                "Delete a file",
                {
                    "200": json_response_spec("deleted", json_object(message=_STRING)),
                    "400": bad_request,
                    "404": not_found,
                },
                parameters=[_FILE_ID_PARAMETER],
            )
        },
    }
