"""The one table from domain errors to WebDAV status codes."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from wsgidav.dav_error import (
    ERROR_DESCRIPTIONS,
    HTTP_BAD_REQUEST,
    HTTP_CONFLICT,
    HTTP_FORBIDDEN,
    HTTP_INSUFFICIENT_STORAGE,
    HTTP_NOT_FOUND,
    HTTP_PRECONDITION_FAILED,
    HTTP_UNAUTHORIZED,
    DAVError,
)

from davfiles.errors import (
    AlreadyExists,
    AuthFailed,
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

HTTP_TOO_MANY_REQUESTS = 429
# WsgiDAV's table of reason phrases stops before 429; without this it would say "429 Status".
ERROR_DESCRIPTIONS.setdefault(HTTP_TOO_MANY_REQUESTS, "429 Too Many Requests")

_STATUS: tuple[tuple[type[DavfilesError], int], ...] = (
    (QuotaExceeded, HTTP_INSUFFICIENT_STORAGE),
    (StorageFull, HTTP_INSUFFICIENT_STORAGE),
    (NotFound, HTTP_NOT_FOUND),
    (InvalidName, HTTP_BAD_REQUEST),
    (ChecksumMismatch, HTTP_BAD_REQUEST),
    (IncompleteUpload, HTTP_BAD_REQUEST),
    (PermissionDenied, HTTP_FORBIDDEN),
    (PreconditionFailed, HTTP_PRECONDITION_FAILED),
    (AlreadyExists, HTTP_PRECONDITION_FAILED),
    (Conflict, HTTP_CONFLICT),
    (AuthFailed, HTTP_UNAUTHORIZED),
    (Busy, HTTP_TOO_MANY_REQUESTS),
)


def to_dav_error(exc: DavfilesError) -> DAVError:
    for kind, status in _STATUS:
        if isinstance(exc, kind):
            headers = [("Retry-After", str(exc.retry_after))] if isinstance(exc, Busy) else None
            return DAVError(status, context_info=str(exc), add_headers=headers)
    raise exc


@contextmanager
def dav_errors() -> Iterator[None]:
    """Run store calls so that domain errors reach WsgiDAV as DAVErrors with the right status."""
    try:
        yield
    except DavfilesError as exc:
        raise to_dav_error(exc) from exc
