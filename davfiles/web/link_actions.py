"""The app's changes to share links and to the public-by-id flag, run by ``actions.run``
(CSRF, origin and errors as every change). Each reads its form into the values the store
takes and calls ``ShareLinks`` (or ``Store.set_public``), which checks them and decides who
may; then it redirects to the page that shows the result."""

from __future__ import annotations

import calendar
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from werkzeug.wrappers import Request, Response

from davfiles.errors import InvalidName
from davfiles.numbers import whole_number
from davfiles.store import parse_id, parse_user_path
from davfiles.store.links import LinkKind
from davfiles.web.forms import one
from davfiles.web.sessions import BrowserSession
from davfiles.web.urls import see_other

if TYPE_CHECKING:
    from davfiles.web.app import WebApp

Fields = dict[str, list[str]]
Action = Callable[["WebApp", Request, BrowserSession, Fields], Response]
# How the forms write an expiry (an <input type="datetime-local">, or a date where a browser
# shows a plain text box); always UTC, as the pages show times.
EXPIRY_FORMATS = ("%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d")
# Beyond this many digits a number cannot be stored (and is no real limit anyway).
MAX_DIGITS = 15
MB = 1_000_000


def expiry(raw: str) -> float | None:
    """Unix seconds of a form's expiry in UTC; None for an empty field (no expiry)."""
    text = raw.strip()
    if not text:
        return None
    for pattern in EXPIRY_FORMATS:
        try:
            return float(calendar.timegm(time.strptime(text, pattern)))
        except ValueError:
            continue
    raise InvalidName("write the expiry as a date and time in UTC, like 2030-01-31T18:00")


def expiry_value(seconds: float | None) -> str:
    """``seconds`` as the expiry field shows it (the inverse of ``expiry``)."""
    if seconds is None:
        return ""
    return time.strftime("%Y-%m-%dT%H:%M", time.gmtime(seconds))


def _count(raw: str, what: str) -> int | None:
    text = raw.strip()
    if not text:
        return None
    number = whole_number(text)
    if number is None or len(text) > MAX_DIGITS:
        raise InvalidName(f"{what} must be a whole number, or empty for no limit")
    return number


def _megabytes(raw: str) -> int | None:
    """A size written in MB (decimals allowed) as bytes; None for an empty field."""
    text = raw.strip()
    whole, _dot, fraction = text.partition(".")
    if not text:
        return None
    whole_mb, fraction_mb = whole_number(whole or "0"), whole_number(fraction or "0")
    if whole_mb is None or fraction_mb is None or not (whole or fraction):
        raise InvalidName("the largest upload must be a number of MB, or empty for no limit")
    if len(whole) > MAX_DIGITS - 6:
        raise InvalidName("the largest upload is too big a number")
    return whole_mb * MB + int((fraction + "000000")[:6])


def megabytes_value(size: int | None) -> str:
    """``size`` in MB as the form shows it, exact to the byte (the inverse of ``_megabytes``)."""
    if size is None:
        return ""
    whole, rest = divmod(size, MB)
    return f"{whole}.{rest:06d}".rstrip("0").rstrip(".")


def _link_id(fields: Fields) -> int:
    link_id = parse_id(one(fields, "link"))
    if link_id is None:
        raise InvalidName("the link chosen is not valid")
    return link_id


def _back(request: Request, fields: Fields, link_id: int, note: str) -> Response:
    """To the link's own page when the form was there, else to its row on the links page."""
    if one(fields, "back", "links") == "link":
        return see_other(request, f"/app/links/{link_id}?note={note}")
    return see_other(request, f"/app/links?note={note}#link-{link_id}")


def _settings(fields: Fields) -> dict[str, Any]:
    """The settings both the creation and the edit form have."""
    return {
        "label": one(fields, "label", "").strip() or None,
        "expires_at": expiry(one(fields, "expires", "")),
        "max_downloads": _count(one(fields, "max_downloads", ""), "the download limit"),
    }


def link_create(app: WebApp, request: Request, session: BrowserSession, f: Fields) -> Response:
    """A new link to a file or folder (the details page's form)."""
    settings = _settings(f)
    password = one(f, "password", "")
    if password:
        settings["password"] = password
    path = parse_user_path(one(f, "path"))
    made = app.store.links.create(session.owner, path, one(f, "kind", "view"), settings)
    return _back(request, {}, made.id, "link-created")


def link_edit(app: WebApp, request: Request, session: BrowserSession, f: Fields) -> Response:
    """Label, note, password (kept when left empty), expiry, limits; the upload cap and the
    uploader's name only on drop links, whose form has them. Only what differs is sent, so
    the audit line names what really changed."""
    link_id = _link_id(f)
    current = app.store.links.get(session.owner, link_id).link
    values = {**_settings(f), "note": one(f, "note", "").strip() or None}
    if current.kind == LinkKind.DROP:
        values["max_upload_bytes"] = _megabytes(one(f, "max_upload_mb", ""))
        values["require_name"] = one(f, "require_name", "") == "1"
    changes = {name: value for name, value in values.items() if getattr(current, name) != value}
    if one(f, "expires", "").strip() == expiry_value(current.expires_at):
        # The form shows the expiry to the minute: unchanged, it is not a new expiry.
        changes.pop("expires_at", None)
    if one(f, "password_clear", "") == "1":
        changes["password"] = None
    elif one(f, "password", ""):
        changes["password"] = one(f, "password")
    if changes:
        app.store.links.update(session.owner, link_id, changes)
    return _back(request, f, link_id, "link-changed")


def link_regenerate(app: WebApp, request: Request, session: BrowserSession, f: Fields) -> Response:
    link_id = _link_id(f)
    app.store.links.regenerate(session.owner, link_id)
    return _back(request, f, link_id, "link-regenerated")


def link_disable(app: WebApp, request: Request, session: BrowserSession, f: Fields) -> Response:
    link_id = _link_id(f)
    app.store.links.update(session.owner, link_id, {"disabled": True})
    return _back(request, f, link_id, "link-disabled")


def link_enable(app: WebApp, request: Request, session: BrowserSession, f: Fields) -> Response:
    link_id = _link_id(f)
    app.store.links.update(session.owner, link_id, {"disabled": False})
    return _back(request, f, link_id, "link-enabled")


def link_delete(app: WebApp, request: Request, session: BrowserSession, f: Fields) -> Response:
    app.store.links.delete(session.owner, _link_id(f))
    return see_other(request, "/app/links?note=link-deleted")


def public_off(app: WebApp, request: Request, session: BrowserSession, f: Fields) -> Response:
    """Make a public-by-id file private again (defdrive's flag)."""
    file_id = parse_id(one(f, "file"))
    if file_id is None:
        raise InvalidName("the file chosen is not valid")
    app.store.set_public(session.owner, file_id, False)
    return see_other(request, "/app/links?note=made-private")


ACTIONS: dict[str, Action] = {
    "link-create": link_create,
    "link-edit": link_edit,
    "link-regenerate": link_regenerate,
    "link-disable": link_disable,
    "link-enable": link_enable,
    "link-delete": link_delete,
    "public-off": public_off,
}
