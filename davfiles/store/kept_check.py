"""The trash and versions part of ``davfiles fsck``: their records against their bytes.

A trash item or version whose bytes are gone is reported and, with ``--repair``, its record
dropped; a version of the wrong size gets its size from the disk; entries of the trash and
versions folders without a record are reported and left as they are (fsck deletes no byte).
The bytes still recorded are what the usage counters hold beside the live files.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from davfiles.db.models import FileVersion, TrashItem
from davfiles.store import trash, versions
from davfiles.store.models import Owner

if TYPE_CHECKING:
    from davfiles.store.store import Store

# found(shown path, kind, detail, repaired)
Found = Callable[[str, str, str, bool], None]


def check(store: Store, session: Session, owner: Owner, *, repair: bool, found: Found) -> int:
    """Report (and repair) the owner's trash and versions; answer the bytes they hold."""
    from davfiles.store.fsck import MISSING_ON_DISK, NOT_RECORDED, SIZE

    held = 0
    known_items: set[str] = set()
    for item in session.scalars(select(TrashItem).where(TrashItem.owner_id == owner.id)).all():
        known_items.add(str(item.id))
        shown = f"trash {item.id} (/{item.parent}/{item.name})".replace("//", "/")
        if trash.item_path(store, owner.id, item.id).exists():
            held += item.size
            continue
        found(shown, MISSING_ON_DISK, "the trashed bytes are not on disk", repair)
        if repair:
            session.execute(delete(TrashItem).where(TrashItem.id == item.id))
        else:
            held += item.size
    known_versions: set[str] = set()
    rows = session.scalars(select(FileVersion).where(FileVersion.owner_id == owner.id)).all()
    for version in rows:
        known_versions.add(str(version.id))
        shown = f"version {version.id} of file {version.node_id}"
        path = versions.version_path(store, owner.id, version.id)
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
