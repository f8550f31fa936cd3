"""One queue for the writers of every process on one SQLite database.

SQLite has one writer at a time. A writer that finds the database locked sleeps in SQLite's
busy handler in growing steps (1, 2, 5, 10 ... ms) and wakes long after the lock is free, so
with two worker processes a write waited up to a second behind a few milliseconds of work.
Here writers first take a thread lock, then an exclusive ``flock`` on a file beside the
database: the kernel wakes the next waiter, in whatever process, the moment the lock is free.
"""

from __future__ import annotations

import fcntl
import os
import threading
from pathlib import Path
from types import TracebackType


class WriterQueue:
    """A re-entrant lock that also excludes the writers of other processes (``flock``).

    The lock file is opened once per process on first use: a descriptor inherited over
    ``fork`` would share its lock with the parent and every sibling, excluding nobody.
    """

    def __init__(self, lock_path: Path) -> None:
        self._path = lock_path
        self._thread_lock = threading.RLock()
        self._depth = 0
        self._fd = -1
        self._fd_pid = -1

    def _descriptor(self) -> int:
        if self._fd_pid != os.getpid():
            self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            self._fd_pid = os.getpid()
        return self._fd

    def __enter__(self) -> WriterQueue:
        self._thread_lock.acquire()
        if self._depth == 0:
            try:
                fcntl.flock(self._descriptor(), fcntl.LOCK_EX)
            except BaseException:
                self._thread_lock.release()
                raise
        self._depth += 1
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._depth -= 1
        try:
            if self._depth == 0:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            self._thread_lock.release()

    def close(self) -> None:
        if self._fd >= 0 and self._fd_pid == os.getpid():
            os.close(self._fd)
        self._fd = self._fd_pid = -1
