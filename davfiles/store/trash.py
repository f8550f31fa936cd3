"""The trash: what a user deletes waits here, bytes and records, until restored or purged.

Every delete of the store goes through ``discard``: a WebDAV DELETE, a COPY or MOVE that
replaces its target, every REST dialect's delete. The tree is renamed (no copy) into
``data_dir/trash/<owner id>/<disk name>``, outside every home, so no door lists it; its records
move to ``trashed_nodes`` and ``trashed_properties`` with their ids, so a restore brings back
the same ids, public flags, dead properties and (keyed by id) versions. Temporaries of
editors and desktops (``skips.DEFAULT_SKIP``) are deleted for good instead, unless they hold
versions or left a document's name moments ago (``saves.py``): such a file, and every folder,
goes to the trash whatever its name. Turning the
trash off never drops a labelled version silently either: a tree holding one is trashed.

The bytes stay in the byte quota while trashed (the disk holds them); the file-count quota
counts live files only. Everything happens inside the caller's transaction, with its disk
steps in the transaction's ``DiskChanges``, so a failure leaves the old state.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Select, Text, case, func, insert, literal, select
from sqlalchemy.orm import Session

from davfiles.auth import audit
from davfiles.db.models import (
    DeadProperty,
    FileVersion,
    Node,
    TrashedNode,
    TrashedProperty,
    TrashItem,
)
from davfiles.errors import Conflict, NotFound
from davfiles.store import nodes, quota, saves, versions
from davfiles.store.disk_changes import DiskChanges
from davfiles.store.models import Owner
from davfiles.store.paths import MAX_NAME_BYTES, UserPath, disk_path
from davfiles.store.skips import skips

if TYPE_CHECKING:
    from davfiles.store.store import Store

log = logging.getLogger(__name__)

MAX_RESTORE_NAMES = 1000

# The columns a trashed record keeps: the node's, under the same names.
_KEPT = tuple(column.name for column in TrashedNode.__table__.columns if column.name != "trash_id")


@dataclass(frozen=True)
class TrashEntry:
    """One deleted file or folder as its owner sees it in the trash."""

    id: int
    node_id: int
    original_path: UserPath
    is_dir: bool
    size: int
    files: int
    deleted_at: float
    # Who deleted it: client address, door (``metrics_doors``) and User-Agent; None from the
    # command line (and door and agent for items older than revision 0006).
    origin: str | None
    door: str | None
    agent: str | None
    # Bytes of the versions of its files, which go and come back with it.
    version_bytes: int
    pinned: bool
    disk_name: str

    @property
    def name(self) -> str:
        return self.original_path.name


def item_path(store: Store, owner_id: int, disk_name: str) -> Path:
    return store.trash_dir / str(owner_id) / disk_name


def _keeps(store: Store, session: Session, owner: Owner, node: Node, source: Path) -> bool:
    """Whether ``discard`` puts ``node``'s tree into the trash (see the module's rules)."""
    keeping = store.keeping
    if keeping.trash_enabled:
        keep = node.is_dir or not skips(keeping.trash_skip, node.name)
        keep = keep or versions.exist(session, [node.id]) or saves.departed(session, owner, node)
    else:
        keep = versions.exist(session, _tree_ids(owner, node), pinned=True)
    if keep and not os.path.lexists(source):
        # Nothing to rename into the trash: the record goes, and with it the versions.
        if versions.exist(session, _tree_ids(owner, node), pinned=True):
            log.warning("%s is not on disk: its labelled versions are deleted with it", source)
        return False
    return keep


def _tree_ids(owner: Owner, node: Node) -> Select[tuple[int]]:
    return select(Node.id).where(nodes.in_tree(owner.id, node))


def discard(
    store: Store,
    session: Session,
    changes: DiskChanges,
    owner: Owner,
    node: Node,
    *,
    keep: bool = True,
) -> None:
    """Take ``node`` and everything below it out of the home: into the trash, or gone for good
    when not ``keep`` (the store's own cleanups) or ``_keeps`` says so."""
    size, count = nodes.tree_usage(session, owner.id, node)
    path = nodes.to_info(node).path
    source = disk_path(store.home(owner), path)
    tree = nodes.in_tree(owner.id, node)
    if not keep or not _keeps(store, session, owner, node, source):
        ids = list(session.scalars(select(Node.id).where(tree)))
        freed = versions.forget(store, session, changes, owner.id, node_ids=ids)
        nodes.delete_tree(session, owner.id, node)
        nodes.touch_ancestors(session, owner.id, path.parent, -size)
        quota.adjust(session, owner.id, -(size + freed), -count)
        changes.remove(source)
        return
    caller = audit.current_caller()
    item = TrashItem(
        owner_id=owner.id,
        node_id=node.id,
        parent=node.parent,
        name=node.name,
        is_dir=node.is_dir,
        size=size,
        files=count,
        deleted_at=time.time(),
        origin=caller.client if caller else None,
        door=caller.door if caller else None,
        agent=caller.agent if caller else None,
    )
    session.add(item)
    session.flush()
    columns = [getattr(Node, name) for name in _KEPT]
    session.execute(
        insert(TrashedNode).from_select(
            [*_KEPT, "trash_id"], select(*columns, literal(item.id)).where(tree)
        )
    )
    session.execute(
        insert(TrashedProperty).from_select(
            ["node_id", "name", "value"],
            select(DeadProperty.node_id, DeadProperty.name, DeadProperty.value).where(
                DeadProperty.node_id.in_(select(Node.id).where(tree))
            ),
        )
    )
    nodes.delete_tree(session, owner.id, node)
    nodes.touch_ancestors(session, owner.id, path.parent, -size)
    quota.adjust(session, owner.id, 0, -count)
    target = store.kept_folder(store.trash_dir, owner.id) / item.disk_name
    changes.rename_to_free(source, target)


def restored_name(name: str, number: int) -> str:
    """``a (restored).txt``, then ``a (restored 2).txt``..., within the name length limit."""
    stem, extension = os.path.splitext(name)
    suffix = f" (restored{'' if number == 1 else f' {number}'}){extension}"
    room = MAX_NAME_BYTES - len(suffix.encode("utf-8", "surrogatepass"))
    kept = stem.encode("utf-8", "surrogatepass")[: max(room, 1)].decode("utf-8", "ignore")
    return kept + suffix


def _free_target(session: Session, owner_id: int, original: UserPath) -> UserPath:
    if nodes.get(session, owner_id, original) is None:
        return original
    for number in range(1, MAX_RESTORE_NAMES + 1):
        candidate = original.parent.child(restored_name(original.name, number))
        if nodes.get(session, owner_id, candidate) is None:
            return candidate
    raise Conflict(f"no free name left to restore {original}")


def _ensure_parents(
    store: Store, session: Session, changes: DiskChanges, owner: Owner, folder: UserPath
) -> None:
    """Recreate the missing folders of ``folder`` (new ids: the old ones were not trashed)."""
    home = store.home(owner)
    for depth in range(1, len(folder.parts) + 1):
        path = UserPath(folder.parts[:depth])
        existing = nodes.get(session, owner.id, path, for_update=True)
        if existing is not None:
            if not existing.is_dir:
                raise Conflict(f"{path} is a file: the original folder cannot be recreated")
            continue
        session.add(nodes.new_folder(owner.id, path, time.time()))
        session.flush()
        changes.make_dir(disk_path(home, path))


def restore(
    store: Store, session: Session, changes: DiskChanges, owner: Owner, item_id: int
) -> UserPath:
    """Put a trashed tree back at its original path (or ``name (restored).ext`` when taken),
    with its ids; answer the path. Its bytes were counted all along: only its files count
    again in the file-count quota."""
    item = (
        session.scalars(
            select(TrashItem)
            .where(TrashItem.id == item_id, TrashItem.owner_id == owner.id)
            .with_for_update()
        ).one_or_none()
        if nodes.is_storable_id(item_id)
        else None
    )
    if item is None:
        raise NotFound(f"no trash item {item_id}")
    original = nodes.path_of(item.parent, item.name)
    _ensure_parents(store, session, changes, owner, original.parent)
    target = _free_target(session, owner.id, original)
    top = TrashedNode.id == item.node_id
    cut = len(original.text) + 1
    renamed = {
        "parent": case(
            (top, literal(target.parent.text, Text)),
            else_=literal(target.text, Text).concat(func.substr(TrashedNode.parent, cut)),
        ),
        "name": case((top, literal(target.name, Text)), else_=TrashedNode.name),
        # A restored folder gets a new ETag: it is not the one clients saw go.
        "tree_version": case((top, TrashedNode.tree_version + 1), else_=TrashedNode.tree_version),
    }
    columns = [renamed.get(name, getattr(TrashedNode, name)) for name in _KEPT]
    session.execute(
        insert(Node).from_select(
            list(_KEPT), select(*columns).where(TrashedNode.trash_id == item.id)
        )
    )
    session.execute(
        insert(DeadProperty).from_select(
            ["node_id", "name", "value"],
            select(TrashedProperty.node_id, TrashedProperty.name, TrashedProperty.value)
            .join(TrashedNode, TrashedNode.id == TrashedProperty.node_id)
            .where(TrashedNode.trash_id == item.id),
        )
    )
    nodes.touch_ancestors(session, owner.id, target.parent, item.size)
    quota.adjust(session, owner.id, 0, item.files)
    try:
        changes.rename_to_free(
            item_path(store, owner.id, item.disk_name), disk_path(store.home(owner), target)
        )
    except FileExistsError:
        raise Conflict(f"{target} is on disk without a record (see davfiles fsck)") from None
    session.delete(item)
    session.flush()
    return target


def drop(store: Store, session: Session, changes: DiskChanges, item: TrashItem) -> int:
    """Delete a trash item for good with its files' versions; answer the bytes freed (the
    caller gives them back to the quota in the same transaction)."""
    node_ids = list(session.scalars(select(TrashedNode.id).where(TrashedNode.trash_id == item.id)))
    freed = item.size + versions.forget(store, session, changes, item.owner_id, node_ids=node_ids)
    changes.remove(item_path(store, item.owner_id, item.disk_name))
    session.delete(item)
    session.flush()
    return freed


def purge(
    store: Store,
    session: Session,
    changes: DiskChanges,
    owner: Owner,
    item_ids: Collection[int] | None,
) -> list[TrashEntry]:
    """Delete these trash items (all of the owner's with None) for good, pinned or not."""
    query = select(TrashItem).where(TrashItem.owner_id == owner.id).with_for_update()
    if item_ids is not None:
        query = query.where(TrashItem.id.in_([i for i in item_ids if nodes.is_storable_id(i)]))
    items = session.scalars(query.order_by(TrashItem.id)).all()
    entries = entries_of(session, items)
    freed = sum(drop(store, session, changes, item) for item in items)
    quota.adjust(session, owner.id, -freed, 0)
    return entries


def entries_of(session: Session, items: Iterable[TrashItem]) -> list[TrashEntry]:
    items = list(items)
    if not items:
        return []
    rows = session.execute(
        select(
            TrashedNode.trash_id,
            func.coalesce(func.sum(FileVersion.size), 0),
            func.count(FileVersion.label),
        )
        .join(FileVersion, FileVersion.node_id == TrashedNode.id)
        .where(TrashedNode.trash_id.in_([item.id for item in items]))
        .group_by(TrashedNode.trash_id)
    ).all()
    extra = {trash_id: (int(size), int(labels)) for trash_id, size, labels in rows}
    return [
        TrashEntry(
            id=item.id,
            node_id=item.node_id,
            original_path=nodes.path_of(item.parent, item.name),
            is_dir=item.is_dir,
            size=item.size,
            files=item.files,
            deleted_at=item.deleted_at,
            origin=item.origin,
            door=item.door,
            agent=item.agent,
            version_bytes=extra.get(item.id, (0, 0))[0],
            pinned=extra.get(item.id, (0, 0))[1] > 0,
            disk_name=item.disk_name,
        )
        for item in items
    ]


def entry(store: Store, owner: Owner, item_id: int) -> TrashEntry | None:
    """One item of the owner's trash, or None."""
    if not nodes.is_storable_id(item_id):
        return None
    with store.db.read() as session:
        item = session.scalars(
            select(TrashItem).where(TrashItem.id == item_id, TrashItem.owner_id == owner.id)
        ).one_or_none()
        return entries_of(session, [item])[0] if item is not None else None


def listing(
    store: Store,
    owner: Owner,
    *,
    folder: UserPath | None = None,
    since: float | None = None,
    until: float | None = None,
    origin: str | None = None,
    door: str | None = None,
    agent: str | None = None,
) -> list[TrashEntry]:
    """The owner's trash, newest deletion first; filters by original folder (the folder
    itself and everything below), deletion time range, and who deleted: client address and
    door exactly, a part of the User-Agent in any case (``rclone`` finds ``rclone/v1.60.1``)."""
    query = select(TrashItem).where(TrashItem.owner_id == owner.id)
    if folder is not None and not folder.is_root:
        prefix = folder.text + "/"
        query = query.where(
            ((TrashItem.parent == folder.parent.text) & (TrashItem.name == folder.name))
            | (TrashItem.parent == folder.text)
            | (func.substr(TrashItem.parent, 1, len(prefix)) == prefix)
        )
    if since is not None:
        query = query.where(TrashItem.deleted_at >= since)
    if until is not None:
        query = query.where(TrashItem.deleted_at <= until)
    if origin is not None:
        query = query.where(TrashItem.origin == origin)
    if door is not None:
        query = query.where(TrashItem.door == door)
    if agent is not None:
        query = query.where(TrashItem.agent.icontains(agent, autoescape=True))
    with store.db.read() as session:
        items = session.scalars(query.order_by(TrashItem.deleted_at.desc(), TrashItem.id.desc()))
        return entries_of(session, items)
