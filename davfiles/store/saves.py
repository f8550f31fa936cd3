"""A document keeps its id and versions through the safe saves of editors.

Editors seldom write a document in place. LibreOffice, macOS apps and most editors write the
new content to a temporary and rename it over the document (a MOVE onto it). Word renames
the document to a temporary first (``report.docx`` to ``~WRL0001.tmp``), renames the new
content (``~WRD0000.tmp``) to the document's name, then deletes the renamed document. Taken
literally, the document's id, versions, public flag and properties end with a temporary that
skips the trash, and the previous content is lost with them. Both are what they mean, a new
content of the same document:

- A file MOVEd over a file (with versions on) replaces its content, as a PUT would: the
  target keeps its id, public flag, dead properties and versions, the replaced content is
  kept as a version (``versions.wanted``, without the coalescing window: a save by
  replacement is a deliberate save, not an autosave's rewrite; it needs no room, the bytes
  were counted); the moved file's versions and dead properties join the target's and its
  record goes. With versions off the target is trashed, as every replaced target was
  before.
- A file renamed from a name to a temporary one leaves a departure (table ``departures``).
  A file MOVEd to that name, still free, within ``DEPARTURE_SECONDS`` swaps contents with
  the departed file: the departed record takes its name back with the new content (its id
  and versions, the previous content kept as a version), the moved record takes the
  temporary name with the previous content. The client's DELETE of the temporary then
  finds what it expects, and the previous content lives on as the version (no coalescing
  either). Without room for that version the temporary counts as departed itself: a
  departed file deleted before anything takes its name back goes to the trash, temporary
  name or not.

Nextcloud keeps a version of a file that a MOVE replaces too (files_versions' pre-rename
hook), but keys versions by path, so Word's rename-away leaves the history under the
temporary's name and the trash.
"""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING

from sqlalchemy import and_, delete, or_, select, update
from sqlalchemy.orm import Session

from davfiles.db.models import DeadProperty, Departure, FileVersion, Node
from davfiles.store import nodes, quota, versions
from davfiles.store.disk_changes import DiskChanges
from davfiles.store.models import Owner
from davfiles.store.paths import UserPath, disk_path
from davfiles.store.skips import skips

if TYPE_CHECKING:
    from davfiles.store.store import Store

# Word renames the new content into place within a second of renaming the document away;
# a departure is kept a little longer for slow links, not longer: the name is free meanwhile.
DEPARTURE_SECONDS = 300.0


def note_departure(
    store: Store, session: Session, owner: Owner, node: Node, source: UserPath, target: UserPath
) -> None:
    """Remember a file renamed from a name to a temporary one (forgetting stale departures)."""
    patterns = store.keeping.trash_skip
    if node.is_dir or not skips(patterns, target.name) or skips(patterns, source.name):
        return
    now = time.time()
    session.execute(
        delete(Departure).where(
            Departure.owner_id == owner.id,
            or_(
                Departure.left_at < now - DEPARTURE_SECONDS,
                and_(Departure.parent == source.parent.text, Departure.name == source.name),
            ),
        )
    )
    session.add(_departure(owner, source, node, now))
    session.flush()


def _departure(owner: Owner, left: UserPath, node: Node, now: float) -> Departure:
    """The record that ``node`` left the name ``left`` at ``now``."""
    return Departure(
        owner_id=owner.id, parent=left.parent.text, name=left.name, node_id=node.id, left_at=now
    )


def returning(store: Store, session: Session, owner: Owner, target: UserPath) -> Node | None:
    """The file that left ``target`` (free now) for a temporary name moments ago, if it is
    still there under that name."""
    departure = session.get(Departure, (owner.id, target.parent.text, target.name))
    if departure is None:
        return None
    session.delete(departure)
    session.flush()
    if departure.left_at < time.time() - DEPARTURE_SECONDS:
        return None
    parent = nodes.get(session, owner.id, target.parent)
    node = nodes.by_id(session, owner.id, departure.node_id)
    if parent is None or not parent.is_dir or node is None or node.is_dir:
        return None
    return node if skips(store.keeping.trash_skip, node.name) else None


def departed(session: Session, owner: Owner, node: Node) -> bool:
    """Whether ``node`` left a name for its temporary one moments ago: deleting it then
    deletes a document, which goes to the trash whatever its name (``trash.py``)."""
    found = session.execute(
        select(Departure.node_id)
        .where(
            Departure.owner_id == owner.id,
            Departure.node_id == node.id,
            Departure.left_at >= time.time() - DEPARTURE_SECONDS,
        )
        .limit(1)
    ).first()
    return found is not None


def _inherit(session: Session, moved: Node, heir: Node) -> None:
    """The moved file's versions and dead properties go to the file whose content it becomes
    (its properties win over the heir's of the same name)."""
    session.execute(
        update(FileVersion).where(FileVersion.node_id == moved.id).values(node_id=heir.id)
    )
    properties = session.scalars(select(DeadProperty).where(DeadProperty.node_id == moved.id))
    for prop in properties.all():
        session.merge(DeadProperty(node_id=heir.id, name=prop.name, value=prop.value))
        session.delete(prop)
    session.flush()


def _take_content(store: Store, heir: Node, moved: Node, name: str) -> None:
    heir.size, heir.md5, heir.sha1 = moved.size, moved.md5, moved.sha1
    heir.modified_at = moved.modified_at
    heir.content_type = store.content_type_for(name, moved.content_type)
    heir.original_name = None


def replace_by_move(
    store: Store,
    session: Session,
    changes: DiskChanges,
    owner: Owner,
    moved: Node,
    replaced: Node,
) -> None:
    """MOVE ``moved`` over the file ``replaced``: a new content of ``replaced`` (see above)."""
    now = time.time()
    home = store.home(owner)
    source, target = nodes.to_info(moved).path, nodes.to_info(replaced).path
    old_size = replaced.size
    kept = versions.wanted(
        store, session, replaced, moved.sha1, owner.name, now, coalesce=False
    ) and os.path.lexists(disk_path(home, target))
    if kept:
        # The replaced bytes become the version: they stay counted, nothing new is stored.
        versions.keep(store, session, changes, owner, replaced, now)
    _inherit(session, moved, replaced)
    _take_content(store, replaced, moved, target.name)
    nodes.delete_tree(session, owner.id, moved)
    nodes.touch_ancestors(session, owner.id, source.parent, -moved.size)
    nodes.touch_ancestors(session, owner.id, target.parent, moved.size - old_size)
    quota.adjust(session, owner.id, 0 if kept else -old_size, -1)
    changes.remove(disk_path(home, target))
    changes.rename(disk_path(home, source), disk_path(home, target))


def swap_back(
    store: Store,
    session: Session,
    changes: DiskChanges,
    owner: Owner,
    moved: Node,
    heir: Node,
    target: UserPath,
) -> None:
    """MOVE ``moved`` to ``target``, the name ``heir`` left for a temporary: ``heir`` gets its
    name back with the new content, ``moved`` takes the temporary with the previous one."""
    now = time.time()
    home = store.home(owner)
    source, temporary = nodes.to_info(moved).path, nodes.to_info(heir).path
    previous = (heir.size, heir.md5, heir.sha1, heir.modified_at, heir.content_type)
    # The previous content stays under the temporary until its DELETE: its version is stored
    # beside it and needs room.
    wanted = versions.wanted(
        store, session, heir, moved.sha1, owner.name, now, name=target.name, coalesce=False
    )
    kept = (
        wanted
        and os.path.lexists(disk_path(home, temporary))
        and store.try_reserve(session, changes, owner, heir.size, 0)
    )
    if kept:
        versions.keep(store, session, changes, owner, heir, now)
    elif wanted:
        # No room for the version: the temporary holding the previous content counts as a
        # departed document, which its DELETE puts into the trash.
        session.add(_departure(owner, target, moved, now))
    _inherit(session, moved, heir)
    _take_content(store, heir, moved, target.name)
    nodes.rename_tree(session, owner.id, heir, target)
    moved.size, moved.md5, moved.sha1, moved.modified_at, declared = previous
    moved.content_type = store.content_type_for(temporary.name, declared)
    nodes.rename_tree(session, owner.id, moved, temporary)
    nodes.touch_ancestors(session, owner.id, source.parent, -heir.size)
    nodes.touch_ancestors(session, owner.id, target.parent, heir.size)
    changes.rename(disk_path(home, source), disk_path(home, target))
