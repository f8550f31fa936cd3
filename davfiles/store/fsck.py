"""Compare the records with the disk, and repair what can be repaired without losing a byte.

The disk is the truth about what exists: a file or folder without a record gets one, a record
whose file vanished is dropped, sizes and hashes are taken from the bytes. Nothing the records
hold is ever deleted or changed on disk; only a write killed half-way is first completed or
undone from its journal (``journal.py``), whose bytes no record holds. Usage counters are
recomputed from the records, except while staging files exist: an upload in flight holds a
reservation that no record shows yet.

Each home is compared inside one write transaction that locks the user's records and row, so
no store operation of any process changes that home half-way through; hashing, the slow part,
runs before it, and a digest counts only if the file is still the one that was hashed.
"""

from __future__ import annotations

import enum
import hashlib
import os
import stat
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from davfiles.db.models import Node, User
from davfiles.errors import InvalidName
from davfiles.store import journal, kept_check, nodes, quota
from davfiles.store.models import Owner
from davfiles.store.paths import ROOT, UserPath, disk_path, parse_user_path

if TYPE_CHECKING:
    from davfiles.store.store import Store

_BLOCK = 1024 * 1024

# Kinds of findings.
MISSING_ON_DISK = "missing-on-disk"  # a record whose file or folder is not on disk
NOT_RECORDED = "not-recorded"  # a file or folder on disk without a record
WRONG_KIND = "wrong-kind"  # a folder on disk where the record says file, or the reverse
SIZE = "size"
HASH = "hash"
USAGE = "usage"  # the user's counters differ from the sum of the records
TREE_SIZE = "tree-size"  # a folder's recorded total differs from the files below it
UNSUPPORTED = "unsupported"  # on disk but no record can hold it (link, device, bad name)
ORPHAN_HOME = "orphan-home"  # an entry in data_dir/users that belongs to no user
ORPHAN_VERSION = "orphan-version"  # a version whose file is neither live nor trashed
INTERRUPTED = "interrupted-write"  # the journal of a write whose process was killed


class Repair(enum.Enum):
    NOTHING = "nothing"
    USAGE = "usage"  # recompute the usage counters only: always safe
    ALL = "all"


@dataclass(frozen=True)
class Finding:
    user: str
    path: str  # "/a/b" inside the home, "" for the user's counters
    kind: str
    detail: str
    repaired: bool


@dataclass
class FsckReport:
    findings: list[Finding] = field(default_factory=list)
    users: int = 0
    files: int = 0
    folders: int = 0
    staging_entries: int = 0

    @property
    def remaining(self) -> list[Finding]:
        return [finding for finding in self.findings if not finding.repaired]

    @property
    def clean(self) -> bool:
        return not self.remaining


Signature = tuple[int, int, int, int]


@dataclass(frozen=True)
class _Entry:
    is_dir: bool
    mtime: float
    # Device, inode, size and mtime: a replaced or rewritten file gets a new signature.
    signature: Signature

    @property
    def size(self) -> int:
        return self.signature[2]


@dataclass(frozen=True)
class _Digest:
    signature: Signature
    md5: str
    sha1: str


def _signature(status: os.stat_result) -> Signature:
    return (status.st_dev, status.st_ino, status.st_size, status.st_mtime_ns)


def _printable(name: str) -> str:
    """The name as it is, or quoted with escapes when it holds control characters or bad bytes."""
    return name if name.isprintable() else repr(name)


def _shown(folder: UserPath, name: str) -> str:
    return f"{folder}/{_printable(name)}" if not folder.is_root else f"/{_printable(name)}"


def _scan(home: Path) -> tuple[dict[UserPath, _Entry], list[tuple[str, str]]]:
    """Every folder and regular file below ``home``; and what no record can hold, with why."""
    entries: dict[UserPath, _Entry] = {}
    refused: list[tuple[str, str]] = []
    pending = [ROOT]
    while pending:
        folder = pending.pop()
        try:
            listing = list(os.scandir(disk_path(home, folder)))
        except FileNotFoundError:
            continue
        for item in listing:
            try:
                path = parse_user_path(f"{folder.text}/{item.name}")
            except InvalidName as exc:
                refused.append((_shown(folder, item.name), f"{exc}; left as it is"))
                continue
            try:
                status = item.stat(follow_symlinks=False)
            except FileNotFoundError:
                continue
            if stat.S_ISDIR(status.st_mode):
                entries[path] = _Entry(True, status.st_mtime, _signature(status))
                pending.append(path)
            elif stat.S_ISREG(status.st_mode):
                entries[path] = _Entry(False, status.st_mtime, _signature(status))
            elif stat.S_ISLNK(status.st_mode):
                refused.append(
                    (str(path), "a symbolic link, never followed nor recorded; left as it is")
                )
            else:
                refused.append((str(path), "not a regular file or folder; left as it is"))
    return entries, refused


def _digest(path: Path) -> _Digest | None:
    """MD5 and SHA-1 of the file; None if it vanished or changed while being read."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return None
    md5 = hashlib.md5(usedforsecurity=False)
    sha1 = hashlib.sha1(usedforsecurity=False)
    with os.fdopen(fd, "rb") as stream:
        before = _signature(os.fstat(fd))
        size = 0
        while block := stream.read(_BLOCK):
            md5.update(block)
            sha1.update(block)
            size += len(block)
        after = _signature(os.fstat(fd))
    if before != after or size != before[2]:
        return None
    return _Digest(before, md5.hexdigest(), sha1.hexdigest())


def _records(session: Session, owner: Owner, *, lock: bool) -> dict[UserPath, Node]:
    # Parents before children: the order in which store operations lock rows.
    statement = (
        select(Node)
        .where(Node.owner_id == owner.id)
        .order_by(func.length(Node.parent), Node.parent, Node.name)
    )
    if lock:
        statement = statement.with_for_update()
    return {nodes.to_info(node).path: node for node in session.scalars(statement)}


def _count_entries(folder: Path) -> int:
    return sum(1 for _ in folder.iterdir()) if folder.is_dir() else 0


class _HomeCheck:
    """The comparison of one user's home with that user's records."""

    def __init__(self, store: Store, owner: Owner, *, hashes: bool, repair: Repair) -> None:
        self._store = store
        self._owner = owner
        self._home = store.home(owner)
        self._hashes = hashes
        self._repair = repair
        self._digests: dict[UserPath, _Digest] = {}
        # Paths whose records a repair changed: the folders above them get a new ETag.
        self._changed: set[UserPath] = set()
        self.findings: list[Finding] = []
        self.files = self.folders = 0

    def _found(self, path: UserPath | str, kind: str, detail: str, repaired: bool) -> None:
        shown = path if isinstance(path, str) else str(path)
        self.findings.append(Finding(self._owner.name, shown, kind, detail, repaired))

    @property
    def _repair_all(self) -> bool:
        return self._repair is Repair.ALL

    def run(self) -> None:
        if self._home.exists() and not self._home.is_dir():
            self._found(ROOT, UNSUPPORTED, "the home is not a folder; left as it is", False)
            return
        self._check_root()
        self._hash_ahead()
        with self._store.db.write() as session:
            # The user's row first, as every store write takes it (``nodes.lock_owner``).
            session.execute(select(User.id).where(User.id == self._owner.id).with_for_update())
            records = _records(session, self._owner, lock=True)
            root = records.pop(ROOT, None)
            entries, refused = _scan(self._home)
            self.files = sum(1 for entry in entries.values() if not entry.is_dir)
            self.folders = len(entries) - self.files
            for shown, why in refused:
                self._found(shown, UNSUPPORTED, why, False)
            replaced = self._check_records(session, records, entries)
            self._check_unrecorded(session, records, entries, replaced)
            self._check_tree_sizes(records, root)
            kept = kept_check.check(
                self._store, session, self._owner, repair=self._repair_all, found=self._found
            )
            self._check_usage(session, records, kept)

    def _check_root(self) -> None:
        """The home folder and its record; repairing both is what creating the home does."""
        missing_folder = not self._home.is_dir()
        with self._store.db.read() as session:
            missing_record = nodes.get(session, self._owner.id, ROOT) is None
        if missing_folder:
            self._found(ROOT, MISSING_ON_DISK, "the home folder is not on disk", self._repair_all)
        if missing_record:
            self._found(ROOT, NOT_RECORDED, "the home folder has no record", self._repair_all)
        if (missing_folder or missing_record) and self._repair_all:
            self._store.create_home(self._owner)

    def _wants_digest(self, node: Node | None, entry: _Entry) -> bool:
        if self._hashes:
            return True
        changed = node is None or node.is_dir or node.size != entry.size
        return self._repair_all and changed

    def _hash_ahead(self) -> None:
        """Hash what the comparison will need before taking the locks."""
        if not self._hashes and not self._repair_all:
            return
        with self._store.db.read() as session:
            records = _records(session, self._owner, lock=False)
        entries, _refused = _scan(self._home)
        for path, entry in entries.items():
            if not entry.is_dir and self._wants_digest(records.get(path), entry):
                digest = _digest(disk_path(self._home, path))
                if digest is not None:
                    self._digests[path] = digest

    def _digest_of(self, path: UserPath, entry: _Entry) -> _Digest | None:
        known = self._digests.get(path)
        if known is not None and known.signature == entry.signature:
            return known
        return _digest(disk_path(self._home, path))

    def _check_records(
        self, session: Session, records: dict[UserPath, Node], entries: dict[UserPath, _Entry]
    ) -> set[UserPath]:
        """Records against the disk; returns the paths whose records were dropped to re-record."""
        replaced: set[UserPath] = set()
        for path, node in list(records.items()):
            entry = entries.get(path)
            what = "folder" if node.is_dir else "file"
            if entry is None:
                self._found(path, MISSING_ON_DISK, f"the {what} is not on disk", self._repair_all)
            elif entry.is_dir != node.is_dir:
                detail = f"the record is a {what}, the disk holds the other kind"
                self._found(path, WRONG_KIND, detail, self._repair_all)
                replaced.add(path)
            else:
                if not node.is_dir:
                    self._check_content(path, node, entry)
                continue
            if self._repair_all:
                session.delete(node)
                del records[path]
                self._changed.add(path)
        session.flush()
        return replaced

    def _check_content(self, path: UserPath, node: Node, entry: _Entry) -> None:
        if node.size != entry.size:
            detail = f"the record says {node.size} bytes, the disk holds {entry.size}"
            self._found(path, SIZE, detail, self._take_content(path, node, entry))
            return
        if not self._hashes:
            return
        digest = self._digest_of(path, entry)
        if digest is None:
            self._found(path, HASH, "the file changed while being hashed", False)
        elif (node.md5, node.sha1) != (digest.md5, digest.sha1):
            detail = f"the record says MD5 {node.md5}, the bytes have {digest.md5}"
            self._found(path, HASH, detail, self._take_content(path, node, entry))

    def _take_content(self, path: UserPath, node: Node, entry: _Entry) -> bool:
        """Give the record the size and hashes of the bytes on disk; True if it did."""
        digest = self._digest_of(path, entry) if self._repair_all else None
        if digest is None:
            return False
        node.size, node.md5, node.sha1 = digest.signature[2], digest.md5, digest.sha1
        self._changed.add(path)
        return True

    def _check_unrecorded(
        self,
        session: Session,
        records: dict[UserPath, Node],
        entries: dict[UserPath, _Entry],
        replaced: set[UserPath],
    ) -> None:
        for path in sorted(entries, key=lambda path: len(path.parts)):
            if path in records:
                continue
            entry = entries[path]
            node = self._new_record(path, entry) if self._repair_all else None
            if path not in replaced or node is None:
                what = "folder" if entry.is_dir else "file"
                self._found(path, NOT_RECORDED, f"a {what} without a record", node is not None)
            if node is not None:
                session.add(node)
                records[path] = node
                self._changed.add(path)
        session.flush()

    def _new_record(self, path: UserPath, entry: _Entry) -> Node | None:
        node = Node(
            owner_id=self._owner.id,
            parent=path.parent.text,
            name=path.name,
            is_dir=entry.is_dir,
            size=0,
            content_type=nodes.FOLDER_TYPE,
            created_at=time.time(),
            modified_at=entry.mtime,
        )
        if entry.is_dir:
            return node
        digest = self._digest_of(path, entry)
        if digest is None:
            return None
        node.size, node.md5, node.sha1 = digest.signature[2], digest.md5, digest.sha1
        node.content_type = self._store.content_type_for(path.name, None)
        return node

    def _check_tree_sizes(self, records: dict[UserPath, Node], root: Node | None) -> None:
        """Each folder's total against its files; the totals and ETags of the folders above a
        repaired record are brought up to date too. Totals are derived data: always safe."""
        folders = {path: node for path, node in records.items() if node.is_dir}
        if root is not None:
            folders[ROOT] = root
        totals = dict.fromkeys(folders, 0)
        for path, node in records.items():
            if not node.is_dir:
                for depth in range(len(path.parts)):
                    folder = UserPath(path.parts[:depth])
                    if folder in totals:
                        totals[folder] += node.size
        touched = {
            UserPath(path.parts[:depth])
            for path in self._changed
            for depth in range(len(path.parts))
        }
        repair = self._repair is not Repair.NOTHING
        for path, node in folders.items():
            wrong = node.tree_size != totals[path]
            # Below a repaired record the difference follows from a finding already made.
            follows = path in touched or path in self._changed
            if wrong and not follows:
                detail = (
                    f"the record says {node.tree_size} bytes below, the files hold {totals[path]}"
                )
                self._found(path, TREE_SIZE, detail, repair)
            if repair and (wrong or follows):
                node.tree_size = totals[path]
                node.tree_version += 1

    def _check_usage(self, session: Session, records: dict[UserPath, Node], kept: int) -> None:
        """``kept``: the bytes of the trash and versions, counted beside the live files."""
        files = [node for node in records.values() if not node.is_dir]
        used_bytes, used_files = sum(node.size for node in files) + kept, len(files)
        figures = quota.figures(session, self._owner.id)
        staging_entries = _count_entries(self._store.staging_dir)
        if (figures.used_bytes, figures.used_files) == (used_bytes, used_files):
            return
        detail = (
            f"the counters say {figures.used_bytes} bytes in {figures.used_files} files, "
            f"the records hold {used_bytes} bytes in {used_files} files"
        )
        if staging_entries:
            detail += (
                f"; left as they are while {staging_entries} staging entries exist "
                "(uploads in flight, or leftovers the next start sweeps)"
            )
        repair = self._repair is not Repair.NOTHING and not staging_entries
        if repair:
            quota.set_usage(session, self._owner.id, used_bytes, used_files)
        self._found("", USAGE, detail, repair)


def _all_owners(store: Store, report: FsckReport) -> list[Owner]:
    """Every user; entries of data_dir/users that belong to no user go into the report."""
    # Homes are listed first, so a user created in between is not taken for an orphan.
    homes = sorted(entry.name for entry in store.users_dir.iterdir())
    with store.db.read() as session:
        rows = session.execute(select(User.id, User.name).order_by(User.name)).all()
    owners = [Owner(user_id, name) for user_id, name in rows]
    names = {owner.name for owner in owners}
    detail = "an entry in data_dir/users that belongs to no user; left as it is"
    for home in homes:
        if home not in names:
            report.findings.append(Finding(_printable(home), "", ORPHAN_HOME, detail, False))
    return owners


def _check_journals(
    store: Store, owners: list[Owner], only: Owner | None, repair: Repair, report: FsckReport
) -> None:
    """Writes whose process was killed half-way: completed or undone first (``journal.py``)
    with any repair, since the comparison below would take their half-done disk for truth."""
    names = {owner.id: owner.name for owner in owners}
    owner_id = only.id if only is not None else None
    if repair is Repair.NOTHING:
        found = [
            (each.owner_id, f"a write killed after {len(each.steps)} disk steps; --repair ends it")
            for each in journal.interrupted(store, owner_id)
        ]
    else:
        found = journal.recover(store, owner_id)
    for each_id, line in found:
        user = names.get(each_id, str(each_id))
        report.findings.append(Finding(user, "", INTERRUPTED, line, repair is not Repair.NOTHING))


def check(store: Store, owner: Owner | None, *, hashes: bool, repair: Repair) -> FsckReport:
    """Check one user's home, or every user's plus the entries of data_dir/users."""
    report = FsckReport()
    owners = [owner] if owner is not None else _all_owners(store, report)
    _check_journals(store, owners, owner, repair, report)
    for each in owners:
        home_check = _HomeCheck(store, each, hashes=hashes, repair=repair)
        home_check.run()
        report.findings += home_check.findings
        report.files += home_check.files
        report.folders += home_check.folders
        report.users += 1
    report.staging_entries = _count_entries(store.staging_dir)
    return report
