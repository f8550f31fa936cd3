"""Chunked uploads as Nextcloud's v1 protocol (rclone's nextcloud mode) sends them.

A client makes an upload folder, PUTs numbered chunks into it and finally asks to assemble
them into a file. Chunks live outside the homes in ``data_dir/uploads/<user>/<folder>/``, so
they never show in listings or usage; while they wait they may not exceed what the user's
quota has left. Assembly streams them, in natural name order, through a normal store upload:
the same atomic write, quota reservation and hashing as any other write. Folders left
behind expire.
"""

from __future__ import annotations

import os
import re
import shutil
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from davfiles.errors import AlreadyExists, Conflict, IncompleteUpload, NotFound
from davfiles.store import blobs, slots
from davfiles.store.blobs import StagedBlob
from davfiles.store.models import FileInfo, Owner
from davfiles.store.paths import UserPath, check_name, check_username
from davfiles.store.uploads import UploadOptions

if TYPE_CHECKING:
    from davfiles.db.engine import Database
    from davfiles.store.store import Store

DEFAULT_MAX_AGE = 24 * 3600
_NUMBER = re.compile(r"(\d+)")


@dataclass(frozen=True)
class Chunk:
    name: str
    size: int
    modified_at: float


def _entries(folder: Path) -> list[os.DirEntry[str]]:
    """The entries of ``folder``; none if it does not exist (any more)."""
    try:
        with os.scandir(folder) as entries:
            return list(entries)
    except (FileNotFoundError, NotADirectoryError):
        return []


def _natural_key(name: str) -> list[object]:
    return [int(part) if part.isdigit() else part for part in _NUMBER.split(name)]


class ChunkedUploads:
    def __init__(self, store: Store, root: Path, max_age: float = DEFAULT_MAX_AGE) -> None:
        self._store = store
        self.staging_dir = store.staging_dir
        self._root = root
        self._max_age = max_age
        root.mkdir(parents=True, exist_ok=True)

    @property
    def db(self) -> Database:
        return self._store.db

    def take_upload_slot(self, owner: Owner) -> slots.Lease:
        """A slot of the per-user cap on uploads in progress: a chunk counts as an upload."""
        limit = self._store.max_uploads_per_user
        with self._store.db.write() as session:
            return slots.Lease(slots.acquire(session, owner.id, limit, time.time()))

    def give_back(self, lease: slots.Lease) -> None:
        if lease.slot_id is not None:
            with self._store.db.write() as session:
                lease.give_back(session)

    def _user_dir(self, owner: Owner) -> Path:
        check_username(owner.name)
        return self._root / owner.name

    def _folder(self, owner: Owner, folder: str) -> Path:
        check_name(folder)
        return self._user_dir(owner) / folder

    def folders(self, owner: Owner) -> list[str]:
        user_dir = self._user_dir(owner)
        return sorted(entry.name for entry in user_dir.iterdir()) if user_dir.is_dir() else []

    def exists(self, owner: Owner, folder: str) -> bool:
        return self._folder(owner, folder).is_dir()

    def create(self, owner: Owner, folder: str) -> None:
        self.expire()
        path = self._folder(owner, folder)
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            path.mkdir()
        except FileExistsError:
            raise AlreadyExists(f"upload folder {folder} exists") from None

    def chunks(self, owner: Owner, folder: str) -> list[Chunk]:
        path = self._folder(owner, folder)
        if not path.is_dir():
            raise NotFound(f"no upload folder {folder}")
        found = []
        for entry in path.iterdir():
            stat = entry.stat()
            found.append(Chunk(entry.name, stat.st_size, stat.st_mtime))
        return sorted(found, key=lambda chunk: _natural_key(chunk.name))

    def open_chunk(self, owner: Owner, folder: str, name: str, expected: int | None) -> ChunkWriter:
        """Start writing one chunk; it appears atomically when ``commit`` succeeds."""
        check_name(name)
        target = self._folder(owner, folder)
        if not target.is_dir():
            raise Conflict(f"no upload folder {folder}: create it with MKCOL first")
        return ChunkWriter(self, owner, target / name, expected, self._waiting_bytes(owner))

    def _waiting_bytes(self, owner: Owner) -> int:
        """Bytes of all the user's waiting chunks; other requests may assemble or remove
        upload folders meanwhile, so what vanishes while counted counts 0."""
        total = 0
        for folder in _entries(self._user_dir(owner)):
            for chunk in _entries(Path(folder.path)):
                try:
                    total += chunk.stat().st_size
                except FileNotFoundError:
                    pass
        return total

    def check_room(self, owner: Owner, total: int) -> None:
        """Waiting chunks may not take more than what the user's byte quota has left."""
        self._store.check_room(owner, total)

    def delete(self, owner: Owner, folder: str, name: str | None = None) -> None:
        path = self._folder(owner, folder)
        if name is not None:
            check_name(name)
            path = path / name
        if not path.exists():
            raise NotFound("no such upload folder or chunk")
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink()

    def assemble(
        self,
        owner: Owner,
        folder: str,
        target: UserPath,
        options: UploadOptions,
        total_length: int | None = None,
    ) -> tuple[FileInfo, bool]:
        """Join the chunks into ``target``; returns the file and whether it was new."""
        chunks = self.chunks(owner, folder)
        size = sum(chunk.size for chunk in chunks)
        if total_length is not None and total_length != size:
            raise IncompleteUpload(f"the chunks hold {size} bytes, not {total_length}")
        created = self._store.stat(owner, target) is None
        folder_path = self._folder(owner, folder)
        with self._store.upload(owner, target, replace(options, expected_size=size)) as upload:
            for chunk in chunks:
                with (folder_path / chunk.name).open("rb") as stream:
                    while data := stream.read(1024 * 1024):
                        upload.write(data)
        shutil.rmtree(folder_path, ignore_errors=True)
        assert upload.result is not None
        return upload.result, created

    def remove_all(self, owner: Owner) -> None:
        shutil.rmtree(self._user_dir(owner), ignore_errors=True)

    def expire(self) -> int:
        """Remove upload folders untouched for longer than the maximum age."""
        cutoff = time.time() - self._max_age
        removed = 0
        for folder in self._root.glob("*/*"):
            if folder.is_dir() and os.stat(folder).st_mtime < cutoff:
                shutil.rmtree(folder, ignore_errors=True)
                removed += 1
        return removed


class ChunkWriter:
    """Streams one chunk into a staging file and renames it into its upload folder."""

    def __init__(
        self,
        uploads: ChunkedUploads,
        owner: Owner,
        target: Path,
        expected: int | None,
        waiting: int,
    ) -> None:
        self._uploads = uploads
        self._owner = owner
        self._target = target
        self._expected = expected
        self._waiting = waiting
        if expected is not None:
            uploads.check_room(owner, waiting + expected)
        self._lease = uploads.take_upload_slot(owner)
        try:
            self._blob = StagedBlob(uploads.staging_dir)
        except BaseException:
            uploads.give_back(self._lease)
            raise

    def write(self, data: bytes) -> None:
        self._uploads.check_room(self._owner, self._waiting + self._blob.size + len(data))
        self._lease.keep(self._uploads.db)
        self._blob.write(data)

    def commit(self) -> Chunk:
        """Install the chunk; the upload slot is given back whether or not this succeeds."""
        try:
            if self._expected is not None and self._blob.size != self._expected:
                raise IncompleteUpload(f"received {self._blob.size} of {self._expected} bytes")
            now = time.time()
            self._blob.install(self._target, now)
            blobs.make_durable(self._target)
            return Chunk(self._target.name, self._blob.size, now)
        finally:
            self._uploads.give_back(self._lease)

    def abort(self) -> None:
        self._blob.discard()
        self._uploads.give_back(self._lease)
