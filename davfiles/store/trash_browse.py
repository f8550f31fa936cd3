"""Looking into the trash without restoring: what a trashed folder held and a trashed file's
bytes, as they were deleted (Nextcloud's web app previews and downloads trashed files and
browses trashed folders before a restore).

A path inside an item is relative to the item (the empty path is the item itself). It is
looked up in the item's own records only (``trashed_nodes`` of that item of that owner), and
its bytes are read below the item's folder in the trash by the record's names, so no path
leaves the owner's trash. Everything here reads; nothing changes the trash.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, BinaryIO

from sqlalchemy import Select, select

from davfiles.db.models import TrashedNode
from davfiles.errors import Conflict, NotFound
from davfiles.store import nodes
from davfiles.store.models import FileInfo, Owner
from davfiles.store.paths import UserPath
from davfiles.store.trash import TrashEntry, item_path

if TYPE_CHECKING:
    from davfiles.store.store import Store


def _records(owner: Owner, entry: TrashEntry) -> Select[tuple[TrashedNode]]:
    return select(TrashedNode).where(
        TrashedNode.trash_id == entry.id, TrashedNode.owner_id == owner.id
    )


def _info(record: TrashedNode) -> FileInfo:
    """The record as the FileInfo it had in the home (a trashed record keeps a node's
    columns under the same names)."""
    return nodes.to_info(record)  # type: ignore[arg-type]


def inside(store: Store, owner: Owner, entry: TrashEntry, relative: UserPath) -> FileInfo | None:
    """What lay at ``relative`` in the trashed tree of ``entry``, with its original path."""
    query = _records(owner, entry)
    if relative.is_root:
        query = query.where(TrashedNode.id == entry.node_id)
    else:
        path = UserPath(entry.original_path.parts + relative.parts)
        query = query.where(TrashedNode.parent == path.parent.text, TrashedNode.name == path.name)
    with store.db.read() as session:
        record = session.scalars(query).one_or_none()
        return _info(record) if record is not None else None


def roots(store: Store, owner: Owner, entries: list[TrashEntry]) -> dict[int, FileInfo]:
    """The records of the items themselves, by trash item id, in one query (a listing)."""
    if not entries:
        return {}
    query = select(TrashedNode).where(
        TrashedNode.owner_id == owner.id,
        TrashedNode.trash_id.in_([entry.id for entry in entries]),
        TrashedNode.id.in_([entry.node_id for entry in entries]),
    )
    with store.db.read() as session:
        return {record.trash_id: _info(record) for record in session.scalars(query)}


def members(store: Store, owner: Owner, entry: TrashEntry, folder: FileInfo) -> list[FileInfo]:
    """The files and folders directly in ``folder``, a folder of the trashed tree of
    ``entry`` (as ``inside`` answers it), by name."""
    query = _records(owner, entry).where(TrashedNode.parent == folder.path.text)
    with store.db.read() as session:
        return [_info(record) for record in session.scalars(query.order_by(TrashedNode.name))]


def open_file(store: Store, owner: Owner, entry: TrashEntry, info: FileInfo) -> BinaryIO:
    """The bytes of ``info``, a file of the trashed tree of ``entry``."""
    if info.is_dir:
        raise Conflict("a folder has no content")
    relative = info.path.parts[len(entry.original_path.parts) :]
    try:
        return item_path(store, owner.id, entry.disk_name).joinpath(*relative).open("rb")
    except (FileNotFoundError, NotADirectoryError):
        raise NotFound("the trashed bytes are gone (see davfiles fsck)") from None
