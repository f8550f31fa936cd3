"""The base of every REST dialect: routes, auth failure and domain error responses.

A dialect is protocol only: it parses requests, calls the store and shapes responses. Storage,
quota, naming and permission rules stay in the store; defaults for error bodies live here and a
dialect overrides only what its document specifies.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from werkzeug.wrappers import Request, Response

from davfiles.auth.accounts import Accounts
from davfiles.auth.service import Authenticator
from davfiles.errors import (
    AlreadyExists,
    AuthFailed,
    BodyTooSlow,
    Busy,
    ChecksumMismatch,
    Conflict,
    DavfilesError,
    IncompleteUpload,
    InvalidName,
    NotFound,
    PermissionDenied,
    PreconditionFailed,
    QuotaExceeded,
    StorageFull,
)
from davfiles.rest.io import MAX_FIELD_BYTES, body_chunks, json_response
from davfiles.store import Store, is_storable_id, parse_id

ERROR_STATUS: tuple[tuple[type[DavfilesError], int], ...] = (
    (AuthFailed, 401),
    (NotFound, 404),
    (InvalidName, 400),
    (ChecksumMismatch, 400),
    (IncompleteUpload, 400),
    (PermissionDenied, 403),
    (AlreadyExists, 409),
    (Conflict, 409),
    (PreconditionFailed, 412),
    (QuotaExceeded, 507),
    (StorageFull, 507),
    (Busy, 429),
    (BodyTooSlow, 408),
)


def parse_file_id(raw: object, message: str) -> int:
    """A file id from a path, query, form or JSON value; InvalidName(``message``) otherwise.

    Accepts a JSON integer or a string of digits (never ``true`` or ``1.5``) within the ids the
    store can hold, so an id the database cannot compare is a 400, not a failed query.
    """
    number = parse_id(raw) if isinstance(raw, str) else raw
    if isinstance(number, int) and not isinstance(number, bool) and is_storable_id(number):
        return number
    raise InvalidName(message)


def small_body(request: Request) -> bytes:
    """A JSON or form body, refused past 64 KiB so no client can make us buffer more."""
    body = bytearray()
    for chunk in body_chunks(request, MAX_FIELD_BYTES + 1):
        body.extend(chunk)
        if len(body) > MAX_FIELD_BYTES:
            raise InvalidName("the request body is limited to 64 KiB")
    return bytes(body)


def json_object(request: Request) -> dict[str, Any]:
    """A small JSON object body (``{}`` when empty); InvalidName for anything else."""
    try:
        body = json.loads(small_body(request) or b"{}")
    except (ValueError, RecursionError):
        raise InvalidName("the body is not JSON") from None
    if not isinstance(body, dict):
        raise InvalidName("the body must be a JSON object")
    return body


def status_for(exc: DavfilesError) -> int:
    for kind, status in ERROR_STATUS:
        if isinstance(exc, kind):
            return status
    return 500


@dataclass(frozen=True)
class Route:
    """One documented endpoint: ``path`` uses werkzeug rule syntax, relative to the prefix."""

    path: str
    methods: tuple[str, ...]
    handler: str
    public: bool = False


@dataclass(frozen=True)
class DialectContext:
    """What a dialect may use: the store facade, auth services and a few settings."""

    store: Store
    authenticator: Authenticator
    accounts: Accounts
    block_size: int
    signup_enabled: bool
    default_max_bytes: int | None
    default_max_files: int | None


Handler = Callable[..., Response]


class Dialect:
    name: ClassVar[str]
    default_prefix: ClassVar[str]
    routes: ClassVar[tuple[Route, ...]]

    def __init__(self, context: DialectContext, prefix: str) -> None:
        self.context = context
        self.store = context.store
        self.prefix = prefix

    def handler(self, route: Route) -> Handler:
        return getattr(self, route.handler)  # type: ignore[no-any-return]

    def unauthorized(self, request: Request) -> Response:
        """The answer to missing or wrong credentials; dialects shape their documented body."""
        response = json_response({"error": "authentication required"}, 401)
        response.headers["WWW-Authenticate"] = 'Basic realm="davfiles"'
        return response

    def error_response(self, exc: DavfilesError) -> Response:
        return json_response({"error": str(exc)}, status_for(exc))

    def internal_error(self) -> Response:
        """The body for an unexpected failure: generic, no detail leaves the server."""
        return json_response({"error": "internal server error"}, 500)

    def openapi_paths(self) -> dict[str, Any]:
        """OpenAPI 3.1 path items keyed by the documented path (without the prefix)."""
        return {}
