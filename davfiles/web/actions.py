"""The app's changes, each a POST form checked for CSRF, answered with a redirect (303) to the
page to see the result on: folders, rename, move and copy, delete with undo, uploads, trash,
versions, sessions and the password; share links in ``link_actions``; the admin pages' users,
quotas and link policy (``admin.py``). All of them work without JavaScript."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from werkzeug.wrappers import Request, Response

from davfiles.config import ConfigError, parse_count, parse_size
from davfiles.errors import AlreadyExists, AuthFailed, InvalidName, NotFound, PermissionDenied
from davfiles.rest.io import FilePart, MultipartResult, PartSink, read_multipart
from davfiles.store import FileInfo, UploadOptions, UserPath, check_name, parse_id, parse_user_path
from davfiles.store.link_policy import LinkPolicy, parse_days
from davfiles.store.links import LinkKind
from davfiles.web import link_actions, pages
from davfiles.web.admin import require_admin
from davfiles.web.forms import check_change
from davfiles.web.forms import one as _one
from davfiles.web.pages import files_url, info_url
from davfiles.web.sessions import BrowserSession
from davfiles.web.urls import see_other

if TYPE_CHECKING:
    from davfiles.web.app import WebApp

CONFLICT_CHOICES = ("replace", "both", "skip")
MAX_SELECTION = 1000

Action = Callable[["WebApp", Request, BrowserSession, dict[str, list[str]]], Response]


def run(app: WebApp, request: Request, session: BrowserSession, action: str) -> Response:
    if action == "upload":
        return _upload(app, request, session)
    handler = _ACTIONS.get(action)
    if handler is None:
        raise NotFound(f"there is no action {action}")
    form = request.form
    check_change(request, form.to_dict(), session.csrf)
    return handler(app, request, session, {key: form.getlist(key) for key in form})


def _folder(fields: dict[str, list[str]], name: str = "folder") -> UserPath:
    return parse_user_path(_one(fields, name, ""))


def _names(fields: dict[str, list[str]]) -> list[str]:
    names = fields.get("name", [])
    if not names:
        raise InvalidName("choose at least one file or folder first")
    if len(names) > MAX_SELECTION:
        raise InvalidName(f"choose at most {MAX_SELECTION} items at once")
    for name in names:
        check_name(name)
    return names


def _new_name(raw: str) -> str:
    name = raw.strip()
    check_name(name)
    return name


def mkdir(
    app: WebApp, request: Request, session: BrowserSession, f: dict[str, list[str]]
) -> Response:
    folder = _folder(f)
    app.store.mkdir(session.owner, folder.child(_new_name(_one(f, "name"))))
    return see_other(request, files_url(folder, note="created"))


def rename(
    app: WebApp, request: Request, session: BrowserSession, f: dict[str, list[str]]
) -> Response:
    source = parse_user_path(_one(f, "path"))
    if source.is_root:
        raise PermissionDenied("the home folder cannot be renamed")
    target = source.parent.child(_new_name(_one(f, "name")))
    if target != source:
        app.store.move(session.owner, source, target, overwrite=False)
    return see_other(request, info_url(target) + "?note=renamed")


def transfer(
    app: WebApp, request: Request, session: BrowserSession, f: dict[str, list[str]]
) -> Response:
    """Move or copy the chosen members of ``folder`` into ``destination``; never overwrites."""
    folder = _folder(f)
    destination = parse_user_path(_one(f, "destination").strip())
    target = app.store.stat(session.owner, destination)
    if target is None or not target.is_dir:
        raise NotFound(f"there is no folder /{destination.text}")
    copy = _one(f, "mode", "move") == "copy"
    for name in _names(f):
        source, goal = folder.child(name), destination.child(name)
        if app.store.stat(session.owner, goal) is not None:
            raise AlreadyExists(f"/{goal.text} exists already: nothing after it was done")
        if copy:
            app.store.copy(session.owner, source, goal, overwrite=False)
        else:
            app.store.move(session.owner, source, goal, overwrite=False)
    return see_other(request, files_url(destination, note="copied" if copy else "moved"))


def delete(
    app: WebApp, request: Request, session: BrowserSession, f: dict[str, list[str]]
) -> Response:
    """Move the chosen items to the trash; the folder's page offers to undo it."""
    folder = _folder(f)
    trashed: list[str] = []
    for name in _names(f):
        removed = app.store.delete(session.owner, folder.child(name))
        trashed += [str(item) for item in _trash_ids(app, session, removed)]
    if not trashed:
        return see_other(request, files_url(folder, note="deleted"))
    query = "&".join(f"deleted={item}" for item in trashed)
    return see_other(request, files_url(folder) + "?" + query)


def _trash_ids(app: WebApp, session: BrowserSession, removed: FileInfo) -> list[int]:
    """The trash item ``removed`` became (none when the trash kept it not)."""
    entries = app.store.trash_list(session.owner, folder=removed.path)
    return [entry.id for entry in entries if entry.node_id == removed.id][:1]


def restore(
    app: WebApp, request: Request, session: BrowserSession, f: dict[str, list[str]]
) -> Response:
    """Restore trash items: the Undo of a delete and the trash page's restore."""
    ids = _item_ids(f)
    restored, failed = app.store.trash_restore_all(session.owner, ids)
    if failed:
        reasons = "; ".join(reason for _item, reason in failed)
        raise AlreadyExists(f"{len(failed)} item(s) could not be restored: {reasons}")
    back = _one(f, "back", "trash")
    if back == "trash" or not restored:
        return see_other(request, "/app/trash?note=restored")
    return see_other(request, files_url(restored[0][1].path.parent, note="restored"))


def purge(
    app: WebApp, request: Request, session: BrowserSession, f: dict[str, list[str]]
) -> Response:
    everything = _one(f, "all", "") == "1"
    app.store.trash_purge(session.owner, None if everything else _item_ids(f))
    return see_other(request, "/app/trash?note=purged")


def _item_ids(fields: dict[str, list[str]]) -> list[int]:
    raw = fields.get("item", [])
    if not raw:
        raise InvalidName("choose at least one item first")
    ids = [parse_id(value) for value in raw]
    if None in ids or len(raw) > MAX_SELECTION:
        raise InvalidName("the items chosen are not valid")
    return [item_id for item_id in ids if item_id is not None]


def version_restore(
    app: WebApp, request: Request, session: BrowserSession, f: dict[str, list[str]]
) -> Response:
    version_id = parse_id(_one(f, "version"))
    if version_id is None:
        raise InvalidName("the version chosen is not valid")
    restored = app.store.version_restore(session.owner, version_id)
    return see_other(request, info_url(restored.path) + "?note=version-restored")


def logout(
    app: WebApp, request: Request, session: BrowserSession, f: dict[str, list[str]]
) -> Response:
    app.sessions.end(session.id, session.owner)
    response = see_other(request, "/app/login")
    app.clear_session_cookie(request, response)
    return response


def logout_everywhere(
    app: WebApp, request: Request, session: BrowserSession, f: dict[str, list[str]]
) -> Response:
    app.sessions.end_all(session.owner)
    response = see_other(request, "/app/login")
    app.clear_session_cookie(request, response)
    return response


def end_session(
    app: WebApp, request: Request, session: BrowserSession, f: dict[str, list[str]]
) -> Response:
    session_id = parse_id(_one(f, "session"))
    if session_id is None:
        raise InvalidName("the session chosen is not valid")
    app.sessions.end(session_id, session.owner)
    return see_other(request, "/app/account?note=session-ended")


def password(
    app: WebApp, request: Request, session: BrowserSession, f: dict[str, list[str]]
) -> Response:
    """Change the password: every session ends (``auth_version``), this browser logs in anew."""
    name = session.owner.name
    try:
        app.authenticator.verify(
            name, _one(f, "current", ""), client=request.remote_addr, tokens=False
        )
    except AuthFailed as exc:
        raise PermissionDenied("the current password is wrong") from exc
    new = _one(f, "new", "")
    if new != _one(f, "confirm", ""):
        raise InvalidName("the new password and its confirmation differ")
    _check_new_password(new)
    app.accounts.set_password(name, new)
    response = see_other(request, "/app/account?note=password")
    app.set_session_cookie(request, response, session.owner)
    return response


def _check_new_password(text: str) -> None:
    """The web app's floor for a password it sets (the CLI leaves it to the admin)."""
    if len(text) < 8:
        raise InvalidName("a password needs at least 8 characters")


def token_create(
    app: WebApp, request: Request, session: BrowserSession, f: dict[str, list[str]]
) -> Response:
    """A new API token; its secret is shown on this answer only (only its hash is kept)."""
    label = _one(f, "label", "").strip() or "web app"
    _token_id, secret = app.accounts.create_token(session.owner.name, label)
    return pages.account(app, request, session, new_token=secret)


def token_revoke(
    app: WebApp, request: Request, session: BrowserSession, f: dict[str, list[str]]
) -> Response:
    """Revoke one of the user's tokens. That ends every session (``auth_version``), as a
    password change does: this browser gets a new one."""
    token_id = parse_id(_one(f, "token"))
    owned = {token.id for token in app.accounts.list_tokens(session.owner.name)}
    if token_id not in owned:
        raise NotFound("you have no such token")
    app.accounts.revoke_token(token_id)
    response = see_other(request, "/app/account?note=token-revoked")
    app.set_session_cookie(request, response, session.owner)
    return response


def admin_user_add(
    app: WebApp, request: Request, session: BrowserSession, f: dict[str, list[str]]
) -> Response:
    """Create a user (``Accounts.add_user``'s rules); blank quotas are unlimited."""
    require_admin(session)
    secret = _one(f, "password", "")
    _check_new_password(secret)
    app.accounts.add_user(
        _one(f, "user").strip(),
        secret,
        max_bytes=_limit(parse_size, _one(f, "max_bytes", "")),
        max_files=_limit(parse_count, _one(f, "max_files", "")),
    )
    return see_other(request, "/app/admin/users?note=user-added")


def admin_quota(
    app: WebApp, request: Request, session: BrowserSession, f: dict[str, list[str]]
) -> Response:
    """Set a user's byte and file quota (blank: unlimited)."""
    require_admin(session)
    app.accounts.set_quota(
        _one(f, "user"),
        max_bytes=_limit(parse_size, _one(f, "max_bytes", "")),
        max_files=_limit(parse_count, _one(f, "max_files", "")),
    )
    return see_other(request, "/app/admin/users?note=quota")


def _limit(parse: Callable[[object], int | None], raw: str) -> int | None:
    """A quota field: blank or ``unlimited`` is no limit; sizes as ``5G``, ``500M``."""
    try:
        return parse(raw.strip() or "unlimited")
    except ConfigError as exc:
        raise InvalidName(str(exc)) from None


def admin_link_policy(
    app: WebApp, request: Request, session: BrowserSession, f: dict[str, list[str]]
) -> Response:
    """Replace the link policy; blank days are no rule, checked kinds need a password."""
    require_admin(session)
    policy = LinkPolicy(
        parse_days(_one(f, "default_expiry_days", "")),
        parse_days(_one(f, "max_expiry_days", "")),
        frozenset(kind for kind in LinkKind if kind in f.get("password_kinds", [])),
    )
    app.store.links.set_policy(policy, session.owner.name)
    return see_other(request, "/app/admin/links?note=policy")


class _Skipped:
    """Where a file part goes that is not stored: the file at its name stays as it is."""

    def __init__(self, info: FileInfo) -> None:
        self.info = info

    def write(self, data: bytes) -> None:
        pass

    def commit(self) -> FileInfo:
        return self.info

    def abort(self) -> None:
        pass


def _upload(app: WebApp, request: Request, session: BrowserSession) -> Response:
    """A plain multipart form: ``csrf``, ``folder`` and ``conflict`` before the files.

    Each file streams into the store as it arrives; the CSRF token is checked before the
    first byte is stored. The quota is the store's to judge as each file is written: only it
    knows what a replaced file gives back (its bytes credited, or kept as a version the store
    may reclaim), so the size of the whole body says nothing about what fits.
    """
    owner = session.owner
    fields = MultipartResult()
    skipped: list[str] = []

    def open_upload(part: FilePart) -> PartSink | None:
        check_change(request, fields.fields, session.csrf)
        folder = parse_user_path(fields.fields.get("folder", ""))
        choice = fields.fields.get("conflict", "both")
        if choice not in CONFLICT_CHOICES:
            raise InvalidName("the conflict choice must be replace, both or skip")
        if not part.filename:
            return None  # no file chosen: an empty field
        name = part.filename.replace("\\", "/").rsplit("/", 1)[-1]
        check_name(name)
        path = folder.child(name)
        if choice == "skip":
            existing = app.store.stat(owner, path)
            if existing is not None:
                skipped.append(name)
                return _Skipped(existing)
        content_type = app.store.content_type_for(name, part.content_type)
        options = UploadOptions(
            content_type=content_type, if_exists="rename" if choice == "both" else "replace"
        )
        return app.store.upload(owner, path, options)

    read_multipart(request, app.block_size, open_upload, fields)
    check_change(request, fields.fields, session.csrf)
    folder = parse_user_path(fields.fields.get("folder", ""))
    count = len(fields.files) - len(skipped)
    note = "skipped" if skipped else "uploaded" if count else "nothing"
    return see_other(request, files_url(folder, note=note, count=str(count)))


_ACTIONS: dict[str, Action] = {
    "mkdir": mkdir,
    "rename": rename,
    "transfer": transfer,
    "delete": delete,
    "restore": restore,
    "purge": purge,
    "version-restore": version_restore,
    "logout": logout,
    "logout_everywhere": logout_everywhere,
    "end_session": end_session,
    "password": password,
    "token_create": token_create,
    "token_revoke": token_revoke,
    **link_actions.ACTIONS,
    "admin-user-add": admin_user_add,
    "admin-quota": admin_quota,
    "admin-link-policy": admin_link_policy,
}
