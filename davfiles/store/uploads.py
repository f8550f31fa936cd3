"""One file upload: reserve quota, stream into a staging file, then commit atomically.

Quota is reserved before bytes are accepted (all of it up front when the size is announced,
in steps while a body of unknown length streams in), so usage never exceeds a limit even
while uploads are in flight. ``commit`` settles the reservation against what really arrived;
``abort`` gives it back and removes the staging file. Each upload also holds one of the user's
upload slots from ``start`` to ``commit`` or ``abort`` (``slots.py``): the per-user cap on
uploads in progress. Trash and versions are evicted for room only in ``commit``'s
transaction, so an upload that never finishes destroys nothing; until then a reservation may
pass the byte limit by what eviction could give back (``retention.reserve_ahead``).

A body that has arrived whole before the upload starts (``UploadOptions.body_received``, a
small PUT sent with its head) takes a shorter way: it waits for no client, so it reserves
nothing up front and only checks that a slot is free; the cap, the quota and the record are
one transaction instead of three.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from davfiles.db.models import Node
from davfiles.errors import (
    AlreadyExists,
    ChecksumMismatch,
    Conflict,
    IncompleteUpload,
    InvalidName,
)
from davfiles.numbers import storable_time
from davfiles.store import blobs, nodes, quota, retention, slots, versions
from davfiles.store.blobs import StagedBlob
from davfiles.store.models import FileInfo, Owner
from davfiles.store.paths import UserPath, disk_path, numbered_name

if TYPE_CHECKING:
    from davfiles.store.store import Store

MAX_RENAME_ATTEMPTS = 10_000
# Reserve at least this much at a time for bodies of unknown length (fewer UPDATEs).
RESERVATION_STEP = 16 * 1024 * 1024


def check_time(seconds: float) -> None:
    """A file's modification time must be one every door can show (``storable_time``)."""
    if not storable_time(seconds):
        raise InvalidName(f"a file's time is seconds from 1970 to the end of 9999, not {seconds}")


@dataclass(frozen=True)
class UploadOptions:
    content_type: str | None = None
    expected_size: int | None = None
    mtime: float | None = None
    # What to do when a file exists at the path: "replace" it, "fail" (AlreadyExists) or
    # "rename" the new file to the first free "name (1).ext", "name (2).ext", ...
    if_exists: str = "replace"
    description: str | None = None
    # Algorithm name ("md5" or "sha1") and lower-case hex digest the client announced.
    checksum: tuple[str, str] | None = None
    # The whole body of ``expected_size`` bytes is already here: settle quota at commit.
    body_received: bool = False
    # Keep the replaced content as a version even within the coalescing window (a restore).
    always_version: bool = False

    def __post_init__(self) -> None:
        if self.mtime is not None:
            check_time(self.mtime)


class Upload:
    """Write bytes with ``write``; the upload is committed by ``commit`` or a clean ``with``."""

    def __init__(self, store: Store, owner: Owner, path: UserPath, options: UploadOptions) -> None:
        if options.if_exists not in ("replace", "fail", "rename"):
            raise ValueError(
                f"if_exists must be replace, fail or rename, not {options.if_exists!r}"
            )
        self._store = store
        self._owner = owner
        self._path = path
        self._requested = path
        self._options = options
        self._reserved_bytes = 0
        self._reserved_files = 0
        # The part of the reservation past the byte limit, evicted for at commit.
        self._overdrawn = 0
        self._credit = 0
        self._lease = slots.Lease(None)
        self._blob: StagedBlob | None = None
        self._settles_at_commit = options.body_received and options.expected_size is not None
        self.result: FileInfo | None = None

    def start(self) -> None:
        """Take an upload slot, check the target and reserve what is known up front.

        Raises TooManyUploads, Conflict, AlreadyExists or QuotaExceeded before any byte.

        The staging file exists before the reservation is committed, so fsck, which leaves
        usage alone while staging files exist, never sees a reservation it cannot explain.
        """
        self._blob = StagedBlob(self._store.staging_dir)
        if self._settles_at_commit:
            return
        try:
            with self._store.db.write() as session:
                nodes.lock_owner(session, self._owner.id)
                limit = self._store.max_uploads_per_user
                slot = slots.acquire(session, self._owner.id, limit, time.time())
                existing = self._check_target(session, lock=False)
                self._credit = existing.size if existing else 0
                files = 0 if existing else 1
                size = self._options.expected_size
                wanted = max(0, size - self._credit) if size is not None else 0
                overdrawn = retention.reserve_ahead(session, self._owner.id, wanted, files)
            self._reserved_bytes, self._reserved_files = wanted, files
            self._overdrawn = overdrawn
            self._lease = slots.Lease(slot)
        except BaseException:
            self._blob.discard()
            self._blob = None
            raise

    def _check_target(self, session: Session, *, lock: bool) -> Node | None:
        # Locking the parent row serialises commits into one folder on PostgreSQL.
        connection = session.connection()
        parent = nodes.info_at(connection, self._owner.id, self._path.parent, for_update=lock)
        if parent is None or not parent.is_dir:
            raise Conflict("the parent folder does not exist")
        # Read without the ORM first: most uploads are new files, with no record to change.
        found = nodes.info_at(connection, self._owner.id, self._path)
        existing = nodes.get(session, self._owner.id, self._path) if found else None
        if existing is not None and self._options.if_exists == "rename":
            self._path = self._free_path(session)
            return None
        if existing is not None and existing.is_dir:
            raise Conflict("a folder exists at this path")
        if existing is not None and self._options.if_exists == "fail":
            raise AlreadyExists("a file with this name already exists")
        return existing

    def _free_path(self, session: Session) -> UserPath:
        for number in range(1, MAX_RENAME_ATTEMPTS + 1):
            candidate = self._path.parent.child(numbered_name(self._path.name, number))
            if nodes.get(session, self._owner.id, candidate) is None:
                return candidate
        raise AlreadyExists("no free name left for this file")

    def write(self, data: bytes) -> None:
        assert self._blob is not None, "write() outside of an open upload"
        if self._settles_at_commit:
            assert self._options.expected_size is not None
            if self._blob.size + len(data) > self._options.expected_size:
                raise IncompleteUpload("more bytes than announced")
        else:
            allowed = self._reserved_bytes + self._credit
            needed = self._blob.size + len(data) - allowed
            if needed > 0:
                self._reserve_more(needed)
            self._lease.keep(self._store.db)
        self._blob.write(data)

    def _reserve_more(self, needed: int) -> None:
        """Reserve a whole step if the quota allows, else exactly what this block needs."""
        step = max(needed, RESERVATION_STEP)
        with self._store.db.write() as session:
            if quota.try_adjust(session, self._owner.id, step, 0):
                self._reserved_bytes += step
                return
        with self._store.db.write() as session:
            nodes.lock_owner(session, self._owner.id)
            overdrawn = retention.reserve_ahead(session, self._owner.id, needed, 0)
        self._reserved_bytes += needed
        self._overdrawn += overdrawn

    def commit(self) -> FileInfo:
        """Install the file and settle quota; on any error nothing changes and nothing stays."""
        blob = self._blob
        assert blob is not None, "commit() outside of an open upload"
        blob.finish()
        expected = self._options.expected_size
        if expected is not None and blob.size != expected:
            raise IncompleteUpload(f"received {blob.size} of {expected} announced bytes")
        self._verify_checksum(blob)
        options = self._options
        now = time.time()
        mtime = options.mtime if options.mtime is not None else now
        with self._store.changing(self._owner) as (session, changes):
            if self._settles_at_commit:
                slots.check_free(session, self._owner.id, self._store.max_uploads_per_user, now)
            existing = self._check_target(session, lock=True)
            target = disk_path(self._store.home(self._owner), self._path)
            replaced_size = existing.size if existing else 0
            files_delta = (0 if existing else 1) - self._reserved_files
            reserved = self._reserved_bytes
            if self._overdrawn:
                # Reserved past the limit: reserved again below, evicting for it now.
                quota.adjust(session, self._owner.id, -self._overdrawn, 0)
                reserved -= self._overdrawn
            bytes_delta = blob.size - reserved
            # A kept version stays on the disk and in the quota: no credit for the old bytes.
            # Without room for it, the replaced content goes as before, except in a restore,
            # which keeps the current content or fails (QuotaExceeded). Lost bytes keep none.
            keeps = (
                existing is not None
                and self._keeps_version(session, existing, blob, now)
                and os.path.lexists(target)
            )
            kept = keeps and self._store.try_reserve(
                session, changes, self._owner, bytes_delta, files_delta
            )
            if keeps and not kept and options.always_version:
                self._store.reserve(session, changes, self._owner, bytes_delta, files_delta)
                kept = True
            if not kept:
                bytes_delta -= replaced_size
                self._store.reserve(session, changes, self._owner, bytes_delta, files_delta)
            if kept:
                assert existing is not None
                versions.keep(self._store, session, changes, self._owner, existing, now)
            if self._lease.slot_id is not None:
                slots.release(session, self._lease.slot_id)
            renamed = self._path != self._requested
            original_name = self._requested.name if renamed else None
            content_type = self._store.content_type_for(self._path.name, options.content_type)
            if existing is None:
                self.result = nodes.insert_file(
                    session,
                    FileInfo(
                        id=0,
                        owner_id=self._owner.id,
                        path=self._path,
                        is_dir=False,
                        size=blob.size,
                        content_type=content_type,
                        md5=blob.md5,
                        sha1=blob.sha1,
                        created_at=now,
                        modified_at=mtime,
                        description=options.description,
                        public=False,
                        original_name=original_name,
                    ),
                )
            else:
                existing.original_name = original_name
                existing.size = blob.size
                existing.md5 = blob.md5
                existing.sha1 = blob.sha1
                existing.modified_at = mtime
                existing.content_type = content_type
                if options.description is not None:
                    existing.description = options.description
                session.flush()
                self.result = nodes.to_info(existing)
            nodes.touch_ancestors(
                session, self._owner.id, self._path.parent, blob.size - replaced_size
            )
            changes.replace_file(lambda path: blob.install(path, mtime), target)
        # Only once committed: after a failed commit ``abort`` still gives both back.
        self._lease = slots.Lease(None)
        self._reserved_bytes = self._reserved_files = self._overdrawn = 0
        # After the commit: the database's write lock is not held while the disk syncs.
        blobs.make_durable(target)
        self._blob = None
        return self.result

    def _keeps_version(
        self, session: Session, existing: Node, blob: StagedBlob, now: float
    ) -> bool:
        if self._options.always_version:
            return self._store.keeping.versions_enabled and existing.sha1 != blob.sha1
        return versions.wanted(self._store, session, existing, blob.sha1, self._owner.name, now)

    def _verify_checksum(self, blob: StagedBlob) -> None:
        if self._options.checksum is None:
            return
        algorithm, expected = self._options.checksum
        actual = blob.md5 if algorithm == "md5" else blob.sha1
        if actual != expected:
            raise ChecksumMismatch(f"{algorithm.upper()} of the received content is {actual}")

    def abort(self) -> None:
        """Discard the staging file and give the reservation and the upload slot back."""
        if self._blob is not None:
            self._blob.discard()
            self._blob = None
        if self._reserved_bytes or self._reserved_files or self._lease.slot_id is not None:
            with self._store.db.write() as session:
                quota.adjust(session, self._owner.id, -self._reserved_bytes, -self._reserved_files)
                self._lease.give_back(session)
            self._reserved_bytes = self._reserved_files = self._overdrawn = 0

    def __enter__(self) -> Upload:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if exc_type is None:
            try:
                self.commit()
            except BaseException:
                self.abort()
                raise
        else:
            self.abort()
