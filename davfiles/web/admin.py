"""The admin pages of the web app: users with their usage and quotas, and the link policy.

Only for users with ``is_admin`` (``davfiles user admin NAME --on``); everyone else gets a 403
page. The changes are actions (``actions.py``: POST with the session's CSRF token); the rules
are the accounts' (``auth/accounts.py``) and the store's (``store/link_policy.py``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from werkzeug.wrappers import Request, Response

from davfiles.errors import PermissionDenied
from davfiles.store.links import LinkKind
from davfiles.web.sessions import BrowserSession

if TYPE_CHECKING:
    from davfiles.web.app import WebApp

# What an admin page says after a change (``?note=``), fixed texts as in ``pages.NOTES``.
NOTES = {
    "user-added": "The user was created.",
    "quota": "The quota was changed.",
    "policy": "The link policy was saved; existing links keep their settings.",
}


def require_admin(session: BrowserSession) -> None:
    if not session.is_admin:
        raise PermissionDenied("this page is for admins only")


def _note(request: Request) -> str:
    return NOTES.get(request.args.get("note", ""), "")


def admin_users(app: WebApp, request: Request, session: BrowserSession) -> Response:
    require_admin(session)
    return app.render(
        request, "admin_users.html", session, users=app.accounts.list_users(), note=_note(request)
    )


def admin_links(app: WebApp, request: Request, session: BrowserSession) -> Response:
    require_admin(session)
    return app.render(
        request,
        "admin_links.html",
        session,
        policy=app.store.links.policy(),
        kinds=list(LinkKind),
        note=_note(request),
    )
