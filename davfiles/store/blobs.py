"""Bytes on disk: staging files in the data dir's own tmp folder, installed by atomic rename.

Readers of a path see the old or the new complete file, never a partial one, and a failed
upload leaves nothing behind: the staging file is removed in every failure path.
"""

from __future__ import annotations

import errno
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import BinaryIO

from davfiles.durable import FolderSyncs
from davfiles.errors import InvalidName, StorageFull
from davfiles.store.digests import Digests

STAGING_PREFIX = "staging-"
TRASH_PREFIX = "trash-"


def _translate_os_error(exc: OSError) -> Exception:
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return StorageFull("no space left on the server's disk")
    if exc.errno == errno.ENAMETOOLONG:
        # The name rules (paths.py) fit Linux's limits; a file system with shorter names
        # (eCryptfs: 143 bytes) still refuses some, and that is the name's fault, not ours.
        return InvalidName("the server's file system cannot hold a name or path this long")
    return exc


class StagedBlob:
    """A staging file that counts and hashes (MD5, SHA-1) the bytes while they stream in."""

    def __init__(self, staging_dir: Path) -> None:
        fd, name = tempfile.mkstemp(dir=staging_dir, prefix=STAGING_PREFIX)
        self.path = Path(name)
        self._file: BinaryIO | None = os.fdopen(fd, "wb")
        self._digests = Digests()
        self.size = 0

    def write(self, data: bytes) -> None:
        assert self._file is not None, "write after finish"
        try:
            self._file.write(data)
        except OSError as exc:
            raise _translate_os_error(exc) from exc
        self._digests.update(data)
        self.size += len(data)

    @property
    def md5(self) -> str:
        return self._digests.md5

    @property
    def sha1(self) -> str:
        return self._digests.sha1

    def finish(self) -> None:
        """Flush the bytes to stable storage; after this only ``install`` or ``discard``."""
        if self._file is None:
            return
        try:
            self._file.flush()
            os.fsync(self._file.fileno())
        except OSError as exc:
            raise _translate_os_error(exc) from exc
        finally:
            self._file.close()
            self._file = None

    def install(self, target: Path, mtime: float) -> None:
        """Atomically replace ``target`` with the staged bytes; ``make_durable`` it after."""
        self.finish()
        os.utime(self.path, (mtime, mtime))
        try:
            os.replace(self.path, target)
        except OSError as exc:
            raise _translate_os_error(exc) from exc

    def discard(self) -> None:
        self._digests.close()
        if self._file is not None:
            self._file.close()
            self._file = None
        self.path.unlink(missing_ok=True)


def copy_file(source: Path, destination: Path) -> None:
    try:
        shutil.copyfile(source, destination)
    except OSError as exc:
        raise _translate_os_error(exc) from exc


def stage_copy(source: Path, staging_dir: Path) -> Path:
    """Copy ``source`` into a new staging file and return its path."""
    fd, name = tempfile.mkstemp(dir=staging_dir, prefix=STAGING_PREFIX)
    os.close(fd)
    try:
        copy_file(source, Path(name))
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise
    return Path(name)


def new_staging_dir(staging_dir: Path) -> Path:
    return Path(tempfile.mkdtemp(dir=staging_dir, prefix=STAGING_PREFIX))


def make_dir(path: Path) -> None:
    try:
        path.mkdir()
    except FileExistsError:
        if not path.is_dir() or path.is_symlink():
            raise
    except OSError as exc:
        raise _translate_os_error(exc) from exc


def new_trash_dir(staging_dir: Path) -> Path:
    """An empty folder in the staging folder for something on its way out, as ``trash/x``."""
    return Path(tempfile.mkdtemp(dir=staging_dir, prefix=TRASH_PREFIX))


def remove_tree(path: Path, staging_dir: Path) -> None:
    """Remove a file or folder; a folder is first renamed aside so it vanishes at once."""
    if path.is_dir() and not path.is_symlink():
        aside = new_trash_dir(staging_dir)
        os.replace(path, aside / "x")
        shutil.rmtree(aside, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def sweep_staging(staging_dir: Path, older_than: float | None = None) -> int:
    """Remove staging and trash leftovers of a previous run; return how many were removed.

    ``older_than`` (seconds): only entries unchanged for that long, for a start while other
    servers share the data dir (an upload in flight changes its file as bytes arrive).
    """
    removed = 0
    cutoff = None if older_than is None else time.time() - older_than
    for entry in staging_dir.iterdir():
        if cutoff is not None and not _unchanged_since(entry, cutoff):
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
        removed += 1
    return removed


def _unchanged_since(entry: Path, cutoff: float) -> bool:
    try:
        return entry.lstat().st_mtime <= cutoff
    except FileNotFoundError:  # its upload just ended
        return False


_FOLDERS = FolderSyncs()


def make_durable(installed: Path) -> None:
    """Sync the folder of a file ``install`` renamed into place, so the rename survives a
    power cut; one sync serves the uploads that end in a folder at the same time. Readers
    and a killed process see the new file from the rename on."""
    _FOLDERS.sync(installed.parent)
