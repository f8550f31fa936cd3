"""What trash and versions keep, the room they give back, and the purge that expires them.

Quota is the disk: trash and versions count in the byte quota. A reservation stays one
conditional UPDATE (``quota.try_adjust``); only when it fails does ``reserve`` evict, in the
same transaction, first trash items (oldest deletion first), then versions that are not the
newest of their file (oldest first), then, as a last resort, the newest ones (oldest first),
never a labelled version nor a trash item holding one, until the reservation fits. A write
is refused (507) only when live files and pinned data fill the quota, and what a write can
use is ``max - used + reclaimable``.

The retention purge (``purge_expired``) removes trash older than ``trash_days`` and thins
versions: the newest ``versions_keep_last`` of a file stay; older ones keep one per hour for
a day, one per day for a month, one per week after, up to ``versions_max_age_days``; labelled
ones stay. One process of all those sharing the database runs it at a time (a lease row),
and each removal is written with its reason to the audit log (an eviction's only once the
write that evicted committed).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import Connection, bindparam, case, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased

from davfiles.auth import audit
from davfiles.auth.audit import AuditEvent, AuditLog
from davfiles.db.engine import Database
from davfiles.db.models import FileVersion, Lease, Node, TrashedNode, TrashItem, User
from davfiles.store import journal, quota, trash, versions
from davfiles.store.disk_changes import DiskChanges
from davfiles.store.models import Owner
from davfiles.store.skips import DEFAULT_SKIP

if TYPE_CHECKING:
    from davfiles.store.store import Store

log = logging.getLogger(__name__)

DAY = 86400.0
PURGE_LEASE = "retention-purge"


@dataclass(frozen=True)
class Keeping:
    """Trash and version settings (``davfiles.trash_*`` and ``davfiles.versions_*``)."""

    trash_enabled: bool = True
    trash_days: float = 30.0
    trash_skip: tuple[str, ...] = DEFAULT_SKIP
    versions_enabled: bool = True
    versions_keep_last: int = 10
    versions_max_age_days: float = 365.0
    versions_coalesce_seconds: float = 60.0
    purge_interval: float = 3600.0


# --- room --------------------------------------------------------------------------------

_ITEM_PINNED = (
    select(FileVersion.id)
    .join(TrashedNode, TrashedNode.id == FileVersion.node_id)
    .where(TrashedNode.trash_id == TrashItem.id, FileVersion.label.is_not(None))
    .exists()
)
_ITEM_VERSION_BYTES = (
    select(func.coalesce(func.sum(FileVersion.size), 0))
    .join(TrashedNode, TrashedNode.id == FileVersion.node_id)
    .where(TrashedNode.trash_id == TrashItem.id)
    .scalar_subquery()
)
_EVICTABLE_ITEMS = (TrashItem.owner_id == bindparam("owner_id"), ~_ITEM_PINNED)
_NEWER = aliased(FileVersion)
_EVICTABLE_VERSIONS = (
    FileVersion.owner_id == bindparam("owner_id"),
    FileVersion.label.is_(None),
    select(Node.id).where(Node.id == FileVersion.node_id).exists(),
)
# Older versions of every file go before the newest version of any file.
_EVICTION_ORDER = (
    case(
        (
            select(_NEWER.id)
            .where(_NEWER.node_id == FileVersion.node_id, _NEWER.id > FileVersion.id)
            .exists(),
            0,
        ),
        else_=1,
    ),
    FileVersion.created_at,
    FileVersion.id,
)
_RECLAIMABLE = select(
    select(func.coalesce(func.sum(TrashItem.size + _ITEM_VERSION_BYTES), 0))
    .where(*_EVICTABLE_ITEMS)
    .scalar_subquery(),
    select(func.coalesce(func.sum(FileVersion.size), 0))
    .where(*_EVICTABLE_VERSIONS)
    .scalar_subquery(),
)


def reclaimable(connection: Session | Connection, owner_id: int) -> int:
    """Bytes a write may take from the owner's trash and versions (``reserve`` evicts them)."""
    trash_bytes, version_bytes = connection.execute(_RECLAIMABLE, {"owner_id": owner_id}).one()
    return int(trash_bytes) + int(version_bytes)


_TRASHED_VERSION = select(TrashedNode.id).where(TrashedNode.id == FileVersion.node_id).exists()
_HELD = select(
    select(func.coalesce(func.sum(TrashItem.size), 0))
    .where(TrashItem.owner_id == bindparam("owner_id"))
    .scalar_subquery(),
    select(func.coalesce(func.sum(FileVersion.size), 0))
    .where(FileVersion.owner_id == bindparam("owner_id"), _TRASHED_VERSION)
    .scalar_subquery(),
    select(func.coalesce(func.sum(FileVersion.size), 0))
    .where(FileVersion.owner_id == bindparam("owner_id"), ~_TRASHED_VERSION)
    .scalar_subquery(),
)


def held(connection: Session | Connection, owner_id: int) -> tuple[int, int]:
    """Bytes of the owner's trash (trees and their files' versions) and of the versions of
    live files, pinned or not: the split of ``used_bytes`` a storage panel shows."""
    trees, trashed_versions, live_versions = connection.execute(_HELD, {"owner_id": owner_id}).one()
    return int(trees) + int(trashed_versions), int(live_versions)


def try_reserve(
    store: Store,
    session: Session,
    changes: DiskChanges,
    owner_id: int,
    bytes_delta: int,
    files_delta: int,
) -> bool:
    """``quota.try_adjust`` that evicts trash and versions when the bytes do not fit; False
    (having evicted nothing) when even that would not make them fit."""
    if quota.try_adjust(session, owner_id, bytes_delta, files_delta):
        return True
    return (
        bytes_delta > 0
        and make_room(store, session, changes, owner_id, bytes_delta)
        and quota.try_adjust(session, owner_id, bytes_delta, files_delta)
    )


def reserve(
    store: Store,
    session: Session,
    changes: DiskChanges,
    owner_id: int,
    bytes_delta: int,
    files_delta: int,
) -> None:
    """``quota.adjust`` that first evicts trash and versions when the bytes do not fit."""
    if not try_reserve(store, session, changes, owner_id, bytes_delta, files_delta):
        quota.adjust(session, owner_id, bytes_delta, files_delta)


def make_room(
    store: Store, session: Session, changes: DiskChanges, owner_id: int, wanted: int
) -> bool:
    """Evict until ``wanted`` more bytes fit the byte quota; True if that was reached.

    Nothing is evicted unless eviction can reach it. Inside the caller's transaction: when
    the write fails after all, its rollback puts every evicted byte and record back.
    """
    figures = quota.figures(session, owner_id)
    if figures.max_bytes is None:
        return False
    needed = figures.used_bytes + wanted - figures.max_bytes
    if needed <= 0 or needed > reclaimable(session, owner_id):
        return False
    freed = 0
    removals: list[tuple[AuditEvent, str]] = []
    parameters = {"owner_id": owner_id}
    items = session.scalars(
        select(TrashItem).where(*_EVICTABLE_ITEMS).order_by(TrashItem.deleted_at, TrashItem.id),
        parameters,
    )
    for item in items.all():
        if freed >= needed:
            break
        path = f"/{item.parent}/{item.name}".replace("//", "/")
        freed += trash.drop(store, session, changes, item)
        removals.append((AuditEvent.TRASH_PURGE, f"{path} (evicted for room)"))
    if freed < needed:
        rows = session.execute(
            select(FileVersion.id, FileVersion.node_id, FileVersion.size)
            .where(*_EVICTABLE_VERSIONS)
            .order_by(*_EVICTION_ORDER),
            parameters,
        ).all()
        doomed: list[int] = []
        for row in rows:
            if freed >= needed:
                break
            doomed.append(row.id)
            freed += row.size
            removals.append(
                (
                    AuditEvent.VERSION_PURGE,
                    f"file {row.node_id} version {row.id} (evicted for room)",
                )
            )
        versions.forget(store, session, changes, owner_id, version_ids=doomed)
    if freed:
        quota.adjust(session, owner_id, -freed, 0)
    if freed >= needed and removals:
        user = session.scalar(select(User.name).where(User.id == owner_id))
        # Only once committed: a write rolled back after all evicted nothing.
        changes.after_commit(lambda: _audit_evictions(user, removals))
    return freed >= needed


def _audit_evictions(user: str | None, removals: list[tuple[AuditEvent, str]]) -> None:
    for event, target in removals:
        audit.record(event, user=user, target=target)


def reserve_ahead(session: Session, owner_id: int, bytes_delta: int, files_delta: int) -> int:
    """Reserve for an upload's bytes still to come, evicting nothing (the upload may never
    finish): past the byte limit only as far as eviction could make room. Answer the bytes
    reserved past the limit, which the upload's commit reserves again with ``reserve``, in
    the transaction that installs the file; raise QuotaExceeded beyond that."""
    if quota.try_adjust(session, owner_id, bytes_delta, files_delta):
        return 0
    quota.adjust(session, owner_id, 0, files_delta)
    figures = quota.figures(session, owner_id)
    if (
        bytes_delta <= 0
        or figures.max_bytes is None
        or figures.used_bytes + bytes_delta - figures.max_bytes > reclaimable(session, owner_id)
    ):
        quota.adjust(session, owner_id, bytes_delta, 0)
        return 0
    quota.overdraw(session, owner_id, bytes_delta)
    return bytes_delta


# --- retention ---------------------------------------------------------------------------

HOUR = 3600.0
WEEK = 7 * DAY


def thin(
    history: Sequence[versions.VersionInfo], keeping: Keeping, now: float
) -> list[tuple[versions.VersionInfo, str]]:
    """The versions of one file (newest first) the retention removes, each with its reason."""
    doomed: list[tuple[versions.VersionInfo, str]] = []
    seen: set[tuple[float, int]] = set()
    max_age = keeping.versions_max_age_days * DAY
    for index, version in enumerate(history):
        if version.pinned or index < keeping.versions_keep_last:
            continue
        age = now - version.created_at
        if age > max_age:
            doomed.append((version, f"older than {keeping.versions_max_age_days:g} days"))
            continue
        span = HOUR if age < DAY else DAY if age < 30 * DAY else WEEK
        bucket = (span, int(version.created_at // span))
        if bucket in seen:
            doomed.append((version, "thinned"))
        else:
            seen.add(bucket)
    return doomed


def purge_owner(store: Store, owner: Owner, now: float) -> list[tuple[AuditEvent, str]]:
    """Apply the retention to one user's trash and versions, in one transaction."""
    keeping = store.keeping
    removals: list[tuple[AuditEvent, str]] = []
    with store.changing(owner) as (session, changes):
        items = session.scalars(
            select(TrashItem)
            .where(*_EVICTABLE_ITEMS, TrashItem.deleted_at < now - keeping.trash_days * DAY)
            .order_by(TrashItem.id)
            .with_for_update(),
            {"owner_id": owner.id},
        ).all()
        freed = 0
        for item in items:
            path = f"/{item.parent}/{item.name}".replace("//", "/")
            freed += trash.drop(store, session, changes, item)
            reason = f"in the trash for more than {keeping.trash_days:g} days"
            removals.append((AuditEvent.TRASH_PURGE, f"{path} ({reason})"))
        rows = session.scalars(
            select(FileVersion)
            .where(FileVersion.owner_id == owner.id)
            .order_by(FileVersion.node_id, FileVersion.id.desc())
        ).all()
        by_file: dict[int, list[versions.VersionInfo]] = {}
        for row in rows:
            by_file.setdefault(row.node_id, []).append(versions.info_of(row))
        doomed: list[int] = []
        for node_id, history in by_file.items():
            for version, reason in thin(history, keeping, now):
                doomed.append(version.id)
                target = f"file {node_id} version {version.id} ({reason})"
                removals.append((AuditEvent.VERSION_PURGE, target))
        freed += versions.forget(store, session, changes, owner.id, version_ids=doomed)
        if freed:
            quota.adjust(session, owner.id, -freed, 0)
    return removals


def purge_expired(store: Store, audit_log: AuditLog | None, now: float | None = None) -> int:
    """Apply the retention to every user; answer the number of removals (each audited)."""
    now = time.time() if now is None else now
    with store.db.read() as session:
        owners = [Owner(i, name) for i, name in session.execute(select(User.id, User.name))]
    count = 0
    for owner in owners:
        for event, target in purge_owner(store, owner, now):
            if audit_log is not None:
                audit_log.record(event, user=owner.name, client=None, target=target)
            count += 1
    return count


# --- one process at a time -----------------------------------------------------------------


def holder_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"[:64]


def take_lease(db: Database, name: str, holder: str, seconds: float, now: float) -> bool:
    """Hold the job ``name`` until ``now + seconds`` unless another holder's lease runs."""
    try:
        with db.write() as session:
            taken = session.execute(
                update(Lease)
                .where(Lease.name == name, or_(Lease.expires_at < now, Lease.holder == holder))
                .values(holder=holder, expires_at=now + seconds)
            ).rowcount
            if taken:
                return True
            if session.get(Lease, name) is not None:
                return False
            session.add(Lease(name=name, holder=holder, expires_at=now + seconds))
        return True
    except IntegrityError:
        return False  # another process created the row at the same moment


class Keeper:
    """A server process's background purge: every ``purge_interval`` seconds, the process
    that takes the lease applies the retention."""

    def __init__(self, store: Store, audit_log: AuditLog) -> None:
        self._store = store
        self._audit_log = audit_log
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="davfiles-retention", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        interval = self._store.keeping.purge_interval
        holder = holder_name()
        while not self._stop.wait(interval):
            try:
                if take_lease(self._store.db, PURGE_LEASE, holder, interval, time.time()):
                    # Writes of this host's killed workers, while the others serve on.
                    for owner_id, line in journal.recover(self._store):
                        log.warning("user id %d: %s", owner_id, line)
                    purge_expired(self._store, self._audit_log)
            except Exception:
                log.exception("the retention purge failed; it runs again in %.0f s", interval)
