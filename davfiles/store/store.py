"""The store: every operation on users' files, with quota, naming and ownership applied inside.

Front doors (WebDAV provider, REST dialects) call only these methods, so each rule lives here
once. Each write is one database transaction around the disk change it describes.
"""

from __future__ import annotations

import logging
import mimetypes
import os
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import BinaryIO

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from davfiles.auth import audit
from davfiles.auth.audit import AuditLog
from davfiles.db.engine import Database
from davfiles.db.models import DeadProperty, Node, User
from davfiles.errors import AlreadyExists, Conflict, DavfilesError, NotFound, PermissionDenied
from davfiles.store import (
    blobs,
    fsck,
    journal,
    link_policy,
    nodes,
    quota,
    retention,
    saves,
    slots,
    trash,
    trash_browse,
    versions,
)
from davfiles.store.chunks import ChunkedUploads
from davfiles.store.disk_changes import DiskChanges
from davfiles.store.fsck import FsckReport, Repair
from davfiles.store.journal import Journal
from davfiles.store.links import ShareLinks
from davfiles.store.models import FileInfo, Owner, QuotaFigures, StorageSplit
from davfiles.store.paths import (
    ROOT,
    UserPath,
    check_data_dir,
    check_tree_move,
    check_username,
    disk_path,
)
from davfiles.store.retention import Keeping
from davfiles.store.trash import TrashEntry
from davfiles.store.uploads import Upload, UploadOptions, check_time
from davfiles.store.versions import VersionInfo

log = logging.getLogger(__name__)

DEFAULT_CONTENT_TYPE = "application/octet-stream"
MAX_DEAD_PROPERTIES = 200
MAX_DEAD_PROPERTY_BYTES = 256 * 1024
# Types clients send when they know nothing better (curl -d, rclone chunks): guess instead.
_GENERIC_TYPES = ("", DEFAULT_CONTENT_TYPE, "application/x-www-form-urlencoded")


class Store:
    def __init__(
        self,
        db: Database,
        data_dir: Path,
        max_uploads_per_user: int = slots.DEFAULT_MAX_UPLOADS_PER_USER,
        keeping: Keeping | None = None,
    ) -> None:
        check_data_dir(data_dir)
        self.db = db
        self.max_uploads_per_user = max_uploads_per_user
        self.keeping = keeping or Keeping()
        self.users_dir = data_dir / "users"
        self.staging_dir = data_dir / "tmp"
        # Outside every home, on the same file system: trashing and versioning are renames.
        self.trash_dir = data_dir / "trash"
        self.versions_dir = data_dir / "versions"
        for folder in (self.users_dir, self.staging_dir, self.trash_dir, self.versions_dir):
            folder.mkdir(parents=True, exist_ok=True)
        # Per-user trash and versions folders this process knows to exist.
        self._kept_folders: set[Path] = set()
        self._keeper: retention.Keeper | None = None
        self.chunked_uploads = ChunkedUploads(self, data_dir / "uploads")
        self.links = ShareLinks(self)

    # --- homes -------------------------------------------------------------------------

    def home(self, owner: Owner) -> Path:
        check_username(owner.name)
        return self.users_dir / owner.name

    def create_home(self, owner: Owner) -> None:
        """Create the home folder and its root record (idempotent)."""
        blobs.make_dir(self.home(owner))
        with self.db.write() as session:
            if nodes.get(session, owner.id, ROOT) is None:
                now = time.time()
                session.add(
                    Node(
                        owner_id=owner.id,
                        parent="",
                        name="",
                        is_dir=True,
                        size=0,
                        created_at=now,
                        modified_at=now,
                    )
                )

    def remove_home(self, owner: Owner) -> None:
        home = self.home(owner)
        if home.exists():
            blobs.remove_tree(home, self.staging_dir)
        self.chunked_uploads.remove_all(owner)
        for kept in (self.trash_dir / str(owner.id), self.versions_dir / str(owner.id)):
            self._kept_folders.discard(kept)
            if kept.exists():
                blobs.remove_tree(kept, self.staging_dir)

    def kept_folder(self, root: Path, owner_id: int) -> Path:
        """The owner's folder in ``trash_dir`` or ``versions_dir``, created on first use."""
        folder = root / str(owner_id)
        if folder not in self._kept_folders:
            folder.mkdir(parents=True, exist_ok=True)
            self._kept_folders.add(folder)
        return folder

    def start_keeper(self, audit_log: AuditLog) -> None:
        """Run the retention purge in the background of a serving process (``retention``)."""
        self._keeper = retention.Keeper(self, audit_log)
        self._keeper.start()

    def stop_keeper(self) -> None:
        if self._keeper is not None:
            self._keeper.stop()

    def sweep_staging(self, older_than: float | None = None) -> int:
        """Remove the staging leftovers of killed processes, once the writes they were making
        are completed or undone (``journal.py``): a journal's removed trees may be needed."""
        for owner_id, line in journal.recover(self):
            log.warning("user id %d: %s", owner_id, line)
        return blobs.sweep_staging(self.staging_dir, older_than)

    def fsck(
        self, owner: Owner | None = None, *, hashes: bool = False, repair: Repair = Repair.NOTHING
    ) -> FsckReport:
        """Compare records and disk for one user or all; repairs never delete a byte (fsck.py)."""
        return fsck.check(self, owner, hashes=hashes, repair=repair)

    # --- reads -------------------------------------------------------------------------

    def stat(self, owner: Owner, path: UserPath) -> FileInfo | None:
        with self.db.connect() as connection:
            return nodes.info_at(connection, owner.id, path)

    def stat_id(self, owner: Owner, file_id: int) -> FileInfo | None:
        with self.db.read() as session:
            node = nodes.by_id(session, owner.id, file_id)
            return nodes.to_info(node) if node else None

    def list_dir(self, owner: Owner, path: UserPath) -> list[FileInfo]:
        with self.db.connect() as connection:
            return nodes.infos_in(connection, owner.id, path)

    def list_page(
        self,
        owner: Owner,
        path: UserPath,
        *,
        order: str = "name",
        descending: bool = False,
        after: tuple[object, str] | None = None,
        limit: int = 200,
    ) -> list[FileInfo]:
        """One page of a folder's members in ``order`` (``nodes.PAGE_ORDERS``), those after
        the sort key and name ``after``; as fast on a 100,000-entry folder as on a small one."""
        if order not in nodes.PAGE_ORDERS:
            raise ValueError(f"order must be one of {nodes.PAGE_ORDERS}, not {order!r}")
        with self.db.connect() as connection:
            return nodes.page_in(connection, owner.id, path, order, descending, after, limit)

    def search_names(
        self, owner: Owner, path: UserPath, text: str, limit: int = 200
    ) -> list[FileInfo]:
        """Up to ``limit`` files and folders below ``path`` whose name contains ``text``."""
        with self.db.connect() as connection:
            return nodes.search_below(connection, owner.id, path, text, limit)

    def list_tree(self, owner: Owner, path: UserPath) -> list[FileInfo]:
        """Everything below ``path``, parents before children."""
        with self.db.read() as session:
            return [nodes.to_info(node) for node in nodes.descendants(session, owner.id, path)]

    def list_files(self, owner: Owner, path: UserPath = ROOT) -> list[FileInfo]:
        """Every file (not folder) below ``path``."""
        return [info for info in self.list_tree(owner, path) if not info.is_dir]

    def public_files(self, owner: Owner) -> list[FileInfo]:
        """The files of ``owner`` anyone may download by id (``public_file``), by path."""
        with self.db.read() as session:
            rows = session.scalars(
                select(Node)
                .where(Node.owner_id == owner.id, Node.public.is_(True), Node.is_dir.is_(False))
                .order_by(Node.parent, Node.name)
            )
            return [nodes.to_info(node) for node in rows]

    def public_file(self, file_id: int) -> tuple[Owner, FileInfo] | None:
        """A file anyone may download: only if its owner made it public."""
        if not nodes.is_storable_id(file_id):
            return None
        with self.db.read() as session:
            row = session.execute(
                select(Node, User.name)
                .join(User, User.id == Node.owner_id)
                .where(Node.id == file_id, Node.public.is_(True), Node.is_dir.is_(False))
            ).one_or_none()
            if row is None:
                return None
            node, owner_name = row
            return Owner(node.owner_id, owner_name), nodes.to_info(node)

    def open_read(self, owner: Owner, info: FileInfo) -> BinaryIO:
        if info.is_dir:
            raise Conflict("a folder has no content")
        try:
            return disk_path(self.home(owner), info.path).open("rb")
        except FileNotFoundError:
            raise NotFound("the file is gone") from None

    def usage(self, owner: Owner) -> QuotaFigures:
        """The counters; with a byte limit, also what trash and versions would give back."""
        with self.db.connect() as connection:
            figures = quota.figures(connection, owner.id)
            if figures.max_bytes is None or figures.used_bytes == 0:
                return figures
            return replace(figures, reclaimable_bytes=retention.reclaimable(connection, owner.id))

    def storage_split(self, owner: Owner) -> StorageSplit:
        """The used bytes split into files, versions and trash (a storage panel's figures);
        what is not versions or trash is files (uploads in flight count there too)."""
        with self.db.connect() as connection:
            figures = quota.figures(connection, owner.id)
            trash_bytes, version_bytes = retention.held(connection, owner.id)
        files = max(0, figures.used_bytes - trash_bytes - version_bytes)
        return StorageSplit(files, version_bytes, trash_bytes, figures.max_bytes)

    def check_room(self, owner: Owner, extra_bytes: int) -> None:
        """Raise QuotaExceeded unless ``extra_bytes`` more fit what a write can use; counts
        the reclaimable bytes only when the free ones do not suffice (``quota.check_room``)."""
        with self.db.connect() as connection:
            figures = quota.figures(connection, owner.id)
            if figures.max_bytes is None or figures.used_bytes + extra_bytes <= figures.max_bytes:
                return
            reclaimable = retention.reclaimable(connection, owner.id)
        quota.check_room(replace(figures, reclaimable_bytes=reclaimable), owner, extra_bytes)

    # --- writes ------------------------------------------------------------------------

    def upload(self, owner: Owner, path: UserPath, options: UploadOptions | None = None) -> Upload:
        """Start an upload; raises Conflict, AlreadyExists or QuotaExceeded before any byte."""
        if path.is_root:
            raise Conflict("the home folder is not a file")
        upload = Upload(self, owner, path, options or UploadOptions())
        upload.start()
        return upload

    def write_bytes(
        self, owner: Owner, path: UserPath, data: bytes, options: UploadOptions | None = None
    ) -> FileInfo:
        """Store a small body in one call (placeholders, tests, tiny REST bodies)."""
        with self.upload(owner, path, options or UploadOptions(expected_size=len(data))) as up:
            up.write(data)
        assert up.result is not None
        return up.result

    def content_type_for(self, name: str, declared: str | None) -> str:
        if declared and declared.split(";")[0].strip().lower() not in _GENERIC_TYPES:
            return declared[:255]
        guessed, _encoding = mimetypes.guess_type(name, strict=False)
        return guessed or DEFAULT_CONTENT_TYPE

    def mkdir(self, owner: Owner, path: UserPath) -> FileInfo:
        if path.is_root:
            raise AlreadyExists("the home folder exists")
        with self.db.write() as session:
            nodes.lock_owner(session, owner.id)
            # Plain statements: every MKCOL of a sync client runs them (the ORM's objects and
            # flush cost more than the statements).
            connection = session.connection()
            parent = nodes.info_at(connection, owner.id, path.parent, for_update=True)
            if parent is None or not parent.is_dir:
                raise Conflict("the parent folder does not exist")
            if nodes.info_at(connection, owner.id, path) is not None:
                raise AlreadyExists("something exists at this path")
            info = nodes.insert_folder(session, owner.id, path, time.time())
            nodes.touch_ancestors(session, owner.id, path.parent)
            blobs.make_dir(disk_path(self.home(owner), path))
            return info

    def ensure_dir(self, owner: Owner, path: UserPath) -> FileInfo:
        """The folder at ``path``, created if missing (its parent must exist)."""
        try:
            return self.mkdir(owner, path)
        except AlreadyExists:
            info = self.stat(owner, path)
            if info is None or not info.is_dir:
                raise Conflict(f"{path} exists and is not a folder") from None
            return info

    def ensure_dirs(self, owner: Owner, path: UserPath) -> None:
        """Create ``path`` and every missing folder above it."""
        for depth in range(1, len(path.parts) + 1):
            self.ensure_dir(owner, UserPath(path.parts[:depth]))

    def delete_id(self, owner: Owner, file_id: int) -> FileInfo:
        info = self.stat_id(owner, file_id)
        if info is None:
            raise NotFound(f"no file with id {file_id}")
        return self.delete(owner, info.path)

    def set_public(self, owner: Owner, file_id: int, public: bool) -> FileInfo:
        """Make a file downloadable without credentials at /public/{id}, or private again;
        making it public follows the link policy."""
        with self.db.write() as session:
            node = nodes.by_id(session, owner.id, file_id)
            if node is None or node.is_dir:
                raise NotFound(f"no file with id {file_id}")
            if public and not node.public:
                link_policy.read(session).check_public_by_id()
            node.public = public
            session.flush()
            info = nodes.to_info(node)
        audit.record(
            audit.AuditEvent.FILE_PUBLIC if public else audit.AuditEvent.FILE_PRIVATE,
            user=owner.name,
            target=str(info.path),
        )
        return info

    def set_description(self, owner: Owner, file_id: int, description: str | None) -> FileInfo:
        with self.db.write() as session:
            node = nodes.by_id(session, owner.id, file_id)
            if node is None:
                raise NotFound(f"no file with id {file_id}")
            node.description = description
            session.flush()
            return nodes.to_info(node)

    def delete(self, owner: Owner, path: UserPath) -> FileInfo:
        """Delete a file or a whole folder; its space and file count are freed at once."""
        if path.is_root:
            raise PermissionDenied("the home folder cannot be deleted")
        with self.changing(owner) as (session, changes):
            node = self._existing(session, owner, path)
            info = nodes.to_info(node)
            self._remove(session, changes, owner, node)
        audit.record(audit.AuditEvent.FILE_DELETE, user=owner.name, target=str(info.path))
        return info

    def delete_folder_without_files(self, owner: Owner, path: UserPath) -> bool:
        """Delete the folder at ``path`` if no file lies anywhere below it; True if it did.

        The check and the delete are one transaction, so a file another request stores in
        the folder meanwhile is never deleted with it (a REST upload that failed undoes the
        folders it created this way).
        """
        if path.is_root:
            return False
        with self.changing(owner) as (session, changes):
            node = nodes.get(session, owner.id, path, for_update=True)
            if node is None or not node.is_dir or nodes.tree_usage(session, owner.id, node)[1]:
                return False
            trash.discard(self, session, changes, owner, node, keep=False)
        return True

    def _existing(self, session: Session, owner: Owner, path: UserPath) -> Node:
        node = nodes.get(session, owner.id, path, for_update=True)
        if node is None:
            raise NotFound(f"{path} does not exist")
        return node

    @contextmanager
    def changing(self, owner: Owner) -> Iterator[tuple[Session, DiskChanges]]:
        """A write transaction on ``owner``'s tree whose disk changes are undone if it fails
        (``DiskChanges``), and completed or undone after a crash (``journal.py``)."""
        changes: DiskChanges | None = None
        try:
            with self.db.write() as session:
                nodes.lock_owner(session, owner.id)
                changes = DiskChanges(
                    self.staging_dir, Journal(self.staging_dir, owner.id, session)
                )
                yield session, changes
        except BaseException:
            if changes is not None:
                changes.undo()
            raise
        assert changes is not None
        changes.discard_done()

    def _remove(self, session: Session, changes: DiskChanges, owner: Owner, node: Node) -> None:
        trash.discard(self, session, changes, owner, node)

    def reserve(
        self,
        session: Session,
        changes: DiskChanges,
        owner: Owner,
        bytes_delta: int,
        files_delta: int,
    ) -> None:
        """Count a change in usage; trash and versions make room when bytes do not fit."""
        retention.reserve(self, session, changes, owner.id, bytes_delta, files_delta)

    def try_reserve(
        self,
        session: Session,
        changes: DiskChanges,
        owner: Owner,
        bytes_delta: int,
        files_delta: int,
    ) -> bool:
        """``reserve`` that answers False (changing nothing) instead of refusing."""
        return retention.try_reserve(self, session, changes, owner.id, bytes_delta, files_delta)

    def _prepare_destination(
        self,
        session: Session,
        changes: DiskChanges,
        owner: Owner,
        source: UserPath,
        target: UserPath,
        overwrite: bool,
    ) -> bool:
        """Check the target of a copy or move, clearing it if allowed; True if it was free."""
        if target.is_root or target.is_within(source) or source.is_within(target):
            raise Conflict("source and destination overlap")
        parent = nodes.get(session, owner.id, target.parent, for_update=True)
        if parent is None or not parent.is_dir:
            raise Conflict("the destination folder does not exist")
        existing = nodes.get(session, owner.id, target, for_update=True)
        if existing is None:
            return True
        if not overwrite:
            raise AlreadyExists(f"{target} exists")
        self._remove(session, changes, owner, existing)
        return False

    def move(self, owner: Owner, source: UserPath, target: UserPath, *, overwrite: bool) -> bool:
        """Rename ``source`` to ``target``; the id and properties go along. True if created.

        A file moved over a file, or to the name a file left for a temporary moments ago,
        is a new content of that file, which keeps its id and versions (``saves.py``).
        """
        if source.is_root:
            raise PermissionDenied("the home folder cannot be moved")
        with self.changing(owner) as (session, changes):
            node = self._existing(session, owner, source)
            if node.is_dir:
                check_tree_move(source, target, nodes.paths_below(session, owner.id, source))
            elif source != target:
                saved = self._save_by_move(session, changes, owner, node, target, overwrite)
                if saved is not None:
                    return saved
            created = self._prepare_destination(session, changes, owner, source, target, overwrite)
            saves.note_departure(self, session, owner, node, source, target)
            nodes.rename_tree(session, owner.id, node, target)
            self._touch_both_sides(session, owner, node, source, target)
            home = self.home(owner)
            changes.rename(disk_path(home, source), disk_path(home, target))
            return created

    def _save_by_move(
        self,
        session: Session,
        changes: DiskChanges,
        owner: Owner,
        node: Node,
        target: UserPath,
        overwrite: bool,
    ) -> bool | None:
        """Apply an editor's safe save (``saves.py``) to moving the file ``node`` to
        ``target``; answer whether ``target`` was created, None for an ordinary move."""
        existing = nodes.get(session, owner.id, target, for_update=True)
        if existing is None:
            heir = saves.returning(self, session, owner, target)
            if heir is None or heir.id == node.id:  # renamed back: an ordinary move
                return None
            saves.swap_back(self, session, changes, owner, node, heir, target)
            return True
        if existing.is_dir or not overwrite or not self.keeping.versions_enabled:
            return None
        saves.replace_by_move(self, session, changes, owner, node, existing)
        return False

    def _touch_both_sides(
        self, session: Session, owner: Owner, node: Node, source: UserPath, target: UserPath
    ) -> None:
        """The folders a move leaves and enters change; the moved node keeps its ETag."""
        if source.parent == target.parent:
            nodes.touch_ancestors(session, owner.id, target.parent)
            return
        size = node.tree_size if node.is_dir else node.size
        nodes.touch_ancestors(session, owner.id, source.parent, -size)
        nodes.touch_ancestors(session, owner.id, target.parent, size)

    def copy(
        self,
        owner: Owner,
        source: UserPath,
        target: UserPath,
        *,
        overwrite: bool,
        recursive: bool = True,
    ) -> bool:
        """Copy a file or folder (with dead properties); quota is checked for the whole tree."""
        with self.changing(owner) as (session, changes):
            node = self._existing(session, owner, source)
            created = self._prepare_destination(session, changes, owner, source, target, overwrite)
            members = (
                nodes.descendants(session, owner.id, source) if node.is_dir and recursive else []
            )
            check_tree_move(source, target, (nodes.to_info(member).path.text for member in members))
            files = [n for n in (node, *members) if not n.is_dir]
            size = sum(n.size for n in files)
            self.reserve(session, changes, owner, size, len(files))
            nodes.touch_ancestors(session, owner.id, target.parent, size)
            self._copy_rows(session, owner, source, target, [node, *members])
            self._copy_disk(changes, owner, source, target, [node, *members])
            return created

    def _copy_rows(
        self,
        session: Session,
        owner: Owner,
        source: UserPath,
        target: UserPath,
        originals: Sequence[Node],
    ) -> None:
        now = time.time()
        depth = len(source.parts)
        # A folder copied without its members (Depth 0) holds nothing below it.
        whole_tree = len(originals) > 1
        for original in originals:
            path = UserPath(target.parts + nodes.to_info(original).path.parts[depth:])
            copy = Node(
                owner_id=owner.id,
                parent=path.parent.text,
                name=path.name,
                is_dir=original.is_dir,
                size=original.size,
                content_type=original.content_type,
                md5=original.md5,
                sha1=original.sha1,
                created_at=now,
                modified_at=original.modified_at,
                description=original.description,
                public=False,
                tree_size=original.tree_size if whole_tree else 0,
            )
            session.add(copy)
            session.flush()
            for prop in session.scalars(
                select(DeadProperty).where(DeadProperty.node_id == original.id)
            ).all():
                session.add(DeadProperty(node_id=copy.id, name=prop.name, value=prop.value))

    def _copy_disk(
        self,
        changes: DiskChanges,
        owner: Owner,
        source: UserPath,
        target: UserPath,
        originals: Sequence[Node],
    ) -> None:
        """Build the copy beside the staging files, then rename it into place in one step."""
        home = self.home(owner)
        depth = len(source.parts)
        staged_root: Path | None = None
        try:
            for original in originals:
                relative = nodes.to_info(original).path.parts[depth:]
                if staged_root is None:
                    if original.is_dir:
                        staged_root = blobs.new_staging_dir(self.staging_dir)
                    else:
                        staged_root = blobs.stage_copy(disk_path(home, source), self.staging_dir)
                        os.utime(staged_root, (original.modified_at, original.modified_at))
                    continue
                destination = staged_root.joinpath(*relative)
                if original.is_dir:
                    blobs.make_dir(destination)
                else:
                    blobs.copy_file(disk_path(home, source).joinpath(*relative), destination)
                    os.utime(destination, (original.modified_at, original.modified_at))
            assert staged_root is not None
            changes.install(staged_root, disk_path(home, target))
        except BaseException:
            if staged_root is not None and staged_root.exists():
                blobs.remove_tree(staged_root, self.staging_dir)
            raise

    def create_empty(
        self, owner: Owner, path: UserPath, content_type: str | None = None
    ) -> FileInfo:
        """Create a 0-byte file (a locked placeholder) unless something exists there."""
        return self.write_bytes(
            owner,
            path,
            b"",
            UploadOptions(expected_size=0, if_exists="fail", content_type=content_type),
        )

    def set_modified(self, owner: Owner, path: UserPath, timestamp: float) -> None:
        """Set the mtime; the folders above (and a folder itself) get a new ETag, since sync
        clients take a file's new mtime only from a listing of its folder."""
        with self.db.write() as session:
            nodes.lock_owner(session, owner.id)
            node = self._existing(session, owner, path)
            self._set_modified(session, owner, path, node, timestamp)
        self._utime(owner, path, timestamp)

    @staticmethod
    def _set_modified(
        session: Session, owner: Owner, path: UserPath, node: Node, timestamp: float
    ) -> None:
        check_time(timestamp)
        node.modified_at = timestamp
        session.flush()
        nodes.touch_ancestors(session, owner.id, path if node.is_dir else path.parent)

    def _utime(self, owner: Owner, path: UserPath, timestamp: float) -> None:
        """The disk's mtime to match the record's: called once the record committed, so a
        transaction that fails leaves the disk as it was."""
        os.utime(disk_path(self.home(owner), path), (timestamp, timestamp))

    def patch_properties(
        self,
        owner: Owner,
        path: UserPath,
        properties: Mapping[str, bytes | None],
        modified: float | None = None,
    ) -> None:
        """Set or remove (None) dead properties and set the mtime (when given) in one
        transaction: a PROPPATCH applies all of it or, when any part fails, none."""
        with self.db.write() as session:
            if modified is not None:
                nodes.lock_owner(session, owner.id)
            node = self._existing(session, owner, path)
            for name, value in properties.items():
                self._set_dead_property(session, node, name, value)
                session.flush()
            if modified is not None:
                self._set_modified(session, owner, path, node, modified)
        if modified is not None:
            self._utime(owner, path, modified)

    # --- dead properties ---------------------------------------------------------------

    def dead_properties(self, owner: Owner, path: UserPath) -> dict[str, bytes]:
        with self.db.connect() as connection:
            rows = connection.execute(
                select(DeadProperty.name, DeadProperty.value)
                .join(Node, DeadProperty.node_id == Node.id)
                .where(
                    Node.owner_id == owner.id,
                    Node.parent == path.parent.text,
                    Node.name == path.name,
                )
            ).all()
            return {name: value for name, value in rows}

    def dead_properties_in(self, owner: Owner, folder: UserPath) -> dict[str, dict[str, bytes]]:
        """The dead properties of every member of ``folder`` that has any, by member name."""
        found: dict[str, dict[str, bytes]] = {}
        with self.db.connect() as connection:
            rows = connection.execute(
                select(Node.name, DeadProperty.name, DeadProperty.value)
                .join(DeadProperty, DeadProperty.node_id == Node.id)
                .where(Node.owner_id == owner.id, Node.parent == folder.text, Node.name != "")
            )
            for member, name, value in rows:
                found.setdefault(member, {})[name] = value
        return found

    def _check_room_for_property(self, session: Session, node_id: int, size: int) -> None:
        """Bound what one file's properties may hold, so listing it stays cheap."""
        count, total = session.execute(
            select(func.count(), func.coalesce(func.sum(func.length(DeadProperty.value)), 0)).where(
                DeadProperty.node_id == node_id
            )
        ).one()
        if count >= MAX_DEAD_PROPERTIES or total + size > MAX_DEAD_PROPERTY_BYTES:
            raise PermissionDenied(
                f"a file holds at most {MAX_DEAD_PROPERTIES} properties and "
                f"{MAX_DEAD_PROPERTY_BYTES} bytes of them"
            )

    def set_dead_property(
        self, owner: Owner, path: UserPath, name: str, value: bytes | None
    ) -> None:
        """Store a dead property, or remove it when ``value`` is None (absent is fine)."""
        with self.db.write() as session:
            node = self._existing(session, owner, path)
            self._set_dead_property(session, node, name, value)

    def _set_dead_property(
        self, session: Session, node: Node, name: str, value: bytes | None
    ) -> None:
        prop = session.get(DeadProperty, (node.id, name))
        if value is not None and prop is None:
            self._check_room_for_property(session, node.id, len(value))
        if value is None:
            if prop is not None:
                session.delete(prop)
        elif prop is None:
            session.add(DeadProperty(node_id=node.id, name=name, value=value))
        else:
            prop.value = value

    # --- trash and versions ---------------------------------------------------------------

    def trash_list(
        self,
        owner: Owner,
        *,
        folder: UserPath | None = None,
        since: float | None = None,
        until: float | None = None,
        origin: str | None = None,
        door: str | None = None,
        agent: str | None = None,
    ) -> list[TrashEntry]:
        return trash.listing(
            self,
            owner,
            folder=folder,
            since=since,
            until=until,
            origin=origin,
            door=door,
            agent=agent,
        )

    def trash_entry(self, owner: Owner, item_id: int) -> TrashEntry | None:
        return trash.entry(self, owner, item_id)

    def trash_inside(self, owner: Owner, entry: TrashEntry, relative: UserPath) -> FileInfo | None:
        """What lay at ``relative`` in a trashed tree (``trash_browse``)."""
        return trash_browse.inside(self, owner, entry, relative)

    def trash_roots(self, owner: Owner, entries: list[TrashEntry]) -> dict[int, FileInfo]:
        return trash_browse.roots(self, owner, entries)

    def trash_members(self, owner: Owner, entry: TrashEntry, folder: FileInfo) -> list[FileInfo]:
        return trash_browse.members(self, owner, entry, folder)

    def trash_open(self, owner: Owner, entry: TrashEntry, info: FileInfo) -> BinaryIO:
        return trash_browse.open_file(self, owner, entry, info)

    def trash_restore(self, owner: Owner, item_id: int) -> FileInfo:
        """Put a trash item back (see ``trash.restore``); answer what it became."""
        with self.changing(owner) as (session, changes):
            path = trash.restore(self, session, changes, owner, item_id)
        info = self.stat(owner, path)
        assert info is not None
        return info

    def trash_restore_all(
        self, owner: Owner, item_ids: Sequence[int]
    ) -> tuple[list[tuple[int, FileInfo]], list[tuple[int, str]]]:
        """Restore each item on its own: one that fails (a taken folder name, bytes lost)
        stops no other. Answer the restored items with what they became, and the failed ones
        with why."""
        restored: list[tuple[int, FileInfo]] = []
        failed: list[tuple[int, str]] = []
        for item_id in item_ids:
            try:
                restored.append((item_id, self.trash_restore(owner, item_id)))
            except DavfilesError as exc:
                failed.append((item_id, str(exc)))
            except OSError as exc:
                failed.append((item_id, f"the trashed bytes cannot be moved back: {exc.strerror}"))
        return restored, failed

    def trash_purge(
        self, owner: Owner, item_ids: Sequence[int] | None = None, audit_log: AuditLog | None = None
    ) -> list[TrashEntry]:
        """Delete trash items for good (all of them with None); each one is audited."""
        with self.changing(owner) as (session, changes):
            purged = trash.purge(self, session, changes, owner, item_ids)
        for entry in purged:
            target = f"/{entry.original_path.text} (deleted by hand)"
            self._audit(audit_log, audit.AuditEvent.TRASH_PURGE, owner, target)
        return purged

    def versions_of(self, owner: Owner, file_id: int) -> list[VersionInfo]:
        return versions.listing(self, owner, file_id)

    def version_open(self, owner: Owner, version_id: int) -> tuple[VersionInfo, BinaryIO]:
        """A version of one of the owner's files and its bytes to read."""
        version = versions.get(self, owner, version_id)
        try:
            return version, versions.version_path(self, owner.id, version.disk_name).open("rb")
        except FileNotFoundError:
            raise NotFound(f"the bytes of version {version.id} are gone") from None

    def version_label(self, owner: Owner, version_id: int, label: str | None) -> VersionInfo:
        return versions.set_label(self, owner, version_id, label)

    def version_delete(
        self, owner: Owner, version_id: int, audit_log: AuditLog | None = None
    ) -> None:
        """Delete one version for good, labelled or not."""
        version = versions.get(self, owner, version_id)
        with self.changing(owner) as (session, changes):
            freed = versions.forget(self, session, changes, owner.id, version_ids=[version.id])
            quota.adjust(session, owner.id, -freed, 0)
        target = f"file {version.node_id} version {version.id} (deleted by hand)"
        self._audit(audit_log, audit.AuditEvent.VERSION_PURGE, owner, target)

    def version_restore(self, owner: Owner, version_id: int) -> FileInfo:
        """Make a version its file's content again; the replaced content becomes a version.

        An ordinary write (quota, atomic install), so it needs room for the restored bytes,
        and for keeping the current content: without it, QuotaExceeded changes nothing.
        """
        version = versions.get(self, owner, version_id)
        info = self.stat_id(owner, version.node_id)
        if info is None:
            raise NotFound("the file of this version is not in its home: restore it first")
        options = UploadOptions(
            expected_size=version.size,
            mtime=version.modified_at,
            content_type=info.content_type,
            always_version=True,
        )
        try:
            source = versions.version_path(self, owner.id, version.disk_name).open("rb")
        except FileNotFoundError:
            raise NotFound(f"the bytes of version {version.id} are gone") from None
        with source, self.upload(owner, info.path, options) as upload:
            while block := source.read(1024 * 1024):
                upload.write(block)
        assert upload.result is not None
        return upload.result

    def purge_expired(self, audit_log: AuditLog | None, now: float | None = None) -> int:
        """Apply the retention to every user now (the background keeper does it hourly)."""
        return retention.purge_expired(self, audit_log, now)

    @staticmethod
    def _audit(
        audit_log: AuditLog | None, event: audit.AuditEvent, owner: Owner, target: str
    ) -> None:
        if audit_log is not None:
            audit_log.record(event, user=owner.name, client=None, target=target)
        else:
            audit.record(event, user=owner.name, target=target)
