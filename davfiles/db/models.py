"""SQLAlchemy models: users, tokens, file records, dead properties, locks, upload slots,
login throttling state, Digest nonce counts, trash, file versions, job leases, the commit
marks of disk journals, files renamed away by a safe save, share links, the link policy and
web app sessions."""

from __future__ import annotations

import secrets

from sqlalchemy import (
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    case,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.sql.elements import Grouping


class Base(DeclarativeBase):
    pass


class User(Base):
    """An account. Usage counters live here so a quota reservation is one conditional UPDATE."""

    __tablename__ = "users"
    # Ids are never reused, so nothing keyed by a deleted user's id reaches a new account.
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    digest_ha1: Mapped[str | None] = mapped_column(String(64))
    # Bumped on password change and token revocation: cached credential checks compare it.
    auth_version: Mapped[int] = mapped_column(Integer, default=0)
    max_bytes: Mapped[int | None] = mapped_column(BigInteger)
    max_files: Mapped[int | None] = mapped_column(BigInteger)
    used_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    used_files: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[float] = mapped_column(Float)
    # May use the web app's admin pages (users, quotas, the link policy).
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class Token(Base):
    """An API token; only the SHA-256 of the secret is stored."""

    __tablename__ = "tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    secret_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[float] = mapped_column(Float)


class Node(Base):
    """A file or folder in a user's home. ``id`` is stable across MOVE and rename.

    ``parent`` is the folder path relative to the home without leading or trailing slash
    ("" for the home itself); folders have rows too, so listings never touch the disk. The home
    itself is the row with parent "" and name "".

    A folder's ``tree_size`` and ``tree_version`` describe everything below it: the bytes of
    all files at any depth, and a counter bumped whenever anything at any depth is written,
    created, deleted or moved in or out. Every write updates them on the whole ancestor chain
    in one statement (``nodes.touch_ancestors``), so sync clients can skip folders whose ETag
    is unchanged and reading them costs no recursive query. Both stay 0 on files.
    """

    __tablename__ = "nodes"
    __table_args__ = (
        UniqueConstraint("owner_id", "parent", "name", name="uq_nodes_owner_parent_name"),
        Index("ix_nodes_owner_parent", "owner_id", "parent"),
        # A folder's page by date reads from here in order (``nodes.page_in``); by size, below.
        Index("ix_nodes_page_modified", "owner_id", "parent", "modified_at", "name"),
        # File ids are never reused: a /public/{id} link or a client's cached id of a
        # deleted file must not lead to a newer one.
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    parent: Mapped[str] = mapped_column(Text)
    name: Mapped[str] = mapped_column(Text)
    is_dir: Mapped[bool] = mapped_column(Boolean, default=False)
    size: Mapped[int] = mapped_column(BigInteger, default=0)
    content_type: Mapped[str] = mapped_column(String(255), default="application/octet-stream")
    md5: Mapped[str | None] = mapped_column(String(32))
    sha1: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[float] = mapped_column(Float)
    modified_at: Mapped[float] = mapped_column(Float)
    description: Mapped[str | None] = mapped_column(Text)
    # The name a client asked for when the store had to pick a free one ("a (1).txt").
    original_name: Mapped[str | None] = mapped_column(Text)
    public: Mapped[bool] = mapped_column(Boolean, default=False)
    tree_size: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    tree_version: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")


# A member's size as a folder's pages sort it: a folder's is the bytes below it. Indexed as
# this very expression, so a page by size is read in order instead of sorting the folder.
PAGE_SIZE_KEY = case((Node.is_dir, Node.tree_size), else_=Node.size)
# (In parentheses: PostgreSQL takes an expression in an index only so.)
Index("ix_nodes_page_size", Node.owner_id, Node.parent, Grouping(PAGE_SIZE_KEY), Node.name)


class DeadProperty(Base):
    """A WebDAV dead property, attached to the node so it follows MOVE and dies with DELETE."""

    __tablename__ = "dead_properties"

    node_id: Mapped[int] = mapped_column(
        ForeignKey("nodes.id", ondelete="CASCADE"), primary_key=True
    )
    name: Mapped[str] = mapped_column(Text, primary_key=True)
    value: Mapped[bytes] = mapped_column(LargeBinary)


class Lock(Base):
    """A WebDAV lock, shared by every server process using the database."""

    __tablename__ = "locks"

    token: Mapped[str] = mapped_column(String(100), primary_key=True)
    root: Mapped[str] = mapped_column(Text, index=True)
    principal: Mapped[str] = mapped_column(String(64))
    scope: Mapped[str] = mapped_column(String(16))
    type: Mapped[str] = mapped_column(String(16))
    depth: Mapped[str] = mapped_column(String(16))
    owner: Mapped[bytes] = mapped_column(LargeBinary)
    timeout: Mapped[float] = mapped_column(Float)
    expire: Mapped[float] = mapped_column(Float)


class UploadSlot(Base):
    """One upload in progress, counted against the per-user cap (``store/uploads.py``).

    ``expires_at`` is a lease the upload renews while bytes arrive, so the slot of a process
    killed mid-upload frees itself.
    """

    __tablename__ = "upload_slots"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    expires_at: Mapped[float] = mapped_column(Float)


class LoginFailure(Base):
    """Failed-login counter of one user name or client address (``auth/throttle.py``).

    ``key`` is a short hash of the kind and the name or address, never the text itself.
    """

    __tablename__ = "login_failures"
    __table_args__ = (Index("ix_login_failures_kind_stamp", "kind", "stamp"),)

    key: Mapped[bytes] = mapped_column(LargeBinary(16), primary_key=True)
    # "user" or "address": each kind is bounded on its own, so a flood of one cannot evict
    # the counters of the other.
    kind: Mapped[str] = mapped_column(String(8))
    score: Mapped[float] = mapped_column(Float)
    stamp: Mapped[float] = mapped_column(Float)
    # An attempt over the limit is being checked until then (one at a time per key).
    busy_until: Mapped[float] = mapped_column(Float, default=0.0)
    # The stamp of the failure whose wait was last refused (one audit line per wait).
    reported_stamp: Mapped[float] = mapped_column(Float, default=-1.0)


class LoginTrust(Base):
    """When a user last logged in successfully from an address (hashed pair)."""

    __tablename__ = "login_trust"

    key: Mapped[bytes] = mapped_column(LargeBinary(16), primary_key=True)
    last: Mapped[float] = mapped_column(Float, index=True)


class DigestNonce(Base):
    """The highest Digest nonce-count accepted for one nonce (``auth/digest_nonces.py``).

    A row exists only for a nonce that authenticated a request; ``expires_at`` is when the
    nonce goes stale, after which the row is useless and deleted.
    """

    __tablename__ = "digest_nonces"

    nonce_id: Mapped[bytes] = mapped_column(LargeBinary(16), primary_key=True)
    max_nc: Mapped[int] = mapped_column(BigInteger)
    expires_at: Mapped[float] = mapped_column(Float, index=True)


def new_disk_name() -> str:
    """A fresh name for kept bytes (trash, versions): no earlier entry can hold it."""
    return secrets.token_hex(16)


class TrashItem(Base):
    """One deleted file or folder in its owner's trash (``store/trash.py``).

    Its bytes wait, renamed, in ``data_dir/trash/<owner id>/<disk_name>``; the records of
    the tree wait in ``trashed_nodes`` and ``trashed_properties`` with their ids, so a
    restore brings back the same ids, public flags and dead properties. ``origin`` is the
    client address that deleted it, ``door`` the door it came through (``metrics_doors``:
    ``webdav``, ``fast``, ``rest:<dialect>``...) and ``agent`` its User-Agent, cut to 256
    characters; all three are None from the command line, and door and agent for items
    deleted before revision 0006.
    """

    __tablename__ = "trash_items"
    __table_args__ = (
        Index("ix_trash_items_owner_deleted", "owner_id", "deleted_at"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    node_id: Mapped[int] = mapped_column(BigInteger)
    parent: Mapped[str] = mapped_column(Text)
    name: Mapped[str] = mapped_column(Text)
    is_dir: Mapped[bool] = mapped_column(Boolean, default=False)
    # Bytes and files of the tree itself; its files' versions are counted in file_versions.
    size: Mapped[int] = mapped_column(BigInteger, default=0)
    files: Mapped[int] = mapped_column(BigInteger, default=0)
    deleted_at: Mapped[float] = mapped_column(Float)
    origin: Mapped[str | None] = mapped_column(String(64))
    door: Mapped[str | None] = mapped_column(String(64))
    agent: Mapped[str | None] = mapped_column(String(256))
    # The bytes' name in the trash folder: random, never the id, which SQLite hands out
    # again after a rollback (a crash could leave an entry under a reused id).
    disk_name: Mapped[str] = mapped_column(String(32), default=new_disk_name)


class TrashedNode(Base):
    """A node record of a trashed tree, as it was (same id) while the tree is in the trash."""

    __tablename__ = "trashed_nodes"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    trash_id: Mapped[int] = mapped_column(
        ForeignKey("trash_items.id", ondelete="CASCADE"), index=True
    )
    owner_id: Mapped[int] = mapped_column(Integer)
    parent: Mapped[str] = mapped_column(Text)
    name: Mapped[str] = mapped_column(Text)
    is_dir: Mapped[bool] = mapped_column(Boolean, default=False)
    size: Mapped[int] = mapped_column(BigInteger, default=0)
    content_type: Mapped[str] = mapped_column(String(255), default="application/octet-stream")
    md5: Mapped[str | None] = mapped_column(String(32))
    sha1: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[float] = mapped_column(Float)
    modified_at: Mapped[float] = mapped_column(Float)
    description: Mapped[str | None] = mapped_column(Text)
    original_name: Mapped[str | None] = mapped_column(Text)
    public: Mapped[bool] = mapped_column(Boolean, default=False)
    tree_size: Mapped[int] = mapped_column(BigInteger, default=0)
    tree_version: Mapped[int] = mapped_column(BigInteger, default=0)


class TrashedProperty(Base):
    """A dead property of a trashed node, kept for its restore."""

    __tablename__ = "trashed_properties"

    node_id: Mapped[int] = mapped_column(
        ForeignKey("trashed_nodes.id", ondelete="CASCADE"), primary_key=True
    )
    name: Mapped[str] = mapped_column(Text, primary_key=True)
    value: Mapped[bytes] = mapped_column(LargeBinary)


class FileVersion(Base):
    """An earlier content of a file (``store/versions.py``), in
    ``data_dir/versions/<owner id>/<disk_name>``. ``node_id`` names the file live or trashed;
    a ``label`` pins the version."""

    __tablename__ = "file_versions"
    __table_args__ = (
        Index("ix_file_versions_node", "node_id", "id"),
        Index("ix_file_versions_owner_created", "owner_id", "created_at"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    node_id: Mapped[int] = mapped_column(BigInteger)
    size: Mapped[int] = mapped_column(BigInteger)
    md5: Mapped[str | None] = mapped_column(String(32))
    sha1: Mapped[str | None] = mapped_column(String(40))
    # The content's modification time, and when it stopped being the current one.
    modified_at: Mapped[float] = mapped_column(Float)
    created_at: Mapped[float] = mapped_column(Float)
    author: Mapped[str] = mapped_column(String(64))
    label: Mapped[str | None] = mapped_column(Text)
    # The bytes' name in the versions folder: random, as ``TrashItem.disk_name``.
    disk_name: Mapped[str] = mapped_column(String(32), default=new_disk_name)


class Lease(Base):
    """A named job only one process runs at a time (the retention purge): held until
    ``expires_at`` by ``holder``."""

    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[float] = mapped_column(Float)


class LoginFlow(Base):
    """A Nextcloud Login Flow v2 in progress (``auth/login_flows.py``).

    Only the SHA-256 of its two tokens is kept; ``user_id`` is set once a user logged in on
    the flow's page, and the row is deleted when the app fetches its app password.
    """

    __tablename__ = "login_flows"

    poll_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    login_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str] = mapped_column(String(200), default="")
    # SHA-256 of the address that started the flow: each address may have only a few waiting.
    client_sha256: Mapped[str] = mapped_column(String(64), index=True, default="")
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    expires_at: Mapped[float] = mapped_column(Float, index=True)


class DiskJournal(Base):
    """The mark of a committed store write whose disk steps a journal file records
    (``store/journal.py``): present once the write committed, so a process killed before its
    journal was finished is completed or undone from it. Deleted once the journal is gone."""

    __tablename__ = "disk_journal"

    token: Mapped[str] = mapped_column(String(32), primary_key=True)
    created_at: Mapped[float] = mapped_column(Float)


class Departure(Base):
    """A file just renamed from its name to a temporary one (``store/saves.py``): Word's save
    renames the document away before renaming the new content to its name, which then takes
    over the document's id and versions."""

    __tablename__ = "departures"

    owner_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    # The name the file left.
    parent: Mapped[str] = mapped_column(Text, primary_key=True)
    name: Mapped[str] = mapped_column(Text, primary_key=True)
    node_id: Mapped[int] = mapped_column(BigInteger)
    left_at: Mapped[float] = mapped_column(Float)


class ShareLink(Base):
    """A share link (``store/links.py``): bound to the node id, so it follows renames and
    moves, answers 410 while the node is in the trash and 404 once it is gone for good.

    ``token`` is 128 random bits (22 characters); a token a link no longer uses is kept in
    ``retired_link_tokens`` so no later link can get it. Only the argon2 hash of a password is
    kept. ``downloads`` counts completed transfers (``link_transfers``).
    """

    __tablename__ = "share_links"
    __table_args__ = (
        Index("ix_share_links_owner", "owner_id", "id"),
        Index("ix_share_links_node", "node_id"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    node_id: Mapped[int] = mapped_column(BigInteger)
    token: Mapped[str] = mapped_column(String(32), unique=True)
    # "view", "drop" or "edit".
    kind: Mapped[str] = mapped_column(String(8))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    expires_at: Mapped[float | None] = mapped_column(Float)
    max_downloads: Mapped[int | None] = mapped_column(BigInteger)
    # Drops: the largest file a visitor may upload, and whether a name is required.
    max_upload_bytes: Mapped[int | None] = mapped_column(BigInteger)
    require_name: Mapped[bool] = mapped_column(Boolean, default=False)
    label: Mapped[str | None] = mapped_column(Text)
    note: Mapped[str | None] = mapped_column(Text)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    views: Mapped[int] = mapped_column(BigInteger, default=0)
    downloads: Mapped[int] = mapped_column(BigInteger, default=0)
    uploads: Mapped[int] = mapped_column(BigInteger, default=0)
    uploaded_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    last_access_at: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[float] = mapped_column(Float)


class RetiredLinkToken(Base):
    """The SHA-256 of a token a share link gave up (regenerated or deleted): never handed out
    again, so an old URL cannot come to open a newer link."""

    __tablename__ = "retired_link_tokens"

    token_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    retired_at: Mapped[float] = mapped_column(Float)


class LinkPolicy(Base):
    """The server's rules for new share links (``store/link_policy.py``): one row, id 1, or
    none (no rules). Days are whole days; ``password_kinds`` lists the kinds ("view,drop")
    whose links need a password."""

    __tablename__ = "link_policy"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    default_expiry_days: Mapped[int | None] = mapped_column(Integer)
    max_expiry_days: Mapped[int | None] = mapped_column(Integer)
    password_kinds: Mapped[str] = mapped_column(String(32), default="")
    updated_at: Mapped[float] = mapped_column(Float)


class LinkTransfer(Base):
    """The bytes of one file a client has received through a link, as ranges, until they
    make the whole file: then the link's download count grows by one and the row goes."""

    __tablename__ = "link_transfers"

    link_id: Mapped[int] = mapped_column(
        ForeignKey("share_links.id", ondelete="CASCADE"), primary_key=True
    )
    # SHA-256 of the client's network and the file's ETag: a resume continues its own row.
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    # JSON list of [start, end) byte ranges received.
    ranges: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[float] = mapped_column(Float, index=True)


class WebSession(Base):
    """A browser's login to the web app (``web/sessions.py``); only the SHA-256 of the
    cookie's token is kept. It ends at ``expires_at``, when deleted (log out, log out
    everywhere) and when the user's ``auth_version`` moves on (a password change)."""

    __tablename__ = "web_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    auth_version: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[float] = mapped_column(Float)
    last_seen_at: Mapped[float] = mapped_column(Float)
    expires_at: Mapped[float] = mapped_column(Float, index=True)
    client: Mapped[str | None] = mapped_column(String(64))
    agent: Mapped[str | None] = mapped_column(String(200))
