"""Write-ahead journal of a store write's disk steps: a killed process leaves no torn state.

A store write changes the disk inside its database transaction, before the commit
(``DiskChanges``). Each step is appended to a journal file in the staging folder before it
is taken, and the transaction adds a ``disk_journal`` row with the journal's token: the row
exists exactly when the write committed. After the commit the removed trees are deleted, then
the journal; after a rollback the steps are undone, then the journal is deleted.

A process killed (SIGKILL, the out-of-memory killer) anywhere in between leaves its journal
(not synced to disk: a power cut in the middle of a write is not covered).
``recover`` finishes it once its writer is dead: it deletes what a committed write removed,
or undoes the steps of one that never committed, the last first, so the disk matches the
records again, old state or new. The start-up check runs it before sweeping the staging
folder, ``davfiles fsck --repair`` and the retention keeper run it too. A commit mark whose
journal is gone is garbage: the next write of the same process deletes it, ``recover`` any
that are left.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import os
import secrets
import shutil
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam, delete, insert, select
from sqlalchemy.orm import Session

from davfiles.db.models import DiskJournal
from davfiles.db.prepared import Prepared
from davfiles.store import nodes
from davfiles.store.blobs import remove_tree

if TYPE_CHECKING:
    from davfiles.store.store import Store

log = logging.getLogger(__name__)

PREFIX = "journal-"
# A commit mark younger than this may belong to a journal created after the folder was
# listed (clocks of servers sharing the data dir may differ a little): it is kept.
MARK_GRACE = 60.0
# A journal without a header is a write killed as it began, or one beginning right now.
EMPTY_GRACE = 60.0


@functools.cache
def _own_start(pid: int) -> str | None:
    """This process's start time (a forked child has another pid)."""
    return _process_start(pid)


def _process_start(pid: int) -> str | None:
    """The start time of a running process (``/proc``), None once it is gone or a zombie."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2 :].split()
    return None if fields[0] in ("Z", "X") else fields[19]


def _pid_namespace() -> int:
    """Process ids name processes only within their pid namespace (containers with the same
    host name may share a data dir)."""
    try:
        return os.stat("/proc/self/ns/pid").st_ino
    except OSError:
        return 0


_HOST = socket.gethostname()
_NAMESPACE = _pid_namespace()
# Tokens of this process's committed journals whose marks are garbage now (list operations
# are atomic between threads).
_FINISHED: list[str] = []
# At most this many of them are deleted by one write.
FINISHED_BATCH = 32
# Every write runs it: on the driver's cursor (``Prepared``).
_MARK = Prepared(
    insert(DiskJournal).values(token=bindparam("token"), created_at=bindparam("created_at"))
)
_UNMARK = Prepared(delete(DiskJournal).where(DiskJournal.token == bindparam("token")))


class Journal:
    """The journal file of one transaction, created at its first disk step."""

    def __init__(self, staging_dir: Path, owner_id: int, session: Session) -> None:
        self._staging_dir = staging_dir
        self._owner_id = owner_id
        self._session = session
        self._fd: int | None = None
        self.path: Path | None = None

    def log(self, step: str, **paths: Path | None) -> None:
        """Record a step before it is taken (the journal and the commit mark on the first)."""
        if self._fd is None:
            self._begin()
        assert self._fd is not None
        line = {"step": step, **{key: str(path) if path else None for key, path in paths.items()}}
        os.write(self._fd, (json.dumps(line) + "\n").encode())

    def _begin(self) -> None:
        token = secrets.token_hex(16)
        self.path = self._staging_dir / f"{PREFIX}{token}"
        self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o600)
        header = {
            "owner": self._owner_id,
            "host": _HOST,
            "namespace": _NAMESPACE,
            "pid": os.getpid(),
            "start": _own_start(os.getpid()),
        }
        os.write(self._fd, (json.dumps(header) + "\n").encode())
        # On the session's connection, statements built once: the ORM's unit of work cost
        # more than the rest of the journal.
        connection = self._session.connection()
        _MARK.run(connection, {"token": token, "created_at": time.time()})
        # The marks of this process's finished journals go with this transaction; if it rolls
        # back, they stay until ``recover`` collects them.
        batch: list[str] = []
        with contextlib.suppress(IndexError):  # another thread took the rest
            while len(batch) < FINISHED_BATCH:
                batch.append(_FINISHED.pop())
        # Mostly one (the previous write's): a fixed statement per token is cheaper than
        # compiling an IN list of the batch's length.
        for finished in batch:
            _UNMARK.run(connection, {"token": finished})

    def close(self, *, committed: bool) -> None:
        """The steps are finished (deleted or undone): the journal goes, and the commit mark
        with the next write."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        if self.path is not None:
            self.path.unlink(missing_ok=True)
            if committed:
                _FINISHED.append(self.path.name[len(PREFIX) :])


@dataclass(frozen=True)
class _Found:
    path: Path
    token: str
    owner_id: int
    steps: list[dict[str, Any]]


def _read(path: Path) -> _Found | None:
    """A journal's header and steps; a line cut by the kill was never acted on."""
    lines = []
    for raw in path.read_bytes().split(b"\n"):
        try:
            lines.append(json.loads(raw))
        except ValueError:
            break
    if not lines:
        return None
    header = lines[0]
    start = header.get("start")
    elsewhere = (header.get("host"), header.get("namespace")) != (_HOST, _NAMESPACE)
    if elsewhere or (start and _process_start(header["pid"]) == start):
        # Another host's (or container's), or its writer still runs: that writer finishes it.
        return None
    return _Found(path, path.name[len(PREFIX) :], int(header["owner"]), lines[1:])


def interrupted(store: Store, owner_id: int | None = None) -> list[_Found]:
    """The journals of dead writers (of one owner's writes, or of all) that ``recover``
    would finish."""
    found = []
    for path in sorted(store.staging_dir.glob(f"{PREFIX}*")):
        try:
            journal = _read(path)
        except FileNotFoundError:
            continue
        if journal is not None and owner_id in (None, journal.owner_id):
            found.append(journal)
    return found


def recover(store: Store, owner_id: int | None = None) -> list[tuple[int, str]]:
    """Finish the journals of dead writers; answer the owner and a line for each."""
    listed_at = time.time()
    paths = sorted(store.staging_dir.glob(f"{PREFIX}*"))
    done = [_finish(store, journal) for journal in interrupted(store, owner_id)]
    for path in paths:
        if _empty_and_old(path):
            path.unlink(missing_ok=True)
    tokens = {path.name[len(PREFIX) :] for path in paths}
    with store.db.write() as session:
        session.execute(
            delete(DiskJournal).where(
                DiskJournal.created_at < listed_at - MARK_GRACE, DiskJournal.token.not_in(tokens)
            )
        )
    return done


def _empty_and_old(path: Path) -> bool:
    try:
        status = path.stat()
    except FileNotFoundError:
        return False
    return status.st_size == 0 and status.st_mtime < time.time() - EMPTY_GRACE


def _finish(store: Store, found: _Found) -> tuple[int, str]:
    """Complete or undo one dead writer's steps, under its owner's lock (no write of the
    owner runs meanwhile)."""
    with store.db.write() as session:
        nodes.lock_owner(session, found.owner_id)
        committed = session.scalar(
            select(DiskJournal.token).where(DiskJournal.token == found.token)
        )
        if committed:
            for step in found.steps:
                if step.get("aside"):
                    shutil.rmtree(step["aside"], ignore_errors=True)
        else:
            for step in reversed(found.steps):
                _undo(store, step)
        session.execute(delete(DiskJournal).where(DiskJournal.token == found.token))
        found.path.unlink(missing_ok=True)
    what = "completed" if committed else "undone"
    return found.owner_id, f"a write killed after {len(found.steps)} disk steps, {what}"


def _undo(store: Store, step: dict[str, Any]) -> None:
    """Undo one step if it was taken; each undo checks the disk first, so it is idempotent."""
    kind = step["step"]
    path = Path(step["path"]) if step.get("path") else None
    try:
        if kind in ("remove", "replace") and step.get("aside"):
            aside = Path(step["aside"])
            kept = aside / "x"
            assert path is not None
            if os.path.lexists(kept) and (kind == "replace" or not os.path.lexists(path)):
                os.replace(kept, path)
            with contextlib.suppress(OSError):
                aside.rmdir()
        elif kind in ("replace", "install") and path is not None and os.path.lexists(path):
            remove_tree(path, store.staging_dir)
        elif kind == "rename":
            source, target = Path(step["source"]), Path(step["target"])
            if os.path.lexists(target) and not os.path.lexists(source):
                os.rename(target, source)
        elif kind == "link" and path is not None:
            path.unlink(missing_ok=True)
        elif kind == "make_dir" and path is not None:
            with contextlib.suppress(OSError):
                path.rmdir()
    except OSError:
        log.exception("could not undo a disk step of an interrupted write: %s", step)
