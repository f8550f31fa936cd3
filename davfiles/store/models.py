"""Plain values the store hands to its callers."""

from __future__ import annotations

from dataclasses import dataclass

from davfiles.store.paths import UserPath


@dataclass(frozen=True)
class Owner:
    """The user a store call acts for, as established by authentication."""

    id: int
    name: str


# Not frozen: a frozen dataclass builds each field through object.__setattr__, five times the
# cost, and a listing of 10,000 files builds 10,000 of these. Nothing changes one after it is
# made (the store hands out new ones); unhashable, as a mutable dataclass is.
@dataclass(slots=True)
class FileInfo:
    id: int
    owner_id: int
    path: UserPath
    is_dir: bool
    size: int
    content_type: str
    md5: str | None
    sha1: str | None
    created_at: float
    modified_at: float
    description: str | None
    public: bool
    # The name the client asked for, when the store stored the file under a free one.
    original_name: str | None = None
    # Folders: bytes of every file below, and a counter bumped by any change below (0 on files).
    tree_size: int = 0
    tree_version: int = 0

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def etag(self) -> str:
        """Strong validator: the MD5 for files (so a MOVE keeps it), the id and the change
        counter for folders (so it changes with anything at any depth below)."""
        if not self.is_dir and self.md5:
            return self.md5
        if not self.is_dir:
            return f"{self.id:x}-{int(self.modified_at * 1000):x}"
        return f"{self.id:x}-t{self.tree_version:x}"


@dataclass(frozen=True)
class QuotaFigures:
    used_bytes: int
    used_files: int
    max_bytes: int | None
    max_files: int | None
    # Bytes of trash and versions a write may evict (counted in ``used_bytes``).
    reclaimable_bytes: int = 0

    @property
    def available_bytes(self) -> int | None:
        """What a write can really use: the free bytes plus what eviction gives back."""
        if self.max_bytes is None:
            return None
        return max(0, self.max_bytes - self.used_bytes + self.reclaimable_bytes)


@dataclass(frozen=True)
class StorageSplit:
    """Where a user's counted bytes are: live files, earlier versions of live files, and the
    trash (deleted trees with their files' versions); ``free`` only with a byte quota."""

    files: int
    versions: int
    trash: int
    max_bytes: int | None

    @property
    def used(self) -> int:
        return self.files + self.versions + self.trash

    @property
    def free(self) -> int | None:
        return None if self.max_bytes is None else max(0, self.max_bytes - self.used)
