"""SIGKILL at every step of a delete, an overwrite (one evicting trash for room), a MOVE over a
file, the MOVE of Word's save that gives a document its content back, a restore and a purge.

Each operation runs in a forked child on its own copy of a prepared data dir (real SQLite,
real files). The child counts its file system calls and its database commits and kills
itself with SIGKILL right before the N-th one, for N = 1, 2, ... until the operation
completes: a kill between every two disk steps, between the last one and the commit, and
between the commit and the clean-up. After each kill the parent restarts as a server does
(sweep of the staging folder, which finishes the write's journal, and the start-up check), and
the home, trash, versions and usage must be exactly those before the operation or those after
it, usage equal to the disk, and ``fsck`` with hashes clean.
"""

from __future__ import annotations

import os
import shutil
import signal
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from davfiles.app import Services, create_services
from davfiles.config import Settings
from davfiles.db.models import DiskJournal, FileVersion, TrashItem
from davfiles.store import Owner, Store
from davfiles.store.fsck import INTERRUPTED, USAGE, Repair
from davfiles.store.paths import parse_user_path
from tests.kept import disk_bytes
from tests.test_cli import davfiles

# Far more steps than any of these operations takes: every loop ends.
MAX_KILL_POINTS = 60
WATCHED = ("replace", "rename", "link", "unlink", "rmdir", "mkdir")


def p(text: str) -> Any:
    return parse_user_path(text)


def settings_for(data_dir: Path) -> Settings:
    return Settings(data_dir=data_dir, versions_coalesce_seconds=0)


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A home with versions, folders, a temporary, two trash items and a Word save half-way;
    another user's home full but for its trash."""
    data_dir = tmp_path_factory.mktemp("kill-points") / "base"
    services = create_services(settings_for(data_dir))
    try:
        owner = services.accounts.add_user("kim", "pw", max_bytes=None, max_files=None)
        store = services.store
        store.mkdir(owner, p("/docs"))
        store.write_bytes(owner, p("/docs/a.txt"), b"first a")
        store.write_bytes(owner, p("/docs/a.txt"), b"second a")
        store.write_bytes(owner, p("/docs/b.txt"), b"bee")
        store.write_bytes(owner, p("/~$a.tmp"), b"owner file")
        store.mkdir(owner, p("/deep"))
        store.mkdir(owner, p("/deep/old"))
        store.write_bytes(owner, p("/deep/old/x.txt"), b"old x")
        store.write_bytes(owner, p("/deep/old/x.txt"), b"newer x")
        store.delete(owner, p("/deep/old"))
        store.delete(owner, p("/deep"))
        # Word's save, half-way: the document renamed away, the new content beside it.
        store.write_bytes(owner, p("/report.docx"), b"report one")
        store.write_bytes(owner, p("/~WRD0000.tmp"), b"report two")
        store.move(owner, p("/report.docx"), p("/~WRL0001.tmp"), overwrite=False)
        # A user whose next overwrite must evict the trash for room.
        tight = services.accounts.add_user("quo", "pw", max_bytes=100, max_files=None)
        store.write_bytes(tight, p("/gone.bin"), b"g" * 40)
        store.delete(tight, p("/gone.bin"))
        store.write_bytes(tight, p("/big.bin"), b"o" * 30)
    finally:
        services.close()
    return data_dir


USERS = ("kim", "quo")
# The user each operation acts for, when not kim.
ACTS_FOR = {"overwrite evicting the trash": "quo"}


def owner_of(services: Services, operation: str = "") -> Owner:
    return services.accounts.owner(ACTS_FOR.get(operation, "kim"))


def trash_item(store: Store, owner: Owner, name: str) -> int:
    return next(entry.id for entry in store.trash_list(owner) if entry.name == name)


OPERATIONS: dict[str, Callable[[Store, Owner], object]] = {
    "delete a folder": lambda store, owner: store.delete(owner, p("/docs")),
    "delete a temporary": lambda store, owner: store.delete(owner, p("/~$a.tmp")),
    "overwrite": lambda store, owner: store.write_bytes(owner, p("/docs/a.txt"), b"third a"),
    "move over a file": lambda store, owner: store.move(
        owner, p("/docs/b.txt"), p("/docs/a.txt"), overwrite=True
    ),
    "word's rename into place": lambda store, owner: store.move(
        owner, p("/~WRD0000.tmp"), p("/report.docx"), overwrite=False
    ),
    "overwrite evicting the trash": lambda store, owner: store.write_bytes(
        owner, p("/big.bin"), b"n" * 70
    ),
    "restore": lambda store, owner: store.trash_restore(owner, trash_item(store, owner, "old")),
    "purge": lambda store, owner: store.trash_purge(owner),
}


def _tree(root: Path) -> dict[str, bytes | None]:
    """Every entry below ``root`` (None for a folder) with its bytes."""
    if root.is_file():
        return {"": root.read_bytes()}
    return {
        str(path.relative_to(root)): path.read_bytes() if path.is_file() else None
        for path in sorted(root.rglob("*"))
    }


def state(services: Services, owner: Owner) -> dict[str, Any]:
    """What a user can see and get back, ids included; not when things happened."""
    store = services.store
    home = store.home(owner)
    live = {
        str(info.path): (info.id, info.is_dir, info.size, info.sha1)
        for info in store.list_tree(owner, p("/"))
    }
    with services.db.read() as session:
        trash = _rows(session, TrashItem, owner, ("id", "node_id", "parent", "name", "size"))
        kept = _rows(session, FileVersion, owner, ("id", "node_id", "size", "sha1", "label"))
    figures = store.usage(owner)
    return {
        "live": live,
        "bytes": _tree(home),
        "trash": trash,
        "trash bytes": {
            entry.id: _tree(store.trash_dir / str(owner.id) / entry.disk_name)
            for entry in store.trash_list(owner)
        },
        "versions": kept,
        "version bytes": {
            version.id: (store.versions_dir / str(owner.id) / version.disk_name).read_bytes()
            for node_id in {row[1] for row in kept}
            for version in store.versions_of(owner, node_id)
        },
        "usage": (figures.used_bytes, figures.used_files),
    }


def _rows(session: Session, model: Any, owner: Owner, columns: tuple[str, ...]) -> list[Any]:
    query = select(*(getattr(model, name) for name in columns)).where(model.owner_id == owner.id)
    return sorted(tuple(row) for row in session.execute(query.order_by(model.id)))


def _arm(kill_at: int) -> None:
    """Make the N-th file system call or commit of this process its last: SIGKILL first."""
    calls = iter(range(1, kill_at + 1))

    def counted(function: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            if next(calls, None) == kill_at:
                os.kill(os.getpid(), signal.SIGKILL)
            return function(*args, **kwargs)

        return call

    for name in WATCHED:
        setattr(os, name, counted(getattr(os, name)))
    shutil.rmtree = counted(shutil.rmtree)  # type: ignore[assignment]
    Session.commit = counted(Session.commit)  # type: ignore[method-assign]


def run_killed(data_dir: Path, operation: str, kill_at: int) -> bool:
    """Run the operation in a child killed at its ``kill_at``-th step; False if it ended first."""
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        code = 1
        try:
            services = create_services(settings_for(data_dir))
            owner = owner_of(services, operation)
            _arm(kill_at)
            OPERATIONS[operation](services.store, owner)
            code = 0
        except BaseException:
            traceback.print_exc()
        finally:
            os._exit(code)
    _pid, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        assert os.WTERMSIG(status) == signal.SIGKILL
        return True
    assert os.WEXITSTATUS(status) == 0, f"{operation} failed in the child"
    return False


@contextmanager
def opened(data_dir: Path) -> Iterator[tuple[Services, Owner]]:
    services = create_services(settings_for(data_dir))
    try:
        yield services, owner_of(services)
    finally:
        services.close()


def restart(services: Services, *, fsck_first: bool, user: str = "kim") -> None:
    """What follows a crash: ``davfiles fsck --repair`` (if asked), then a server's start,
    which sweeps the staging folder and recounts usage; then everything must be clean."""
    store = services.store
    if fsck_first:
        journals = list(store.staging_dir.glob("journal-*"))
        reported = [f for f in store.fsck().findings if f.kind == INTERRUPTED]
        assert [(f.user, f.repaired) for f in reported] == [(user, False)] * len(journals)
        report = store.fsck(repair=Repair.ALL)
        assert {finding.kind for finding in report.findings} <= {INTERRUPTED, USAGE}
        assert all(f.repaired for f in report.findings if f.kind == INTERRUPTED)
    store.sweep_staging()
    assert {finding.kind for finding in store.fsck(repair=Repair.USAGE).findings} <= {USAGE}
    assert store.fsck(hashes=True).findings == []


def checked_state(data_dir: Path) -> dict[str, Any]:
    """Every user's state, each with its usage equal to the disk."""
    found = {}
    with opened(data_dir) as (services, _owner):
        for name in USERS:
            owner = services.accounts.owner(name)
            found[name] = state(services, owner)
            assert found[name]["usage"][0] == disk_bytes(services, owner)
    return found


@pytest.mark.parametrize("operation", OPERATIONS)
def test_a_kill_anywhere_leaves_the_old_or_the_new_state(
    base: Path, tmp_path: Path, operation: str
) -> None:
    old = checked_state(base)
    done = tmp_path / "done"
    shutil.copytree(base, done)
    assert not run_killed(done, operation, MAX_KILL_POINTS), "more steps than MAX_KILL_POINTS"
    new = checked_state(done)
    assert new != old
    outcomes = []
    for kill_at in range(1, MAX_KILL_POINTS):
        attempt = tmp_path / f"kill-{kill_at}"
        shutil.copytree(base, attempt)
        if not run_killed(attempt, operation, kill_at):
            break
        with opened(attempt) as (services, _owner):
            restart(services, fsck_first=kill_at % 2 == 0, user=owner_of(services, operation).name)
        after = checked_state(attempt)
        assert after in (old, new), f"killed at step {kill_at}"
        outcomes.append("new" if after == new else "old")
        shutil.rmtree(attempt)
    # Killed before its commit the operation left nothing; killed after it, all of it.
    assert outcomes[0] == "old" and outcomes[-1] == "new"
    assert outcomes == sorted(outcomes, key=("old", "new").index)


def test_commit_marks_do_not_pile_up(services: Services) -> None:
    """Each write deletes the marks of the journals its process finished before."""
    owner = services.accounts.add_user("many", "pw", max_bytes=None, max_files=None)
    for number in range(150):
        services.store.write_bytes(owner, p(f"/f{number % 3}"), b"%d" % number)
    services.store.delete(owner, p("/f0"))
    with services.db.read() as session:
        marks = session.scalars(select(DiskJournal.token)).all()
    assert len(marks) == 1
    assert list(services.store.staging_dir.iterdir()) == []


def test_davfiles_fsck_reports_and_finishes_an_interrupted_write(
    base: Path, tmp_path: Path
) -> None:
    """The command line: ``davfiles fsck`` names the killed write, ``--repair`` finishes it,
    and after a start's sweep everything agrees."""
    for kill_at in range(1, MAX_KILL_POINTS):
        attempt = tmp_path / f"kill-{kill_at}"
        shutil.copytree(base, attempt)
        assert run_killed(attempt, "overwrite", kill_at), "the overwrite left no journal"
        if list((attempt / "tmp").glob("journal-*")):
            break
    reported = davfiles(attempt, "fsck")
    assert reported.returncode != 0
    assert "kim: interrupted-write: a write killed after" in reported.stdout
    repaired = davfiles(attempt, "fsck", "--repair")
    assert "kim: interrupted-write" in repaired.stdout and "(repaired)" in repaired.stdout
    assert not list((attempt / "tmp").glob("journal-*"))
    with opened(attempt) as (services, _owner):
        restart(services, fsck_first=False)
    assert checked_state(attempt) == checked_state(base)
