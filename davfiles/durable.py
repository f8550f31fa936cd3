"""Syncing a file or folder by its path, for the store's renames and the database's log."""

from __future__ import annotations

import os
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
