"""The public door of share links: ``/s/<token>...``, answered without an account.

URLs (``<sub>`` is a path below a shared folder, each name checked by the store):

- ``GET /s/<token>``: the page: a file's details, a folder's listing, a drop's upload form
- ``GET /s/<token>/browse/<sub>``: a folder below a shared folder
- ``GET /s/<token>/download[/<sub>]``: a file's bytes (Range, ETag), or a folder as a zip;
  Nextcloud's ``/s/<token>/download?path=<folder>&files=<name>`` too
- ``POST /s/<token>/password``: the password form (a body field, never the query string)
- ``POST /s/<token>/upload[/<sub>]``: multipart upload (drop, or edit into ``<sub>``)
- ``POST /s/<token>/delete/<sub>`` and ``POST /s/<token>/mkdir[/<sub>]``: edit links
- ``/public.php/dav/files/<token>/...`` and ``/public.php/webdav/...``: public WebDAV
  (``webdav.py``)

Every URL of a link with a password needs the link's cookie or HTTP Basic with the password
(``access.py``). Answers: 404 for an unknown token or a target deleted for good, 410 for a
link that exists but serves nothing now (target in the trash, expired, download limit reached,
disabled), 401 with the password form, 429 while failed passwords must wait; each a small
HTML page, never a traceback.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import quote

from werkzeug.wrappers import Request, Response

from davfiles.auth.throttle import LoginThrottled
from davfiles.errors import (
    DavfilesError,
    Gone,
    InvalidName,
    NotFound,
)
from davfiles.links.access import LinkGate
from davfiles.links.davlocks import LinkLocks
from davfiles.links.pages import page, stylesheet
from davfiles.links.transfer import (
    DOWNLOAD_HEADERS,
    counted,
    counted_download,
    error_headers,
    status_of,
)
from davfiles.links.urls import (
    PREFIX,
    STATIC,
    Entry,
    base_url,
    browse_url,
    crumbs,
    page_number,
    quoted,
    static_url,
)
from davfiles.links.webdav import LEGACY_PREFIX, PublicDav
from davfiles.links.webdav import PREFIX as DAV_PREFIX
from davfiles.links.zipstream import zip_chunks
from davfiles.metrics_doors import DOOR_KEY
from davfiles.rest.io import (
    FilePart,
    MultipartResult,
    PartSink,
    content_disposition,
    read_multipart,
)
from davfiles.store import FileInfo, Store
from davfiles.store.links import LinkKind, Visit

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

logger = logging.getLogger(__name__)

LINKS_DOOR = "links"
# Entries per listing page: a folder of any size renders as fast as a small one.
PAGE_SIZE = 500
# The methods each action of /s/<token>/<action> takes.
_METHODS = {
    "page": ("GET", "HEAD"),
    "browse": ("GET", "HEAD"),
    "download": ("GET", "HEAD"),
    "password": ("POST",),
    "upload": ("POST",),
    "delete": ("POST",),
    "mkdir": ("POST",),
}
_GONE_TEXT = {
    "trashed": "The shared item is in its owner's trash.",
    "expired": "This link has expired.",
    "exhausted": "This link has reached its download limit.",
    "disabled": "This link has been disabled by its owner.",
}


@dataclass(frozen=True)
class _Target:
    """A request's link: the visit, its token, the action and the path below."""

    visit: Visit
    token: str
    action: str
    sub: str


class LinkDoor:
    """WSGI middleware answering ``/s/``; everything else goes on to ``app``."""

    def __init__(
        self,
        app: WSGIApplication,
        store: Store,
        gate: LinkGate,
        block_size: int,
        locks: LinkLocks,
    ) -> None:
        self.app = app
        self._store = store
        self._links = store.links
        self._dav = PublicDav(store, gate, block_size, locks)
        self._gate = gate
        self._block_size = block_size

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        public = path.startswith("/public.php/")
        if not (public or path.startswith(PREFIX) or path == "/s"):
            return self.app(environ, start_response)
        environ[DOOR_KEY] = LINKS_DOOR
        request = Request(environ)
        public_dav = path.startswith(DAV_PREFIX) or path.startswith(LEGACY_PREFIX + "/")
        try:
            if public and not public_dav:
                response = Response("not found\n", 404, mimetype="text/plain")
            else:
                response = self._dav(request) if public_dav else self._dispatch(request)
        except Exception:
            logger.exception("%s %s failed", request.method, "/s/...")
            response = _message(request, "Something went wrong", "Please try again later.", 500)
        return response(environ, start_response)

    def _dispatch(self, request: Request) -> Response:
        token, _slash, rest = request.path[len(PREFIX) :].partition("/")
        if token == STATIC and rest == "links.css":
            return stylesheet()
        action, _slash, sub = rest.partition("/")
        try:
            visit = self._links.open(token)
        except DavfilesError as exc:
            return self._error(request, exc)
        target = _Target(visit, token, action or "page", sub)
        try:
            return self._serve(request, target)
        except LoginThrottled as exc:
            return _message(
                request,
                "Too many attempts",
                "Too many wrong passwords: please wait and try again.",
                429,
                {"Retry-After": str(exc.retry_after)},
            )
        except DavfilesError as exc:
            return self._error(request, exc)

    def _serve(self, request: Request, target: _Target) -> Response:
        allowed = _METHODS.get(target.action)
        if allowed is None or (target.action == "page" and target.sub):
            raise NotFound("no such page")
        if request.method not in allowed:
            return _message(
                request,
                "Not allowed",
                "This address does not take that method.",
                405,
                {"Allow": ", ".join(allowed)},
            )
        if target.action == "password":
            return self._password(request, target)
        if not self._gate.admitted(request, target.visit):
            return self._ask_password(request, target, None, 401)
        handler: Callable[[Request, _Target], Response] = getattr(self, "_" + target.action)
        return handler(request, target)

    # --- password ------------------------------------------------------------------------

    def _ask_password(
        self, request: Request, target: _Target, error: str | None, status: int
    ) -> Response:
        return page(
            "password.html",
            status,
            title=target.visit.link.label or "Shared link",
            note=None,
            base=base_url(request, target.token),
            static=static_url(request),
            # After a wrong password the form keeps where the visitor was going (checked to
            # be inside the link when it is followed).
            next=request.path if request.method == "GET" else request.form.get("next", ""),
            error=error,
        )

    def _password(self, request: Request, target: _Target) -> Response:
        visit = target.visit
        base = base_url(request, target.token)
        if visit.link.password_hash is None:
            return _redirect(base)
        if not self._gate.check(request, visit, request.form.get("password", "")):
            return self._ask_password(request, target, "Wrong password.", 401)
        wanted = request.form.get("next", "")
        own = f"{PREFIX}{target.token}"
        inside = (wanted == own or wanted.startswith(own + "/")) and "//" not in wanted
        response = _redirect(request.script_root + quote(wanted) if inside else base)
        self._gate.set_cookie(request, response, visit, base)
        return response

    # --- reading -------------------------------------------------------------------------

    def _page(self, request: Request, target: _Target) -> Response:
        return self._browse(request, target)

    def _browse(self, request: Request, target: _Target) -> Response:
        visit = target.visit
        base = base_url(request, target.token)
        common = {
            "title": visit.link.label or visit.root.name,
            "note": visit.link.note,
            "base": base,
            "static": static_url(request),
        }
        # Drops resolve nothing below their folder (PermissionDenied before any lookup).
        info = self._links.resolve(visit, target.sub)
        if request.method == "GET":
            self._links.note_view(visit.link.id)
        if visit.link.kind == LinkKind.DROP:
            return page(
                "drop.html",
                received=[],
                error=None,
                require_name=visit.link.require_name,
                cap=visit.link.max_upload_bytes,
                **common,
            )
        if not info.is_dir:
            if target.sub:
                raise NotFound("not a folder")
            return page("file.html", file=info, **common)
        relative = self._links.relative(visit, info)
        members = sorted(
            self._links.list_folder(visit, info),
            key=lambda entry: (not entry.is_dir, entry.name.casefold(), entry.name),
        )
        pages = max(1, -(-len(members) // PAGE_SIZE))
        number = page_number(request, pages)
        entries = [
            Entry(entry, base, self._links.relative(visit, entry))
            for entry in members[(number - 1) * PAGE_SIZE : number * PAGE_SIZE]
        ]
        here = browse_url(request, target.token, relative)
        return page(
            "folder.html",
            crumbs=crumbs(base, visit.root.name, relative),
            entries=entries,
            page_number=number,
            pages=pages,
            previous=f"{here}?page={number - 1}" if number > 1 else None,
            next_page=f"{here}?page={number + 1}" if number < pages else None,
            zip_url=f"{base}/download/{quoted(relative)}".rstrip("/"),
            editable=visit.link.kind == LinkKind.EDIT,
            upload_url=f"{base}/upload/{quoted(relative)}".rstrip("/"),
            mkdir_url=f"{base}/mkdir/{quoted(relative)}".rstrip("/"),
            **common,
        )

    def _download(self, request: Request, target: _Target) -> Response:
        visit = target.visit
        visit.may(LinkKind.VIEW, LinkKind.EDIT)
        sub = target.sub
        if not sub and "files" in request.args:
            # Nextcloud's form of the same URL: ?path=<folder>&files=<name>.
            sub = f"{request.args.get('path', '')}/{request.args['files']}"
        info = self._links.resolve(visit, sub)
        if info.is_dir:
            return self._zip(request, visit, info)
        return counted_download(request, self._store, visit, info)

    def _zip(self, request: Request, visit: Visit, folder: FileInfo) -> Response:
        depth = len(folder.path.parts) - 1
        members = [(folder.name, folder)] + [
            ("/".join(info.path.parts[depth:]), info)
            for info in self._links.list_tree(visit, folder)
        ]
        name = f"{folder.name}.zip"
        response = Response(
            zip_chunks(members, lambda info: self._links.open_file(visit, info)),
            mimetype="application/zip",
            headers={**DOWNLOAD_HEADERS, "Content-Disposition": content_disposition(name)},
            direct_passthrough=True,
        )
        if request.method != "GET":
            response.response = []
            return response
        link_id = visit.link.id

        def delivered(_sent: int, finished: bool) -> None:
            if finished:
                self._links.note_download(link_id)

        return counted(response, delivered)

    # --- writing -------------------------------------------------------------------------

    def _upload(self, request: Request, target: _Target) -> Response:
        visit = target.visit
        result = MultipartResult()

        def open_upload(part: FilePart) -> PartSink | None:
            if part.field_name != "file" or not part.filename:
                return None
            name = _base_name(part.filename)
            if visit.link.kind == LinkKind.DROP:
                if target.sub:
                    raise NotFound("a drop takes files in its folder only")
                return self._links.drop_upload(visit, name, result.fields.get("uploader"))
            relative = f"{target.sub}/{name}" if target.sub else name
            return self._links.edit_upload(visit, relative)

        try:
            read_multipart(request, self._block_size, open_upload, result)
            if not result.files:
                raise InvalidName("choose a file to send")
        except DavfilesError as exc:
            if visit.link.kind != LinkKind.DROP:
                raise
            return self._drop_page(request, target, _received(result), str(exc), status_of(exc))
        if visit.link.kind == LinkKind.DROP:
            return self._drop_page(request, target, _received(result), None, 200)
        return _redirect(browse_url(request, target.token, target.sub))

    def _drop_page(
        self,
        request: Request,
        target: _Target,
        received: list[tuple[str, int]],
        error: str | None,
        status: int,
    ) -> Response:
        link = target.visit.link
        return page(
            "drop.html",
            status,
            title=link.label or target.visit.root.name,
            note=link.note,
            base=base_url(request, target.token),
            static=static_url(request),
            received=received,
            error=error,
            require_name=link.require_name,
            cap=link.max_upload_bytes,
        )

    def _delete(self, request: Request, target: _Target) -> Response:
        info = self._links.edit_delete(target.visit, target.sub)
        parent = "/".join(self._links.relative(target.visit, info).split("/")[:-1])
        return _redirect(browse_url(request, target.token, parent))

    def _mkdir(self, request: Request, target: _Target) -> Response:
        name = request.form.get("name", "")
        relative = f"{target.sub}/{name}" if target.sub else name
        self._links.edit_mkdir(target.visit, relative)
        return _redirect(browse_url(request, target.token, target.sub))

    # --- errors --------------------------------------------------------------------------

    def _error(self, request: Request, exc: DavfilesError) -> Response:
        status = status_of(exc)
        if isinstance(exc, Gone):
            return _message(request, "Link unavailable", _GONE_TEXT.get(exc.reason, str(exc)), 410)
        if status == 404:
            return _message(request, "Not found", "There is nothing at this link.", 404)
        if status == 500:
            logger.error("link request failed: %s", exc)
            return _message(request, "Something went wrong", "Please try again later.", 500)
        return _message(request, "Refused", str(exc), status, error_headers(exc))


def _message(
    request: Request,
    title: str,
    message: str,
    status: int,
    headers: dict[str, str] | None = None,
) -> Response:
    return page(
        "message.html",
        status,
        headers,
        title=title,
        note=None,
        message=message,
        static=static_url(request),
    )


def _redirect(location: str) -> Response:
    response = Response(status=303, headers={"Location": location})
    response.headers.update({"Referrer-Policy": "no-referrer", "Cache-Control": "no-store"})
    return response


def _base_name(filename: str) -> str:
    """The file's own name from what a browser sent (old ones send a whole Windows path)."""
    return filename.replace("\\", "/").rsplit("/", 1)[-1]


def _received(result: MultipartResult) -> list[tuple[str, int]]:
    """What a visitor sent, by the names they gave (a renamed clash tells them nothing)."""
    return [(_base_name(part.filename or ""), info.size) for part, info in result.files]
