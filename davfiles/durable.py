"""Syncing files and folders to stable storage, batched where many writers wait on one path.

Every small upload ends with a sync of its folder (the rename into place) and of SQLite's
log (its record). Eight clients writing into one folder each waited for syncs of their own,
one disk flush after another, although one sync started after all eight renames covers them
all. ``GroupSync`` is that batching: one thread syncs the path for every change counted
before the sync began, the threads that arrive meanwhile wait for the next one. Syncs are
batched, never skipped: a caller returns only once a sync that began after its change ended.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path


def fsync_path(path: Path, *, folder: bool = False) -> None:
    """Sync ``path`` to stable storage: any descriptor of a file syncs what every process
    wrote to it, and a folder's sync makes the renames in it survive a power cut."""
    flags = os.O_RDONLY | os.O_CLOEXEC | (os.O_DIRECTORY if folder else 0)
    descriptor = os.open(path, flags)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


class GroupSync:
    """Runs ``_sync_files`` once for every change counted before it began (see the module)."""

    def __init__(self) -> None:
        self._state = threading.Condition()
        self._changes = 0
        self._synced = 0
        self._syncing = False
        self.syncs = 0

    def sync(self) -> None:
        """Return once every change made before this call is on disk (call it after one)."""
        with self._state:
            self._changes += 1
            mine = self._changes
            while self._synced < mine:
                if self._syncing:
                    self._state.wait()
                    continue
                self._syncing = True
                covered = self._changes
                self._state.release()
                try:
                    self._sync_files()
                finally:
                    self._state.acquire()
                    self._syncing = False
                    self._state.notify_all()
                self._synced = max(self._synced, covered)
                self.syncs += 1

    def _sync_files(self) -> None:
        raise NotImplementedError


class _FolderSync(GroupSync):
    def __init__(self, folder: Path) -> None:
        super().__init__()
        self.folder = folder
        # Threads inside ``FolderSyncs.sync`` for this folder (none: it is dropped).
        self.users = 0

    def _sync_files(self) -> None:
        fsync_path(self.folder, folder=True)


class FolderSyncs:
    """A ``GroupSync`` per folder while any thread syncs it, dropped when none does: a
    process writes into more folders over time than it should keep state for."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._active: dict[Path, _FolderSync] = {}

    def sync(self, folder: Path) -> None:
        """Return once every rename made in ``folder`` before this call is on disk."""
        with self._lock:
            group = self._active.get(folder)
            if group is None:
                group = self._active[folder] = _FolderSync(folder)
            group.users += 1
        try:
            group.sync()
        finally:
            with self._lock:
                group.users -= 1
                if group.users == 0:
                    del self._active[folder]
