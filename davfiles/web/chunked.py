"""Chunked uploads for the app's script: big files in pieces, resumable after a failure or a
reload, through the store's chunked uploads (the ones Nextcloud's chunking v1 uses at
``/remote.php/dav/uploads``), so both doors share one tested path.

The script names an upload after the file (a hash of folder, name, size and date), asks
which chunks the server has, sends the missing ones and asks to assemble them into the
file. The session cookie authenticates these URLs (they are the app's); each request carries
the session's CSRF token in ``X-CSRF-Token`` and no foreign Origin, so another site can
neither start nor feed an upload.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

from werkzeug.wrappers import Request, Response

from davfiles.errors import InvalidName
from davfiles.numbers import LATEST_TIME
from davfiles.rest.dialect import json_object
from davfiles.rest.io import body_chunks
from davfiles.store import UploadOptions, UserPath, parse_user_path
from davfiles.web.forms import check_change
from davfiles.web.sessions import BrowserSession

if TYPE_CHECKING:
    from davfiles.web.app import WebApp

CSRF_HEADER = "X-CSRF-Token"
_UPLOAD_ID = re.compile(r"^web-[0-9a-f]{8,64}$")
_CHUNK = re.compile(r"^[0-9]{1,6}$")
MAX_CHECKED = 1000
_IF_EXISTS = {"replace": "replace", "both": "rename"}


def _json(data: Any, status: int = 200) -> Response:
    return Response(
        json.dumps(data), status, {"Cache-Control": "no-store"}, mimetype="application/json"
    )


def _checked(request: Request, session: BrowserSession) -> None:
    check_change(request, {"csrf": request.headers.get(CSRF_HEADER, "")}, session.csrf)


def _upload_id(raw: str) -> str:
    if not _UPLOAD_ID.match(raw):
        raise InvalidName("an upload id is web- and 8 to 64 hex digits")
    return raw


def _inside(folder: UserPath, relative: object) -> UserPath:
    """``relative`` (a name, or ``a/b/name`` from a picked folder) inside ``folder``."""
    path = parse_user_path(str(relative))
    if path.is_root:
        raise InvalidName("a file needs a name")
    return UserPath((*folder.parts, *path.parts))


def check(app: WebApp, request: Request, session: BrowserSession) -> Response:
    """Before sending: which of the names (or relative paths) are taken, and the room left."""
    _checked(request, session)
    data = json_object(request)
    folder = parse_user_path(str(data.get("folder", "")))
    names = data.get("names", [])
    if not isinstance(names, list) or len(names) > MAX_CHECKED:
        raise InvalidName(f"names: a list of at most {MAX_CHECKED}")
    taken = []
    for name in names:
        if app.store.stat(session.owner, _inside(folder, name)) is not None:
            taken.append(name)
    usage = app.store.usage(session.owner)
    return _json({"taken": taken, "available_bytes": usage.available_bytes})


def state(app: WebApp, request: Request, session: BrowserSession, upload_id: str) -> Response:
    """The chunks the server holds of an upload (404: none yet)."""
    chunks = app.store.chunked_uploads.chunks(session.owner, _upload_id(upload_id))
    return _json({"chunks": [{"name": chunk.name, "size": chunk.size} for chunk in chunks]})


def start(app: WebApp, request: Request, session: BrowserSession, upload_id: str) -> Response:
    """Create the upload's folder; one that exists already is resumed (200)."""
    _checked(request, session)
    uploads, folder = app.store.chunked_uploads, _upload_id(upload_id)
    if uploads.exists(session.owner, folder):
        return _json({"resumed": True})
    uploads.create(session.owner, folder)
    return _json({"resumed": False}, 201)


def chunk(
    app: WebApp, request: Request, session: BrowserSession, upload_id: str, number: str
) -> Response:
    """Store one chunk, the raw body of a PUT of known length."""
    _checked(request, session)
    if not _CHUNK.match(number):
        raise InvalidName("a chunk is named by its number")
    if request.content_length is None:
        raise InvalidName("a chunk needs its Content-Length")
    writer = app.store.chunked_uploads.open_chunk(
        session.owner, _upload_id(upload_id), number.zfill(6), request.content_length
    )
    try:
        for block in body_chunks(request, app.block_size):
            writer.write(block)
    except BaseException:
        writer.abort()
        raise
    stored = writer.commit()
    return _json({"name": stored.name, "size": stored.size}, 201)


def finish(app: WebApp, request: Request, session: BrowserSession, upload_id: str) -> Response:
    """Assemble the chunks into the file; ``conflict`` says what a taken name gets. A
    ``name`` with folders (``a/b/name``, from a picked folder) makes the missing ones."""
    _checked(request, session)
    data = json_object(request)
    target = _inside(parse_user_path(str(data.get("folder", ""))), data.get("name", ""))
    conflict = data.get("conflict", "both")
    if conflict not in ("replace", "both"):
        raise InvalidName("conflict is replace or both (a skipped file is never sent)")
    size, mtime = data.get("size"), data.get("mtime")
    if not isinstance(size, int) or (
        mtime is not None and not (isinstance(mtime, int | float) and mtime <= LATEST_TIME)
    ):
        raise InvalidName("size is a whole number of bytes, mtime seconds since 1970")
    app.store.ensure_dirs(session.owner, target.parent)
    options = UploadOptions(
        content_type=app.store.content_type_for(target.name, None),
        mtime=float(mtime) if mtime is not None and mtime > 0 else None,
        if_exists=_IF_EXISTS[conflict],
    )
    info, _created = app.store.chunked_uploads.assemble(
        session.owner, _upload_id(upload_id), target, options, total_length=size
    )
    return _json({"name": info.name, "size": info.size}, 201)


def cancel(app: WebApp, request: Request, session: BrowserSession, upload_id: str) -> Response:
    _checked(request, session)
    app.store.chunked_uploads.delete(session.owner, _upload_id(upload_id))
    return Response(status=204)
