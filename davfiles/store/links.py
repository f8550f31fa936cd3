"""Share links: every rule about who may do what through a link lives here; doors call it.

A link is bound to its node's id, never to a path: it follows renames and moves; while the
node waits in the trash (``trashed_nodes`` keeps its id) the link is ``Gone("trashed")`` and
a restore revives it; once the node is deleted for good the link answers ``NotFound`` for good
(node ids are never reused).

Kinds: ``view`` (a file or a folder: read and download), ``drop`` (a folder: upload only; a
visitor never learns what it holds, an upload never replaces anything, a clash gets a free
``name (1).ext``, files may be capped in size) and ``edit`` (a folder: read, upload, replace,
delete and create folders, all through the store, so deletes land in the owner's trash and
replacements make versions). Every byte counts against the owner's quota, as any write.

The server's link policy (``link_policy.py``: default and maximum expiry, passwords required
per kind) is applied here, by ``create`` and ``update``, so every door obeys it; a violation
is PermissionDenied, which each door answers in its own shape.

State, in this order: ``disabled`` by the owner, ``expired`` at ``expires_at``, ``exhausted``
when ``downloads`` reached ``max_downloads``, else ``active``; only an active link serves.

Counting downloads: a download is one whole file delivered. A response reports the bytes it
really sent (``note_delivery``); a client's received ranges of one content (its network and
the file's ETag) are merged until they cover the file, then the count grows by one and the
ranges are forgotten. So an aborted transfer counts nothing, and a resumed one (a Range
request after the abort) counts once, when its last missing byte is sent. Partial ranges are
forgotten after ``TRANSFER_WINDOW``. A zip of a folder counts once, when its last byte is sent.
A download started before the limit was reached may finish; it is counted too.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, BinaryIO

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from davfiles.auth import audit
from davfiles.auth.audit import AuditEvent
from davfiles.auth.secrets import verify_password
from davfiles.db.models import LinkTransfer, Node, RetiredLinkToken, ShareLink, TrashedNode, User
from davfiles.errors import (
    AlreadyExists,
    Conflict,
    Gone,
    InvalidName,
    NotFound,
    PermissionDenied,
    TooLarge,
)
from davfiles.store import link_policy, nodes
from davfiles.store.link_policy import LinkPolicy
from davfiles.store.link_values import (
    MAX_PASSWORD,
    LinkInfo,
    LinkKind,
    LinkListing,
    LinkState,
    Visit,
    checked_changes,
    kinds_for,
    text_value,
    to_info,
)
from davfiles.store.locks import drop_link_locks, end_link_locks_by
from davfiles.store.models import FileInfo, Owner
from davfiles.store.paths import UserPath, parse_user_path
from davfiles.store.uploads import Upload, UploadOptions

if TYPE_CHECKING:
    from davfiles.store.store import Store

__all__ = [
    "DropUpload",
    "LinkInfo",
    "LinkKind",
    "LinkListing",
    "LinkPolicy",
    "LinkState",
    "ShareLinks",
    "Visit",
    "kinds_for",
    "retire_tokens_of",
]

TOKEN_BYTES = 16
TRANSFER_WINDOW = 24 * 3600.0
_COPY_BLOCK = 1024 * 1024


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


class ShareLinks:
    """The links of every user, over the store's database and files."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._db = store.db

    # --- the owner's side ----------------------------------------------------------------

    def create(
        self, owner: Owner, path: UserPath, kind: str, settings: Mapping[str, Any] | None = None
    ) -> LinkInfo:
        """A new link to the file or folder at ``path``; drop and edit links need a folder.
        Without an expiry it gets the policy's default one."""
        values = checked_changes({"kind": kind, **(settings or {})})
        if path.is_root:
            raise InvalidName("share a file or folder of the home, not the home itself")
        info = self._store.stat(owner, path)
        if info is None:
            raise NotFound(f"{path} does not exist")
        self._check_kind(values["kind"], info)
        now = time.time()
        with self._db.write() as session:
            values = link_policy.read(session).apply_to_new(values, now)
            defaults = {"require_name": False, "disabled": False}
            row = ShareLink(
                owner_id=owner.id,
                node_id=info.id,
                token=_new_token(session),
                views=0,
                downloads=0,
                uploads=0,
                uploaded_bytes=0,
                created_at=now,
                **{**defaults, **values},
            )
            session.add(row)
            session.flush()
            link = to_info(row)
        _audit(AuditEvent.LINK_CREATE, owner.name, link, f"{link.kind} /{path.text}")
        return link

    @staticmethod
    def _check_kind(kind: str, target: FileInfo) -> None:
        if kind not in kinds_for(target.is_dir):
            raise Conflict(f"a {kind} link needs a folder")

    def listing(self, owner: Owner | None = None, node_id: int | None = None) -> list[LinkListing]:
        """Links of ``owner`` (everyone's with None), of one node when ``node_id`` is given,
        oldest first, each with its node's path now."""
        query = (
            select(ShareLink, User.name)
            .join(User, User.id == ShareLink.owner_id)
            .order_by(ShareLink.id)
        )
        if owner is not None:
            query = query.where(ShareLink.owner_id == owner.id)
        if node_id is not None:
            query = query.where(ShareLink.node_id == node_id)
        with self._db.read() as session:
            rows = session.execute(query).all()
            ids = {row.node_id for row, _name in rows}
            live = {node.id: node for node in session.scalars(select(Node).where(Node.id.in_(ids)))}
            trashed = set(
                session.scalars(select(TrashedNode.id).where(TrashedNode.id.in_(ids))).all()
            )
            found = []
            for row, owner_name in rows:
                node = live.get(row.node_id)
                found.append(
                    LinkListing(
                        to_info(row),
                        owner_name,
                        nodes.path_of(node.parent, node.name) if node else None,
                        node.is_dir if node else None,
                        row.node_id in trashed,
                    )
                )
            return found

    def get(self, owner: Owner | None, link_id: int) -> LinkListing:
        """One link of ``owner`` (of anyone with None); NotFound otherwise."""
        with self._db.read() as session:
            row = session.get(ShareLink, link_id) if nodes.is_storable_id(link_id) else None
            if row is None or (owner is not None and row.owner_id != owner.id):
                raise NotFound(f"no link with id {link_id}")
            node_id = row.node_id
        for listed in self.listing(None, node_id):
            if listed.link.id == link_id:
                return listed
        raise NotFound(f"no link with id {link_id}")

    def update(self, owner: Owner | None, link_id: int, changes: Mapping[str, Any]) -> LinkInfo:
        """Change a link's settings; a new kind must fit its target. What changes must follow
        the policy (an expiry within its maximum, no password removed where one is required,
        no kind that requires one without it); other settings of the link are left alone."""
        values = checked_changes(changes)
        if "kind" in values:
            listed = self.get(owner, link_id)
            if listed.is_dir is not None and values["kind"] not in kinds_for(listed.is_dir):
                raise Conflict(f"a {values['kind']} link needs a folder")
        with self._db.write() as session:
            row = self._owned(session, owner, link_id)
            before = (row.kind, row.expires_at, row.disabled)
            for name, value in values.items():
                setattr(row, name, value)
            # A setting sent again as it was (OCS clients resend them) is no change.
            policy = link_policy.read(session)
            if row.expires_at != before[1]:
                policy.check_expiry(row.expires_at, time.time())
            if "password_hash" in values or row.kind != before[0]:
                policy.check_password(row.kind, row.password_hash is not None)
            # Locks go when the link stops serving edits; one that had already stopped holds
            # none (``taken_through_link`` refuses it new ones).
            stopped = row.disabled != before[2] or row.kind != before[0]
            if stopped and (row.disabled or row.kind != LinkKind.EDIT):
                drop_link_locks(session, row.id)
            elif row.expires_at is not None and row.expires_at != before[1]:
                end_link_locks_by(session, row.id, row.expires_at)
            session.flush()
            link, owner_name = to_info(row), _owner_name(session, row)
        _audit(AuditEvent.LINK_CHANGE, owner_name, link, " ".join(sorted(changes)))
        return link

    def regenerate(self, owner: Owner | None, link_id: int) -> LinkInfo:
        """A new token for the link, settings kept; the old token is never valid again."""
        with self._db.write() as session:
            row = self._owned(session, owner, link_id)
            _retire(session, row.token)
            row.token = _new_token(session)
            drop_link_locks(session, row.id)
            session.flush()
            link, owner_name = to_info(row), _owner_name(session, row)
        _audit(AuditEvent.LINK_REGENERATE, owner_name, link)
        return link

    def delete(self, owner: Owner | None, link_id: int) -> None:
        with self._db.write() as session:
            row = self._owned(session, owner, link_id)
            link, owner_name = to_info(row), _owner_name(session, row)
            _retire(session, row.token)
            drop_link_locks(session, row.id)
            session.delete(row)
        _audit(AuditEvent.LINK_DELETE, owner_name, link)

    def policy(self) -> LinkPolicy:
        return link_policy.load(self._db)

    def set_policy(self, policy: LinkPolicy, by: str) -> None:
        """Replace the policy (``by``: the admin, for the audit log); existing links keep
        their settings."""
        link_policy.save(self._db, policy)
        kinds = link_policy.kinds_text(policy.password_kinds) or "none"
        detail = (
            f"default_expiry_days={policy.default_expiry_days} "
            f"max_expiry_days={policy.max_expiry_days} password_kinds={kinds}"
        )
        audit.record(AuditEvent.LINK_POLICY, user=by, target=detail)

    @staticmethod
    def _owned(session: Session, owner: Owner | None, link_id: int) -> ShareLink:
        row = (
            session.get(ShareLink, link_id, with_for_update=True)
            if nodes.is_storable_id(link_id)
            else None
        )
        if row is None or (owner is not None and row.owner_id != owner.id):
            raise NotFound(f"no link with id {link_id}")
        return row

    # --- the visitor's side --------------------------------------------------------------

    def open(self, token: str, now: float | None = None) -> Visit:
        """The active link of ``token``: NotFound for an unknown token or a node deleted for
        good, Gone(reason) for one in the trash, expired, exhausted or disabled."""
        now = time.time() if now is None else now
        if not token or len(token) > 64:
            raise NotFound("no such link")
        with self._db.read() as session:
            row = session.execute(
                select(ShareLink, User.name)
                .join(User, User.id == ShareLink.owner_id)
                .where(ShareLink.token == token)
            ).one_or_none()
            if row is None:
                raise NotFound("no such link")
            link_row, owner_name = row
            link = to_info(link_row)
            node = nodes.by_id(session, link.owner_id, link.node_id)
            if node is None:
                if session.get(TrashedNode, link.node_id) is not None:
                    raise Gone("trashed")
                raise NotFound("the shared file was deleted")
            root = nodes.to_info(node)
        state = link.state(now)
        if state != LinkState.ACTIVE:
            raise Gone(str(state))
        return Visit(link, Owner(link.owner_id, owner_name), root)

    @staticmethod
    def check_password(visit: Visit, password: str) -> bool:
        """True for a link without a password or the right one (argon2, tens of ms)."""
        if visit.link.password_hash is None:
            return True
        if not password or len(password) > MAX_PASSWORD:
            return False
        return verify_password(password, visit.link.password_hash)

    def resolve(self, visit: Visit, relative: str) -> FileInfo:
        """The file or folder at ``relative`` below the shared folder ("" for the shared
        item itself). Names are checked one by one (no "..", no empty or encoded slash), so
        nothing outside the shared item is ever reached. Drops resolve nothing below."""
        path = self.inside(visit, relative)
        if path == visit.root.path:
            return visit.root
        visit.may(LinkKind.VIEW, LinkKind.EDIT)
        info = self._store.stat(visit.owner, path)
        if info is None:
            raise NotFound("no such file in this link")
        return info

    @staticmethod
    def inside(visit: Visit, relative: str) -> UserPath:
        """The owner's path of ``relative`` below the shared item (names checked)."""
        below = parse_user_path(relative)
        if below.parts and not visit.root.is_dir:
            raise NotFound("a shared file has nothing below it")
        return UserPath(visit.root.path.parts + below.parts)

    @staticmethod
    def relative(visit: Visit, info: FileInfo) -> str:
        """``info``'s path below the shared item, as ``a/b`` ("" for the item itself)."""
        return "/".join(info.path.parts[len(visit.root.path.parts) :])

    def list_folder(self, visit: Visit, folder: FileInfo) -> list[FileInfo]:
        visit.may(LinkKind.VIEW, LinkKind.EDIT)
        if not folder.is_dir:
            raise Conflict("not a folder")
        return self._store.list_dir(visit.owner, folder.path)

    def list_tree(self, visit: Visit, folder: FileInfo) -> list[FileInfo]:
        """Everything below ``folder``, parents first (for a zip)."""
        visit.may(LinkKind.VIEW, LinkKind.EDIT)
        return self._store.list_tree(visit.owner, folder.path)

    def open_file(self, visit: Visit, info: FileInfo) -> BinaryIO:
        visit.may(LinkKind.VIEW, LinkKind.EDIT)
        return self._store.open_read(visit.owner, info)

    def drop_upload(
        self, visit: Visit, filename: str, uploader: str | None, size: int | None = None
    ) -> DropUpload:
        """An upload into a drop (or edit) folder that never replaces a file: a taken name
        becomes ``name (1).ext``. ``size`` when announced is checked against the cap first."""
        visit.may(LinkKind.DROP, LinkKind.EDIT)
        uploader = text_value("the uploader's name", (uploader or "").strip() or None)
        if visit.link.require_name and uploader is None:
            raise InvalidName("this link asks for your name")
        cap = visit.link.max_upload_bytes
        if cap is not None and size is not None and size > cap:
            raise TooLarge(cap)
        path = visit.root.path.child(filename)
        who = f" by {uploader}" if uploader else ""
        label = visit.link.label or f"#{visit.link.id}"
        options = UploadOptions(
            expected_size=size,
            if_exists="rename",
            description=f"uploaded through link {label}{who}",
        )
        upload = self._store.upload(visit.owner, path, options)
        return DropUpload(self, visit.link.id, upload, cap)

    def edit_upload(self, visit: Visit, relative: str, size: int | None = None) -> Upload:
        """Write (create or replace, which keeps a version) the file at ``relative``."""
        visit.may(LinkKind.EDIT)
        path = self.inside(visit, relative)
        if path == visit.root.path:
            raise Conflict("the shared folder is not a file")
        return self._store.upload(visit.owner, path, UploadOptions(expected_size=size))

    def edit_delete(self, visit: Visit, relative: str) -> FileInfo:
        """Delete below the shared folder (to the owner's trash); never the folder itself."""
        visit.may(LinkKind.EDIT)
        path = self._below_root(visit, relative, "deleted")
        return self._store.delete(visit.owner, path)

    def edit_move(self, visit: Visit, source: str, target: str, *, overwrite: bool) -> bool:
        """Rename or move within the shared folder (never the folder itself); True if the
        target was created. A file moved over a file replaces it as a new content (a version)."""
        visit.may(LinkKind.EDIT)
        paths = (
            self._below_root(visit, source, "moved"),
            self._below_root(visit, target, "replaced"),
        )
        return self._store.move(visit.owner, *paths, overwrite=overwrite)

    def edit_copy(
        self, visit: Visit, source: str, target: str, *, overwrite: bool, recursive: bool = True
    ) -> bool:
        """Copy within the shared folder (never onto the folder itself); True if the target
        was created. A file copied over a file is written as that file's new content, so the
        old one is kept as a version, as a write through the link keeps it; anything else is
        the store's copy (a replaced target goes to the trash). Quotas count as for any copy."""
        visit.may(LinkKind.EDIT)
        found = self.resolve(visit, source)
        target_path = self._below_root(visit, target, "replaced")
        existing = self._store.stat(visit.owner, target_path)
        if existing is None or existing.is_dir or found.is_dir:
            return self._store.copy(
                visit.owner, found.path, target_path, overwrite=overwrite, recursive=recursive
            )
        if not overwrite:
            raise AlreadyExists(f"{target} exists")
        if existing.id == found.id:
            raise Conflict("source and destination are the same file")
        with (
            self.open_file(visit, found) as stream,
            self.edit_upload(visit, target, found.size) as upload,
        ):
            while block := stream.read(_COPY_BLOCK):
                upload.write(block)
        return False

    def edit_proppatch(
        self,
        visit: Visit,
        relative: str,
        properties: Mapping[str, bytes | None],
        modified: float | None = None,
    ) -> None:
        """Set or remove (None) dead properties of what is at ``relative`` and set its time
        (when given), all in one transaction: a PROPPATCH applies all of it or none."""
        visit.may(LinkKind.EDIT)
        info = self.resolve(visit, relative)
        self._store.patch_properties(visit.owner, info.path, properties, modified)

    def _below_root(self, visit: Visit, relative: str, done: str) -> UserPath:
        """The owner's path of ``relative``, refused when it is the shared folder itself,
        which an edit link never deletes, moves or replaces."""
        path = self.inside(visit, relative)
        if path == visit.root.path:
            raise PermissionDenied(f"the shared folder itself cannot be {done} through its link")
        return path

    def edit_mkdir(self, visit: Visit, relative: str) -> FileInfo:
        visit.may(LinkKind.EDIT)
        return self._store.mkdir(visit.owner, self.inside(visit, relative))

    # --- counters ------------------------------------------------------------------------

    def note_view(self, link_id: int) -> None:
        with self._db.write() as session:
            session.execute(
                update(ShareLink)
                .where(ShareLink.id == link_id)
                .values(views=ShareLink.views + 1, last_access_at=time.time())
            )

    def note_upload(self, link_id: int, size: int) -> None:
        with self._db.write() as session:
            session.execute(
                update(ShareLink)
                .where(ShareLink.id == link_id)
                .values(
                    uploads=ShareLink.uploads + 1,
                    uploaded_bytes=ShareLink.uploaded_bytes + size,
                    last_access_at=time.time(),
                )
            )

    def note_download(self, link_id: int) -> None:
        """One whole download delivered at once (a zip)."""
        with self._db.write() as session:
            session.execute(
                update(ShareLink)
                .where(ShareLink.id == link_id)
                .values(downloads=ShareLink.downloads + 1, last_access_at=time.time())
            )

    def note_delivery(
        self, link_id: int, client: str | None, content: str, size: int, start: int, sent: int
    ) -> bool:
        """Record ``sent`` bytes of ``content`` (a file's ETag) delivered from offset
        ``start`` of ``size``; True when they completed a download (counted). The link's row
        is locked first, so deliveries of one link are merged one at a time, and a link
        deleted meanwhile records nothing."""
        now = time.time()
        if sent <= 0 and size > 0:
            return False
        key = _sha256(f"{client or ''}\0{content}")
        with self._db.write() as session:
            session.execute(
                delete(LinkTransfer).where(LinkTransfer.updated_at < now - TRANSFER_WINDOW)
            )
            if session.get(ShareLink, link_id, with_for_update=True) is None:
                return False
            row = session.get(LinkTransfer, (link_id, key), with_for_update=True)
            ranges = json.loads(row.ranges) if row is not None else []
            ranges = _merged([*ranges, [start, start + sent]])
            complete = ranges[0][0] <= 0 and ranges[0][1] >= size
            values: dict[str, Any] = {"last_access_at": now}
            if complete:
                values["downloads"] = ShareLink.downloads + 1
                if row is not None:
                    session.delete(row)
            elif row is None:
                session.add(
                    LinkTransfer(
                        link_id=link_id, key=key, ranges=json.dumps(ranges), updated_at=now
                    )
                )
            else:
                row.ranges = json.dumps(ranges)
                row.updated_at = now
            session.execute(update(ShareLink).where(ShareLink.id == link_id).values(**values))
        return complete


class DropUpload:
    """An Upload that holds a drop link's size cap while bytes stream in, and counts the
    upload on the link when it is committed."""

    def __init__(self, links: ShareLinks, link_id: int, upload: Upload, cap: int | None) -> None:
        self._links = links
        self._link_id = link_id
        self._upload = upload
        self._cap = cap
        self._received = 0

    def write(self, data: bytes) -> None:
        self._received += len(data)
        if self._cap is not None and self._received > self._cap:
            self._upload.abort()
            raise TooLarge(self._cap)
        self._upload.write(data)

    def commit(self) -> FileInfo:
        info = self._upload.commit()
        self._links.note_upload(self._link_id, info.size)
        return info

    def abort(self) -> None:
        self._upload.abort()


def _merged(ranges: list[list[int]]) -> list[list[int]]:
    merged: list[list[int]] = []
    for start, end in sorted(ranges):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return merged


def _new_token(session: Session) -> str:
    """128 random bits no link has had (a clash is astronomically unlikely, yet checked)."""
    for _attempt in range(10):
        token = secrets.token_urlsafe(TOKEN_BYTES)
        taken = session.scalar(select(ShareLink.id).where(ShareLink.token == token))
        retired = session.get(RetiredLinkToken, _sha256(token))
        if taken is None and retired is None:
            return token
    raise RuntimeError("no free link token found")


def _owner_name(session: Session, row: ShareLink) -> str:
    return session.scalar(select(User.name).where(User.id == row.owner_id)) or ""


def _audit(event: AuditEvent, user: str, link: LinkInfo, detail: str = "") -> None:
    """An audit line for a link of the request in progress (``target``: ``link <id>``
    and what changed; never a token or password)."""
    audit.record(event, user=user, target=f"link {link.id} {detail}".strip())


def retire_tokens_of(session: Session, owner_id: int) -> None:
    """Keep the tokens of a user's links from ever being handed out again: called in the
    transaction that deletes the user (whose links go with it)."""
    tokens = session.scalars(select(ShareLink.token).where(ShareLink.owner_id == owner_id)).all()
    for token in tokens:
        _retire(session, token)


def _retire(session: Session, token: str) -> None:
    session.add(RetiredLinkToken(token_sha256=_sha256(token), retired_at=time.time()))
