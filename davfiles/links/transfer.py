"""What every public door of a link shares: a file download counted by the bytes really
sent (``store/links.py`` decides when they make a download), and the status of each error."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

from werkzeug.wrappers import Request, Response

from davfiles.auth.throttle import client_network
from davfiles.errors import (
    AlreadyExists,
    Busy,
    Conflict,
    DavfilesError,
    Gone,
    IncompleteUpload,
    InvalidName,
    NotFound,
    PermissionDenied,
    QuotaExceeded,
    StorageFull,
    TooLarge,
)
from davfiles.rest.io import file_response
from davfiles.store import FileInfo, Store
from davfiles.store.links import LinkKind, Visit

# Shown in the browser: other types are downloaded, never rendered in this origin.
INLINE_TYPES = ("image/png", "image/jpeg", "image/gif", "image/webp", "text/plain")
DOWNLOAD_HEADERS = {
    "Content-Security-Policy": "sandbox; default-src 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
_STATUS = (
    (Gone, 410),
    (NotFound, 404),
    (TooLarge, 413),
    (PermissionDenied, 403),
    (InvalidName, 400),
    (IncompleteUpload, 400),
    (AlreadyExists, 409),
    (Conflict, 409),
    (QuotaExceeded, 507),
    (StorageFull, 507),
    (Busy, 429),
)


def status_of(exc: DavfilesError) -> int:
    for kind, status in _STATUS:
        if isinstance(exc, kind):
            return status
    return 500


def error_headers(exc: DavfilesError) -> dict[str, str]:
    """``Retry-After`` for a refusal that passes (a per-user cap on uploads in progress)."""
    return {"Retry-After": str(exc.retry_after)} if isinstance(exc, Busy) else {}


def counted_download(request: Request, store: Store, visit: Visit, info: FileInfo) -> Response:
    """The file's bytes (Range, ETag, conditional requests) with the download headers; a GET
    reports the bytes it sent to the link's count when it ends."""
    visit.may(LinkKind.VIEW, LinkKind.EDIT)
    inline = info.content_type.split(";")[0].strip().lower() in INLINE_TYPES
    response = file_response(
        request,
        store,
        visit.owner,
        info,
        download_name=None if inline else info.name,
        headers=DOWNLOAD_HEADERS,
    )
    if request.method != "GET" or response.status_code not in (200, 206):
        return response
    start = _range_start(response)
    address = request.remote_addr
    client = client_network(address) if address else None
    links, link_id = store.links, visit.link.id

    def delivered(sent: int, _finished: bool) -> None:
        links.note_delivery(link_id, client, info.etag, info.size, start, sent)

    return counted(response, delivered)


def _range_start(response: Response) -> int:
    """Where the body starts in the file: 0, or the first byte of a 206's Content-Range."""
    if response.status_code != 206:
        return 0
    content_range = response.content_range
    return content_range.start if content_range and content_range.start is not None else 0


class _Counted:
    """A response body that reports the bytes the server has written (a block counts once
    the server asks for the next, so it was handed on), and whether the whole body went out:
    as soon as the last block went, or when the server closes the body early."""

    def __init__(self, body: Iterable[bytes], report: Callable[[int, bool], None]) -> None:
        self._body = body
        self._report = report
        self._sent = 0
        self._reported = False

    def __iter__(self) -> Iterator[bytes]:
        for block in self._body:
            yield block
            self._sent += len(block)
        self._end(finished=True)

    def _end(self, *, finished: bool) -> None:
        if not self._reported:
            self._reported = True
            self._report(self._sent, finished)

    def close(self) -> None:
        try:
            close = getattr(self._body, "close", None)
            if close is not None:
                close()
        finally:
            self._end(finished=False)


def counted(response: Response, report: Callable[[int, bool], None]) -> Response:
    """``response`` whose body calls ``report(bytes sent, whole body sent)`` once at its end."""
    response.response = _Counted(response.response, report)
    return response
