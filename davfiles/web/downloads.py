"""Users' bytes to the browser: one file (Range, ETag), inline only when safe, and folders or
selections as a zip written while it is sent, never to a temporary file.

``zipfile`` writes to a stream that cannot seek by putting each entry's sizes and CRC in a
data descriptor after its bytes, so the archive goes out block by block as it is made.
"""

from __future__ import annotations

import time
import zipfile
from collections.abc import Iterable, Iterator
from typing import BinaryIO

from werkzeug.wrappers import Request, Response

from davfiles.errors import DavfilesError
from davfiles.rest.io import content_disposition, file_response
from davfiles.store import FileInfo, Owner, Store, UserPath
from davfiles.web.headers import CONTENT_HEADERS, inline_type

BLOCK = 1024 * 1024
# How much of a text file its details page shows.
TEXT_PREVIEW = 32 * 1024


def file_download(
    request: Request, store: Store, owner: Owner, info: FileInfo, *, inline: bool
) -> Response:
    """The file as an attachment, or inline when asked and its type is safe to show."""
    shown_as = inline_type(info.content_type) if inline else None
    response = file_response(
        request,
        store,
        owner,
        info,
        download_name=None if shown_as else info.name,
        headers=CONTENT_HEADERS,
    )
    if shown_as is not None:
        response.headers["Content-Type"] = shown_as
        response.headers["Content-Disposition"] = "inline"
    return response


def text_start(store: Store, owner: Owner, info: FileInfo) -> tuple[str, bool]:
    """The first ``TEXT_PREVIEW`` bytes of a text file as text for the details page (escaped
    there like any value), and whether there is more."""
    with store.open_read(owner, info) as stream:
        head = stream.read(TEXT_PREVIEW + 1)
    return head[:TEXT_PREVIEW].decode("utf-8", errors="replace"), len(head) > TEXT_PREVIEW


def bytes_download(
    stream: BinaryIO, name: str, size: int, etag: str, content_type: str
) -> Response:
    """Bytes the store opened (a version's) as an attachment."""
    response = Response(
        _blocks(stream),
        mimetype=content_type or "application/octet-stream",
        headers=CONTENT_HEADERS,
    )
    response.headers["Content-Disposition"] = content_disposition(name)
    response.content_length = size
    response.set_etag(etag)
    return response


def _blocks(stream: BinaryIO) -> Iterator[bytes]:
    with stream:
        while block := stream.read(BLOCK):
            yield block


class _Pipe:
    """A write-only, unseekable file for zipfile: what it writes waits here to be sent."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []

    def write(self, data: bytes) -> int:
        self._parts.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        pass

    def take(self) -> bytes:
        data = b"".join(self._parts)
        self._parts.clear()
        return data


def zip_entries(store: Store, owner: Owner, roots: Iterable[FileInfo]) -> list[FileInfo]:
    """Every file and folder a zip of ``roots`` holds, parents first."""
    entries: list[FileInfo] = []
    for root in roots:
        entries.append(root)
        if root.is_dir:
            entries.extend(store.list_tree(owner, root.path))
    return entries


def zip_stream(
    store: Store, owner: Owner, base: UserPath, entries: list[FileInfo]
) -> Iterator[bytes]:
    """The zip of ``entries`` named by their paths inside ``base``, made while it is sent.

    A file that vanished since the listing is left out; stored, not compressed: most big
    files are compressed already, and the CPU is better spent serving.
    """
    pipe = _Pipe()
    depth = len(base.parts)
    with zipfile.ZipFile(pipe, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as archive:  # type: ignore[arg-type]
        for info in entries:
            name = "/".join(info.path.parts[depth:])
            stamp = time.gmtime(max(info.modified_at, 315532800.0))[:6]
            entry = zipfile.ZipInfo(name + ("/" if info.is_dir else ""), date_time=stamp)
            if info.is_dir:
                archive.writestr(entry, b"")
                yield pipe.take()
                continue
            entry.file_size = info.size
            try:
                source = store.open_read(owner, info)
            except DavfilesError:  # gone since the listing: left out
                continue
            with source, archive.open(entry, "w", force_zip64=info.size > 2**31) as target:
                while block := source.read(BLOCK):
                    target.write(block)
                    yield pipe.take()
            yield pipe.take()
    yield pipe.take()


def zip_download(
    store: Store, owner: Owner, base: UserPath, roots: list[FileInfo], name: str
) -> Response:
    entries = zip_entries(store, owner, roots)
    response = Response(
        zip_stream(store, owner, base, entries), mimetype="application/zip", headers=CONTENT_HEADERS
    )
    response.headers["Content-Disposition"] = content_disposition(name + ".zip")
    return response
