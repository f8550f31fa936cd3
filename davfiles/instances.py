"""Which servers use a data dir: a lock file every serving process holds shared.

Several servers may share one data dir (and one database). A start must then not sweep the
staging folder, whose entries may be another server's uploads in flight (or the links of a
running ``davfiles backup``, which holds the lock too), nor recount usage counters that hold
another server's reservations. ``davfiles serve`` tries the lock
exclusively first: if it gets it, no other server runs and the start-up check may clean up
everything; either way it then holds the lock shared for as long as it serves (the
descriptor survives the exec into the supervisor and is inherited by its workers). ``flock``
binds processes on one machine; on NFS, Linux maps it to a POSIX lock the server sees.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

LOCK_FILE = "servers.lock"


class ServerLock:
    """The data dir's server lock, held by this process (and its children) once taken."""

    def __init__(self, data_dir: Path) -> None:
        self._fd = os.open(data_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)

    def alone(self) -> bool:
        """Take the lock exclusively if no other server holds it; True if taken."""
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def share(self, *, inheritable: bool = False) -> None:
        """Hold the lock shared from now on; ``inheritable``: also across ``exec`` and in
        forked workers (a server), otherwise until ``close`` (a backup)."""
        fcntl.flock(self._fd, fcntl.LOCK_SH)
        os.set_inheritable(self._fd, inheritable)

    def close(self) -> None:
        os.close(self._fd)
