"""Group commit for SQLite: one sync of the write-ahead log for every commit that came before it.

With ``synchronous=FULL`` SQLite syncs the log inside every commit, while the commit still holds
the database's one write lock: every writer of every process waited for the disk behind each
other writer's sync. Here SQLite runs with ``synchronous=NORMAL`` (a commit writes its log
frames without a sync; checkpoints still sync the log before and the database after), and
``Database.write`` calls ``WalSync.sync`` after the commit, outside the lock, before it
returns. One thread syncs the log for all commits counted so far; the threads that commit
meanwhile wait for the next sync instead of each starting its own (``durable.GroupSync``). A
commit is still on disk before any answer reports it: syncs are batched, never skipped.
"""

from __future__ import annotations

from pathlib import Path

from davfiles.durable import GroupSync, fsync_path


class WalSync(GroupSync):
    """Syncs the log file ``<database>-wal`` of one SQLite database, shared by this process."""

    def __init__(self, database: Path) -> None:
        super().__init__()
        self._database = database
        self._log = Path(f"{database}-wal")

    def _sync_files(self) -> None:
        try:
            fsync_path(self._log)
        except FileNotFoundError:
            # The last connection checkpointed the log into the database and removed it; the
            # checkpoint synced the database, which is synced again here at no harm.
            fsync_path(self._database)
