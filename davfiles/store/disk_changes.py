"""Disk changes made inside a database transaction, undone if the transaction fails.

A DELETE, a COPY or MOVE that replaces its destination, and an upload's install change the
disk before the database commits, and the commit may still fail: a COPY found over the quota,
a rename the disk refuses, a database error. Removed trees are therefore only renamed into the
staging folder until the commit, and every step knows its undo, so a failure puts the old
files back where the records, rolled back, say they are.

Every step is first written to the transaction's journal (``journal.py``), so a process killed
between a step and its commit, or between the commit and the deletions, leaves a journal from
which the next start-up (or ``davfiles fsck --repair``) completes or undoes the write.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import shutil
from collections.abc import Callable
from pathlib import Path

from davfiles.store.blobs import make_dir, new_trash_dir, remove_tree
from davfiles.store.journal import Journal

log = logging.getLogger(__name__)


class DiskChanges:
    """The disk steps of one transaction: ``discard_done`` after its commit, ``undo`` after a
    rollback."""

    def __init__(self, staging_dir: Path, journal: Journal) -> None:
        self._staging_dir = staging_dir
        self._journal = journal
        self._undo: list[Callable[[], None]] = []
        self._trash: list[Path] = []
        self._after_commit: list[Callable[[], None]] = []

    def remove(self, path: Path) -> None:
        """Take the file or folder at ``path`` away at once; it is deleted after the commit."""
        if not os.path.lexists(path):
            return
        aside = new_trash_dir(self._staging_dir)
        self._trash.append(aside)
        self._journal.log("remove", path=path, aside=aside)
        os.replace(path, aside / "x")
        self._undo.append(lambda: os.replace(aside / "x", path))

    def replace_file(self, install: Callable[[Path], None], target: Path) -> None:
        """Run ``install``, which atomically replaces the file at ``target`` (or creates it).

        A hard link keeps the old file until the commit, so readers see the old file until
        the replace and an undo puts it back; a new file is removed by an undo.
        """
        kept: Path | None = None
        aside: Path | None = None
        if os.path.lexists(target):
            aside = new_trash_dir(self._staging_dir)
            kept = aside / "x"
            self._trash.append(aside)
        self._journal.log("replace", path=target, aside=aside)
        if kept is not None:
            os.link(target, kept)
        try:
            install(target)
        except BaseException:
            if kept is not None:
                kept.unlink()
            raise
        if kept is None:
            self._undo.append(lambda: target.unlink(missing_ok=True))
        else:
            self._undo.append(lambda: os.replace(kept, target))

    def rename(self, source: Path, target: Path) -> None:
        self._journal.log("rename", source=source, target=target)
        os.rename(source, target)
        self._undo.append(lambda: os.rename(target, source))

    def rename_to_free(self, source: Path, target: Path) -> None:
        """``rename`` onto a path that must be free: never replaces what another entry left
        there (a rename would silently overwrite a file or an empty folder)."""
        if os.path.lexists(target):
            raise FileExistsError(errno.EEXIST, "the target of a rename exists", str(target))
        self.rename(source, target)

    def after_commit(self, step: Callable[[], None]) -> None:
        """Run ``step`` once the transaction committed (audit lines of what it removed)."""
        self._after_commit.append(step)

    def link(self, existing: Path, new: Path) -> None:
        """Give the file at ``existing`` a second name (a version keeps replaced content)."""
        self._journal.log("link", path=new)
        os.link(existing, new)
        self._undo.append(lambda: new.unlink(missing_ok=True))

    def make_dir(self, path: Path) -> None:
        """Create the folder at ``path`` (a restore recreates missing parents)."""
        self._journal.log("make_dir", path=path)
        make_dir(path)
        self._undo.append(lambda: path.rmdir())

    def install(self, staged: Path, target: Path) -> None:
        """Move a tree built in the staging folder to ``target``, which must be free."""
        self._journal.log("install", path=target)
        os.replace(staged, target)
        self._undo.append(lambda: remove_tree(target, self._staging_dir))

    def discard_done(self) -> None:
        """The transaction committed: delete what was removed."""
        for aside in self._trash:
            shutil.rmtree(aside, ignore_errors=True)
        self._trash.clear()
        self._undo.clear()
        self._journal.close(committed=True)
        steps, self._after_commit = self._after_commit, []
        for step in steps:
            step()

    def undo(self) -> None:
        """The transaction rolled back: undo every step, the last one first."""
        for step in reversed(self._undo):
            try:
                step()
            except OSError:
                # Keep undoing the others; fsck reports what could not be put back.
                log.exception("could not undo a disk change of a failed transaction")
        self._undo.clear()
        self._after_commit.clear()
        for aside in self._trash:
            # Empty once put back; one that is not keeps what could not be restored.
            with contextlib.suppress(OSError):
                aside.rmdir()
        self._trash.clear()
        self._journal.close(committed=False)
