"""The links pages: every share link of the user with its state and counts, beside the files
made public by id (the defdrive dialect's flag); one link's page with its settings; and the
QR code of an address as SVG. The rules are the store's (``ShareLinks``): these only show."""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

import segno
from werkzeug.wrappers import Request, Response

from davfiles.errors import NotFound
from davfiles.web.headers import PAGE_HEADERS
from davfiles.web.link_actions import expiry_value, megabytes_value
from davfiles.web.pages import link_base, note_of
from davfiles.web.sessions import BrowserSession

if TYPE_CHECKING:
    from davfiles.web.app import WebApp

# A QR code big enough to scan from a screen, with the quiet zone the standard asks for.
QR_SCALE = 5
QR_BORDER = 4
TEMPLATE_HELPERS = {"expiry_value": expiry_value, "megabytes_value": megabytes_value}


def public_base(request: Request) -> str:
    """The start of every file's public-by-id address (the file's id follows)."""
    return request.url_root + "public/"


def qr_svg(text: str) -> bytes:
    """The QR code of ``text`` as a standalone SVG: black on white (readable on a dark page
    too), no XML declaration, no script and no style attribute."""
    out = io.BytesIO()
    code = segno.make_qr(text, error="m")
    code.save(
        out, kind="svg", scale=QR_SCALE, border=QR_BORDER, dark="#000", light="#fff", xmldecl=False
    )
    return out.getvalue()


def links(app: WebApp, request: Request, session: BrowserSession) -> Response:
    return app.render(
        request,
        "links.html",
        session,
        links=app.store.links.listing(session.owner),
        public=app.store.public_files(session.owner),
        link_base=link_base(request),
        public_base=public_base(request),
        note=note_of(request),
    )


def link(app: WebApp, request: Request, session: BrowserSession, link_id: int) -> Response:
    """One link: its address, QR code, counts and the form to change its settings."""
    return app.render(
        request,
        "link.html",
        session,
        listed=app.store.links.get(session.owner, link_id),
        link_base=link_base(request),
        note=note_of(request),
    )


def _svg(data: bytes) -> Response:
    return Response(data, 200, PAGE_HEADERS, content_type="image/svg+xml")


def link_qr(app: WebApp, request: Request, session: BrowserSession, link_id: int) -> Response:
    """The QR code of one of the user's links (another user's link is NotFound)."""
    token = app.store.links.get(session.owner, link_id).link.token
    return _svg(qr_svg(link_base(request) + token))


def public_qr(app: WebApp, request: Request, session: BrowserSession, file_id: int) -> Response:
    """The QR code of one of the user's public files."""
    info = app.store.stat_id(session.owner, file_id)
    if info is None or info.is_dir or not info.public:
        raise NotFound(f"you have no public file with id {file_id}")
    return _svg(qr_svg(public_base(request) + str(file_id)))
