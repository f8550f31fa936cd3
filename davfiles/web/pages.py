"""The app's GET pages: files (sorted, keyset-paginated, searched), details with versions,
trash, account, and the downloads of files, versions and zips."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

from werkzeug.wrappers import Request, Response

from davfiles.errors import InvalidName, NotFound
from davfiles.numbers import whole_number
from davfiles.store import PAGE_ORDERS, FileInfo, UserPath, page_key, parse_id, parse_user_path
from davfiles.store.links import kinds_for
from davfiles.web import downloads
from davfiles.web.headers import preview_kind
from davfiles.web.sessions import BrowserSession
from davfiles.web.urls import see_other

if TYPE_CHECKING:
    from davfiles.web.app import WebApp

PAGE_SIZE = 200
# What a page says after a change redirected to it (``?note=``): fixed texts, so no link can
# make the app say something else.
NOTES = {
    "created": "The folder was created.",
    "renamed": "Renamed.",
    "moved": "Moved.",
    "copied": "Copied.",
    "deleted": "Deleted for good (the trash is off or skips this kind of file).",
    "uploaded": "Uploaded {count} file(s).",
    "skipped": "Uploaded {count} file(s); files whose name was taken were skipped.",
    "nothing": "No file was chosen.",
    "restored": "Restored from the trash.",
    "purged": "Deleted from the trash for good.",
    "version-restored": "The version is the file's content again; the replaced one is a version.",
    "password": "Your password was changed; every other browser was logged out.",
    "session-ended": "That session was ended.",
    "token-revoked": "The token was revoked; every other browser was logged out.",
    "link-created": "The link was made: its row is marked below.",
    "link-changed": "The link's settings were saved.",
    "link-regenerated": "The link has a new address; the old one no longer works.",
    "link-disabled": "The link is disabled: its address answers that it is gone.",
    "link-enabled": "The link is enabled again.",
    "link-deleted": "The link was deleted; its address no longer works.",
    "made-private": "The file is private again: its public address no longer works.",
}
SEARCH_LIMIT = 200
TRASH_LIMIT = 500


def files_url(path: UserPath | str, **query: str) -> str:
    text = path.text if isinstance(path, UserPath) else path
    url = "/app/files/" + quote(text + "/" if text else "")
    return url + ("?" + urlencode(query) if query else "")


def info_url(path: UserPath) -> str:
    return "/app/info/" + quote(path.text)


def download_url(path: UserPath) -> str:
    return "/app/download/" + quote(path.text)


def view_url(path: UserPath) -> str:
    return "/app/view/" + quote(path.text)


def link_base(request: Request) -> str:
    """The start of every share link's address (its token follows), below the proxy's prefix."""
    return request.url_root + "s/"


def human_size(size: int) -> str:
    value = float(size)
    for unit in ("bytes", "KB", "MB", "GB", "TB"):
        if value < 1000 or unit == "TB":
            return f"{size} bytes" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{size} bytes"


def when(timestamp: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(timestamp))


def crumbs(path: UserPath) -> list[tuple[str, str]]:
    """The breadcrumb trail: (label, link) from the home to ``path``."""
    trail = [("Home", files_url(""))]
    for depth in range(1, len(path.parts) + 1):
        trail.append((path.parts[depth - 1], files_url(UserPath(path.parts[:depth]))))
    return trail


TEMPLATE_HELPERS: dict[str, Any] = {
    "files_url": files_url,
    "info_url": info_url,
    "download_url": download_url,
    "view_url": view_url,
    "human_size": human_size,
    "when": when,
    "crumbs": crumbs,
    "preview_kind": preview_kind,
}


@dataclass(frozen=True)
class Sorting:
    order: str
    descending: bool

    @classmethod
    def of(cls, request: Request) -> Sorting:
        order = request.args.get("sort", "name")
        return cls(order if order in PAGE_ORDERS else "name", request.args.get("desc") == "1")

    def query(self, **more: str) -> dict[str, str]:
        query = {"sort": self.order} if self.order != "name" else {}
        if self.descending:
            query["desc"] = "1"
        return {**query, **more}

    def after(self, request: Request) -> tuple[Any, str] | None:
        """The position the page starts after, from the ``after`` and ``at`` parameters."""
        name = request.args.get("after")
        if name is None:
            return None
        raw = request.args.get("at", "")
        try:
            key: Any = {"name": lambda _: name, "size": int, "modified": float}[self.order](raw)
        except ValueError:
            raise InvalidName("the page position is not valid") from None
        return key, name

    def position(self, info: FileInfo) -> dict[str, str]:
        """The ``after`` (and ``at``) parameters of a page that starts after ``info``."""
        position = {"after": info.name}
        if self.order != "name":
            position["at"] = repr(page_key(info, self.order))
        return position

    def header_link(self, path: UserPath, order: str) -> str:
        descending = order == self.order and not self.descending
        query = {"sort": order} if order != "name" else {}
        if descending:
            query["desc"] = "1"
        return files_url(path, **query)


def _existing(app: WebApp, session: BrowserSession, path: UserPath) -> FileInfo:
    info = app.store.stat(session.owner, path)
    if info is None:
        raise NotFound(f"/{path.text} does not exist")
    return info


def _previous_link(
    app: WebApp, session: BrowserSession, path: UserPath, sorting: Sorting, first: FileInfo
) -> str | None:
    """The page before the one starting at ``first``: the same keyset read the other way
    (one more entry, to learn where that page starts), as fast on any page as ``next``."""
    before = app.store.list_page(
        session.owner,
        path,
        order=sorting.order,
        descending=not sorting.descending,
        after=(page_key(first, sorting.order), first.name),
        limit=PAGE_SIZE + 1,
    )
    if not before:
        return None
    if len(before) <= PAGE_SIZE:
        return files_url(path, **sorting.query())
    return files_url(path, **sorting.query(**sorting.position(before[PAGE_SIZE])))


def files(app: WebApp, request: Request, session: BrowserSession, path: str) -> Response:
    folder_path = parse_user_path(path)
    folder = _existing(app, session, folder_path)
    if not folder.is_dir:
        return see_other(request, info_url(folder_path))
    if path and not path.endswith("/"):
        return see_other(request, files_url(folder_path, **request.args), 308)
    sorting = Sorting.of(request)
    search = request.args.get("q", "").strip()
    entries: list[FileInfo]
    next_link = previous_link = None
    if search:
        entries = app.store.search_names(session.owner, folder_path, search, SEARCH_LIMIT)
    else:
        entries = app.store.list_page(
            session.owner,
            folder_path,
            order=sorting.order,
            descending=sorting.descending,
            after=sorting.after(request),
            limit=PAGE_SIZE + 1,
        )
        if len(entries) > PAGE_SIZE:
            entries = entries[:PAGE_SIZE]
            next_link = files_url(folder_path, **sorting.query(**sorting.position(entries[-1])))
        if entries and "after" in request.args:
            previous_link = _previous_link(app, session, folder_path, sorting, entries[0])
    undo = _undo_items(app, session, request.args.getlist("deleted"))
    return app.render(
        request,
        "files.html",
        session,
        folder=folder,
        path=folder_path,
        entries=entries,
        sorting=sorting,
        search=search,
        search_limit=SEARCH_LIMIT,
        next_link=next_link,
        previous_link=previous_link,
        first_link=files_url(folder_path, **sorting.query()) if "after" in request.args else None,
        undo=undo,
        note=note_of(request),
        orders=PAGE_ORDERS,
    )


def note_of(request: Request) -> str:
    text = NOTES.get(request.args.get("note", ""), "")
    count = whole_number(request.args.get("count", "0"))
    return text.replace("{count}", str(count or 0))


def _undo_items(app: WebApp, session: BrowserSession, raw_ids: list[str]) -> list[Any]:
    """The trash items a just-made delete put there, for its Undo button."""
    items = []
    for raw in raw_ids[:PAGE_SIZE]:
        item_id = parse_id(raw)
        if item_id is not None:
            item = app.store.trash_entry(session.owner, item_id)
            if item is not None:
                items.append(item)
    return items


def info(app: WebApp, request: Request, session: BrowserSession, path: str) -> Response:
    info_path = parse_user_path(path)
    item = _existing(app, session, info_path)
    versions = [] if item.is_dir else app.store.versions_of(session.owner, item.id)
    links = [listing.link for listing in app.store.links.listing(session.owner, node_id=item.id)]
    dav_url = request.url_root + "dav/" + quote(info_path.text)
    preview = None if item.is_dir else preview_kind(item.content_type)
    text = downloads.text_start(app.store, session.owner, item) if preview == "text" else None
    return app.render(
        request,
        "info.html",
        session,
        item=item,
        path=info_path,
        versions=versions,
        links=links,
        link_base=link_base(request),
        link_kinds=kinds_for(item.is_dir),
        dav_url=dav_url + ("/" if item.is_dir and info_path.parts else ""),
        preview=preview,
        text=text,
        text_preview=downloads.TEXT_PREVIEW,
        note=note_of(request),
    )


def download(app: WebApp, request: Request, session: BrowserSession, path: str) -> Response:
    item = _existing(app, session, parse_user_path(path))
    if item.is_dir:
        return see_other(request, "/app/zip/" + quote(item.path.text))
    return downloads.file_download(request, app.store, session.owner, item, inline=False)


def view(app: WebApp, request: Request, session: BrowserSession, path: str) -> Response:
    item = _existing(app, session, parse_user_path(path))
    if item.is_dir:
        return see_other(request, files_url(item.path))
    return downloads.file_download(request, app.store, session.owner, item, inline=True)


def zip_folder(app: WebApp, request: Request, session: BrowserSession, path: str) -> Response:
    folder_path = parse_user_path(path)
    folder = _existing(app, session, folder_path)
    if not folder.is_dir:
        return see_other(request, download_url(folder_path))
    members = app.store.list_dir(session.owner, folder_path)
    name = folder_path.name or session.owner.name
    return downloads.zip_download(app.store, session.owner, folder_path, members, name)


def zip_selection(app: WebApp, request: Request, session: BrowserSession) -> Response:
    folder_path = parse_user_path(request.form.get("folder", ""))
    chosen = []
    for name in request.form.getlist("name"):
        item = app.store.stat(session.owner, folder_path.child(name))
        if item is not None:
            chosen.append(item)
    if not chosen:
        raise InvalidName("choose at least one file or folder to download")
    label = folder_path.name or session.owner.name
    return downloads.zip_download(app.store, session.owner, folder_path, chosen, label)


def trash(app: WebApp, request: Request, session: BrowserSession) -> Response:
    entries = app.store.trash_list(session.owner)
    return app.render(
        request,
        "trash.html",
        session,
        entries=entries[:TRASH_LIMIT],
        total=len(entries),
        note=note_of(request),
    )


def account(
    app: WebApp, request: Request, session: BrowserSession, new_token: str | None = None
) -> Response:
    """Storage, sessions, API tokens and the password; ``new_token``: a secret just made."""
    return app.render(
        request,
        "account.html",
        session,
        sessions=app.sessions.of(session.owner),
        tokens=app.accounts.list_tokens(session.owner.name),
        usage=app.store.usage(session.owner),
        storage=app.store.storage_split(session.owner),
        new_token=new_token,
        note=note_of(request) if new_token is None else "",
    )


def version_download(
    app: WebApp, request: Request, session: BrowserSession, version_id: int
) -> Response:
    version, stream = app.store.version_open(session.owner, version_id)
    item = app.store.stat_id(session.owner, version.node_id)
    name = item.name if item is not None else f"file-{version.node_id}"
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime(version.modified_at))
    stem, dot, extension = name.rpartition(".")
    label = f"{stem} ({stamp}).{extension}" if dot and stem else f"{name} ({stamp})"
    content_type = item.content_type if item is not None else "application/octet-stream"
    return downloads.bytes_download(
        stream, label, version.size, version.md5 or str(version.id), content_type
    )
