"""Shared REST plumbing: JSON responses, streamed uploads (raw and multipart), downloads."""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol
from urllib.parse import quote

from multipart import (
    MultipartSegment,
    ParserError,
    ParserLimitReached,
    PushMultipartParser,
    parse_options_header,
)
from werkzeug.exceptions import RequestedRangeNotSatisfiable
from werkzeug.wrappers import Request, Response
from werkzeug.wsgi import get_input_stream, wrap_file

from davfiles.errors import IncompleteUpload, InvalidName
from davfiles.store import FileInfo, Owner, Store, UploadOptions, UserPath

MAX_FIELD_BYTES = 64 * 1024
MAX_PARTS = 1000
# Longest header line of a part: room for a file name of 255 bytes percent-encoded three times
# over (RFC 5987 ``filename*``), far below what a client needs.
MAX_PART_HEADER_BYTES = 4096
FILE_BLOCK = 1024 * 1024


def iso_time(timestamp: float) -> str:
    """UTC time as ISO 8601 with a Z, the form every dialect document shows."""
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    body = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return Response(body, status=status, headers=headers, mimetype="application/json")


def body_chunks(request: Request, block_size: int) -> Iterator[bytes]:
    """The request body in blocks, whether it came with Content-Length or chunked."""
    stream = get_input_stream(request.environ, max_content_length=None)
    while True:
        chunk = stream.read(block_size)
        if not chunk:
            return
        yield chunk


def announced_length(request: Request) -> int | None:
    if "chunked" in request.headers.get("Transfer-Encoding", "").lower():
        return None
    return request.content_length


def upload_raw_body(
    request: Request,
    store: Store,
    owner: Owner,
    path: UserPath,
    options: UploadOptions,
    block_size: int,
) -> FileInfo:
    """Stream the whole request body into the file at ``path`` (atomic, quota-checked)."""
    with store.upload(owner, path, options) as upload:
        for chunk in body_chunks(request, block_size):
            upload.write(chunk)
    assert upload.result is not None
    return upload.result


@dataclass
class FilePart:
    field_name: str
    filename: str | None
    content_type: str | None


class PartSink(Protocol):
    """Where a file part's bytes go: an Upload, or a dialect's wrapper around one."""

    def write(self, data: bytes) -> None: ...

    def commit(self) -> FileInfo: ...

    def abort(self) -> None: ...


@dataclass
class MultipartResult:
    fields: dict[str, str] = field(default_factory=dict)
    files: list[tuple[FilePart, FileInfo]] = field(default_factory=list)


def read_multipart(
    request: Request,
    block_size: int,
    open_upload: Callable[[FilePart], PartSink | None],
    result: MultipartResult | None = None,
) -> MultipartResult:
    """Stream a multipart/form-data body part by part, never holding a file in memory.

    ``open_upload`` decides for each file part where it goes (an Upload) or None to treat it as
    a plain field. Text fields are collected (each capped at 64 KiB) into ``result`` (a new
    one by default), where ``open_upload`` may read the fields sent before its part. A failure
    aborts the upload in progress; files completed before it stay stored.
    """
    content_type, options = parse_options_header(request.headers.get("Content-Type", ""))
    if content_type != "multipart/form-data" or not options.get("boundary"):
        raise InvalidName("expected a multipart/form-data body")
    result = MultipartResult() if result is None else result
    upload: PartSink | None = None
    part: FilePart | None = None
    text = bytearray()
    try:
        parser = PushMultipartParser(
            options["boundary"],
            max_header_size=MAX_PART_HEADER_BYTES,
            max_segment_count=MAX_PARTS,
        )
        with parser:
            for chunk in body_chunks(request, block_size):
                for event in parser.parse(chunk):
                    if isinstance(event, MultipartSegment):
                        part = FilePart(event.name, event.filename, event.content_type)
                        upload = open_upload(part) if event.filename is not None else None
                        text.clear()
                    elif event is None:
                        assert part is not None
                        if upload is not None:
                            result.files.append((part, upload.commit()))
                            upload = None
                        else:
                            result.fields[part.field_name] = text.decode("utf-8", "replace")
                        part = None
                    elif upload is not None:
                        upload.write(event)
                    else:
                        text.extend(event)
                        if len(text) > MAX_FIELD_BYTES:
                            raise InvalidName("a form field is limited to 64 KiB")
    except ParserError as exc:
        raise IncompleteUpload(f"malformed multipart body: {exc}") from None
    except ParserLimitReached as exc:
        raise InvalidName(
            f"multipart body refused ({exc}): a part's header line is limited to "
            f"{MAX_PART_HEADER_BYTES} bytes, a body to {MAX_PARTS} parts"
        ) from None
    finally:
        if upload is not None:
            upload.abort()
    return result


def file_response(
    request: Request,
    store: Store,
    owner: Owner,
    info: FileInfo,
    *,
    download_name: str | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    """The file's bytes with ETag, Last-Modified, conditional requests and Range support."""
    stream = store.open_read(owner, info)
    response = Response(
        wrap_file(request.environ, stream, buffer_size=FILE_BLOCK),
        mimetype=info.content_type,
        direct_passthrough=True,
    )
    response.set_etag(info.etag)
    response.last_modified = datetime.fromtimestamp(info.modified_at, UTC)
    response.content_length = info.size
    if download_name is not None:
        response.headers["Content-Disposition"] = content_disposition(download_name)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    try:
        response.make_conditional(request.environ, accept_ranges=True, complete_length=info.size)
    except RequestedRangeNotSatisfiable:
        stream.close()
        return Response(
            status=416, headers={"Content-Range": f"bytes */{info.size}", "Accept-Ranges": "bytes"}
        )
    if response.status_code in (304, 412):
        # A conditional request that failed carries no body.
        stream.close()
        response.response = []
        response.content_length = 0 if response.status_code == 412 else None
    return response


def content_disposition(filename: str) -> str:
    """``attachment`` with an ASCII fallback and the exact UTF-8 name (RFC 6266 / 5987)."""
    fallback = unicodedata.normalize("NFKD", filename).encode("ascii", "ignore").decode("ascii")
    fallback = fallback.replace("\\", "_").replace('"', "_") or "download"
    if fallback == filename:
        return f'attachment; filename="{filename}"'
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"
