"""File versions: the content a write replaces is kept, not destroyed.

When an upload replaces a file's content, the old file gets a second name (a hard link, no
copy) in ``data_dir/versions/<owner id>/<disk name>`` and a ``file_versions`` row, in the
same transaction as the replacement. No version is made when the new content has the same
SHA-1 (a client re-uploading unchanged bytes), when the same user's previous save of the
file is younger than the coalescing window (autosave), for temporaries (``skips.py``), nor
when the old bytes are not on disk. Versions are keyed by the file's id,
so they follow it through MOVE, into the trash and back. Their bytes count in the byte quota;
all but the newest of a file, unless labelled, can be evicted for room (``retention.py``).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Select, bindparam, delete, select
from sqlalchemy.orm import Session

from davfiles.db.models import FileVersion, Node
from davfiles.errors import NotFound
from davfiles.store import nodes
from davfiles.store.disk_changes import DiskChanges
from davfiles.store.models import Owner
from davfiles.store.paths import disk_path
from davfiles.store.skips import skips

if TYPE_CHECKING:
    from davfiles.store.store import Store

MAX_LABEL_CHARS = 255


@dataclass(frozen=True)
class VersionInfo:
    id: int
    node_id: int
    size: int
    md5: str | None
    sha1: str | None
    modified_at: float
    created_at: float
    author: str
    label: str | None
    disk_name: str

    @property
    def pinned(self) -> bool:
        return self.label is not None


def version_path(store: Store, owner_id: int, disk_name: str) -> Path:
    return store.versions_dir / str(owner_id) / disk_name


def exist(
    session: Session, node_ids: Collection[int] | Select[tuple[int]], *, pinned: bool = False
) -> bool:
    """Whether any of these files (ids, or a query of ids) has a version (a labelled one)."""
    query = select(FileVersion.id).where(FileVersion.node_id.in_(node_ids))
    if pinned:
        query = query.where(FileVersion.label.is_not(None))
    return session.execute(query.limit(1)).first() is not None


_NEWEST = (
    select(FileVersion.created_at, FileVersion.author)
    .where(FileVersion.node_id == bindparam("node_id"))
    .order_by(FileVersion.id.desc())
    .limit(1)
)


def wanted(
    store: Store,
    session: Session,
    node: Node,
    new_sha1: str | None,
    author: str,
    now: float,
    *,
    name: str | None = None,
    coalesce: bool = True,
) -> bool:
    """Whether replacing ``node``'s content by ``new_sha1`` keeps the old one as a version;
    ``name``: the file's name once replaced, when it differs, and ``coalesce=False`` for a
    save that replaces a file by another one, never an autosave's rewrite (``saves.py``)."""
    keeping = store.keeping
    if not keeping.versions_enabled or node.sha1 == new_sha1:
        return False
    if skips(keeping.trash_skip, name or node.name):
        return False
    if keeping.versions_coalesce_seconds <= 0 or not coalesce:
        return True
    newest = session.execute(_NEWEST, {"node_id": node.id}).first()
    if newest is None or newest.author != author:
        return True
    return now - newest.created_at >= keeping.versions_coalesce_seconds


def keep(
    store: Store, session: Session, changes: DiskChanges, owner: Owner, node: Node, now: float
) -> None:
    """Keep ``node``'s current content as a version (before the new content replaces it)."""
    version = FileVersion(
        owner_id=owner.id,
        node_id=node.id,
        size=node.size,
        md5=node.md5,
        sha1=node.sha1,
        modified_at=node.modified_at,
        created_at=now,
        author=owner.name,
    )
    session.add(version)
    session.flush()
    target = store.kept_folder(store.versions_dir, owner.id) / version.disk_name
    changes.link(disk_path(store.home(owner), nodes.to_info(node).path), target)


def forget(
    store: Store,
    session: Session,
    changes: DiskChanges,
    owner_id: int,
    node_ids: Collection[int] | None = None,
    version_ids: Collection[int] | None = None,
) -> int:
    """Remove the versions of these files (or these versions); answer the bytes freed.

    The caller gives the bytes back to the quota, in the same transaction.
    """
    condition = FileVersion.owner_id == owner_id
    if node_ids is not None:
        condition &= FileVersion.node_id.in_(node_ids)
    if version_ids is not None:
        condition &= FileVersion.id.in_(version_ids)
    rows = session.execute(
        select(FileVersion.id, FileVersion.size, FileVersion.disk_name).where(condition)
    ).all()
    if not rows:
        return 0
    session.execute(delete(FileVersion).where(FileVersion.id.in_([row.id for row in rows])))
    for row in rows:
        changes.remove(version_path(store, owner_id, row.disk_name))
    return sum(row.size for row in rows)


def info_of(version: FileVersion) -> VersionInfo:
    return VersionInfo(
        id=version.id,
        node_id=version.node_id,
        size=version.size,
        md5=version.md5,
        sha1=version.sha1,
        modified_at=version.modified_at,
        created_at=version.created_at,
        author=version.author,
        label=version.label,
        disk_name=version.disk_name,
    )


def listing(store: Store, owner: Owner, node_id: int) -> list[VersionInfo]:
    """The versions of a file (live or in the trash), newest first."""
    with store.db.read() as session:
        rows = session.scalars(
            select(FileVersion)
            .where(FileVersion.owner_id == owner.id, FileVersion.node_id == node_id)
            .order_by(FileVersion.id.desc())
        ).all()
        return [info_of(row) for row in rows]


def get(store: Store, owner: Owner, version_id: int) -> VersionInfo:
    with store.db.read() as session:
        version = _owned(session, owner, version_id)
        return info_of(version)


def _owned(session: Session, owner: Owner, version_id: int) -> FileVersion:
    version = None
    if nodes.is_storable_id(version_id):
        version = session.get(FileVersion, version_id)
    if version is None or version.owner_id != owner.id:
        raise NotFound(f"no version {version_id}")
    return version


def set_label(store: Store, owner: Owner, version_id: int, label: str | None) -> VersionInfo:
    """Label a version, which pins it (never evicted, never purged), or unpin it with None."""
    label = label.strip()[:MAX_LABEL_CHARS] if label is not None else None
    with store.db.write() as session:
        version = _owned(session, owner, version_id)
        version.label = label or None
        session.flush()
        return info_of(version)
