"""The trash and versions part of ``davfiles fsck``: their records against their bytes.

A trash item or version whose bytes are gone is reported and, with ``--repair``, its record
dropped; a version of the wrong size gets its size from the disk; a version whose file is
neither live nor trashed (its record dropped by a repair) is reported and, with
``--repair``, forgotten; entries of the trash and versions folders without a record (left
by a crash before a commit, say) are reported and left as they are (fsck deletes no byte).
The bytes still recorded are what the usage counters hold beside the live files.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from sqlalchemy import delete, select, union_all
from sqlalchemy.orm import Session

from davfiles.db.models import FileVersion, Node, TrashedNode, TrashItem
from davfiles.store import trash, versions
from davfiles.store.models import Owner

if TYPE_CHECKING:
    from davfiles.store.store import Store

# found(shown path, kind, detail, repaired)
Found = Callable[[str, str, str, bool], None]


def check(store: Store, session: Session, owner: Owner, *, repair: bool, found: Found) -> int:
    """Report (and repair) the owner's trash and versions; answer the bytes they hold."""
    from davfiles.store.fsck import MISSING_ON_DISK, NOT_RECORDED, ORPHAN_VERSION, SIZE

    held = 0
    known_items: set[str] = set()
    for item in session.scalars(select(TrashItem).where(TrashItem.owner_id == owner.id)).all():
        known_items.add(item.disk_name)
        shown = f"trash {item.id} (/{item.parent}/{item.name})".replace("//", "/")
        if trash.item_path(store, owner.id, item.disk_name).exists():
            held += item.size
            continue
        found(shown, MISSING_ON_DISK, "the trashed bytes are not on disk", repair)
        if repair:
            session.execute(delete(TrashedNode).where(TrashedNode.trash_id == item.id))
            session.execute(delete(TrashItem).where(TrashItem.id == item.id))
        else:
            held += item.size
    session.flush()
    files = union_all(
        select(Node.id).where(Node.owner_id == owner.id),
        select(TrashedNode.id).where(TrashedNode.owner_id == owner.id),
    ).subquery()
    known_versions: set[str] = set()
    rows = session.scalars(select(FileVersion).where(FileVersion.owner_id == owner.id)).all()
    orphans = set(
        session.scalars(
            select(FileVersion.id).where(
                FileVersion.owner_id == owner.id, FileVersion.node_id.not_in(select(files.c.id))
            )
        )
    )
    for version in rows:
        known_versions.add(version.disk_name)
        shown = f"version {version.id} of file {version.node_id}"
        if version.id in orphans:
            detail = "a version of a file neither in the home nor in the trash"
            found(shown, ORPHAN_VERSION, detail, repair)
            if repair:
                # The row goes; its bytes stay, reported as an entry without a record.
                session.delete(version)
                known_versions.discard(version.disk_name)
            else:
                held += version.size
            continue
        path = versions.version_path(store, owner.id, version.disk_name)
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            found(shown, MISSING_ON_DISK, "the version's bytes are not on disk", repair)
            if repair:
                session.delete(version)
            else:
                held += version.size
            continue
        if size != version.size:
            detail = f"the record says {version.size} bytes, the disk holds {size}"
            found(shown, SIZE, detail, repair)
            if repair:
                version.size = size
        held += version.size
    session.flush()
    for folder, known, what in (
        (store.trash_dir / str(owner.id), known_items, "trash"),
        (store.versions_dir / str(owner.id), known_versions, "versions"),
    ):
        if not folder.is_dir():
            continue
        for entry in sorted(folder.iterdir()):
            if entry.name not in known:
                detail = f"an entry of data_dir/{what}/{owner.id} without a record; left as it is"
                found(f"{what} {entry.name}", NOT_RECORDED, detail, False)
    return held
