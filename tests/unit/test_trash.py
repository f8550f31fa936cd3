"""Trash and versions in the store, on a real database and disk: what a delete or an overwrite
keeps, how it counts, how it comes back, what makes room, what the retention purges."""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import func, select

from davfiles.app import Services, create_services
from davfiles.config import Settings
from davfiles.db.models import FileVersion, TrashItem
from davfiles.errors import NotFound, QuotaExceeded
from davfiles.store import ROOT, Owner, parse_user_path
from davfiles.store.fsck import MISSING_ON_DISK, NOT_RECORDED, Repair
from davfiles.store.retention import DAY, PURGE_LEASE, take_lease, thin
from davfiles.store.versions import VersionInfo


def p(text: str):  # noqa: ANN201 - short helper for readability
    return parse_user_path(text)


@pytest.fixture
def owner(services: Services) -> Owner:
    return services.accounts.add_user("alice", "pw", max_bytes=1000, max_files=10)


def disk_bytes(folder: Path) -> int:
    return sum(item.stat().st_size for item in folder.rglob("*") if item.is_file())


def audit_lines(services: Services) -> list[dict[str, str]]:
    """The purge lines of the audit log."""
    path = services.settings.effective_audit_log
    lines = [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []
    return [line for line in lines if line["event"] in ("trash.purge", "version.purge")]


def test_a_deleted_file_comes_back_with_its_id_flag_properties_and_inode(
    services: Services, owner: Owner
) -> None:
    store = services.store
    store.mkdir(owner, p("/docs"))
    info = store.write_bytes(owner, p("/docs/a.txt"), b"hello")
    store.set_public(owner, info.id, True)
    store.set_dead_property(owner, p("/docs/a.txt"), "{urn:x}color", b"red")
    inode = (store.home(owner) / "docs" / "a.txt").stat().st_ino
    store.delete(owner, p("/docs/a.txt"))
    assert store.list_dir(owner, p("/docs")) == []
    assert store.public_file(info.id) is None
    [entry] = store.trash_list(owner)
    assert (entry.original_path, entry.size, entry.files, entry.node_id) == (
        p("/docs/a.txt"),
        5,
        1,
        info.id,
    )
    # Renamed, not copied, and outside the home.
    trashed = store.trash_dir / str(owner.id) / entry.disk_name
    assert trashed.stat().st_ino == inode
    assert store.usage(owner).used_files == 0
    restored = store.trash_restore(owner, entry.id)
    assert (restored.id, restored.path, restored.public) == (info.id, p("/docs/a.txt"), True)
    assert store.dead_properties(owner, p("/docs/a.txt")) == {"{urn:x}color": b"red"}
    assert (store.home(owner) / "docs" / "a.txt").stat().st_ino == inode
    assert store.trash_list(owner) == []
    usage = store.usage(owner)
    assert (usage.used_bytes, usage.used_files) == (5, 1)


def test_a_folder_comes_back_whole_with_missing_parents_and_a_free_name(
    services: Services, owner: Owner
) -> None:
    store = services.store
    store.ensure_dirs(owner, p("/a/b/c"))
    inner = store.write_bytes(owner, p("/a/b/c/f.txt"), b"12345")
    folder = store.stat(owner, p("/a/b"))
    assert folder is not None
    store.delete(owner, p("/a/b"))
    store.delete(owner, p("/a"))
    store.write_bytes(owner, p("/elsewhere"), b"x")
    [top, sub] = store.trash_list(owner)  # newest first
    assert (top.original_path, sub.original_path) == (p("/a"), p("/a/b"))
    store.trash_restore(owner, sub.id)
    # /a was recreated (a new folder), and b came back with its ids below it.
    assert store.stat(owner, p("/a/b")) == replace(folder, tree_version=folder.tree_version + 1)
    restored_inner = store.stat(owner, p("/a/b/c/f.txt"))
    assert restored_inner is not None and restored_inner.id == inner.id
    # The old /a comes back beside the new one.
    info = store.trash_restore(owner, top.id)
    assert info.path == p("/a (restored)")
    assert store.usage(owner).used_files == 2
    assert disk_bytes(store.home(owner)) == 6
    assert store.fsck(owner).clean


def test_a_taken_name_gets_restored_then_a_number(services: Services, owner: Owner) -> None:
    store = services.store
    for _ in range(3):
        store.write_bytes(owner, p("/report.pdf"), b"r")
        store.delete(owner, p("/report.pdf"))
    store.write_bytes(owner, p("/report.pdf"), b"live")
    names = [store.trash_restore(owner, e.id).name for e in reversed(store.trash_list(owner))]
    assert names == ["report (restored).pdf", "report (restored 2).pdf", "report (restored 3).pdf"]


@pytest.mark.parametrize("name", ["~$report.docx", ".~lock.a.odt#", "x.tmp", "._x", ".DS_Store"])
def test_temporaries_skip_the_trash(services: Services, owner: Owner, name: str) -> None:
    store = services.store
    store.write_bytes(owner, p("/" + name), b"temp")
    store.delete(owner, p("/" + name))
    assert store.trash_list(owner) == []
    assert store.usage(owner).used_bytes == 0


def test_trash_off_deletes_for_good(settings: Settings) -> None:
    services = create_services(replace(settings, trash_enabled=False))
    try:
        owner = services.accounts.add_user("bob", "pw", max_bytes=None, max_files=None)
        services.store.write_bytes(owner, p("/f"), b"gone")
        services.store.delete(owner, p("/f"))
        assert services.store.trash_list(owner) == []
        assert services.store.usage(owner).used_bytes == 0
        assert disk_bytes(services.store.trash_dir) == 0
    finally:
        services.close()


def test_an_overwrite_keeps_a_version_unless_unchanged_or_coalesced(
    services: Services, owner: Owner
) -> None:
    store = services.store
    info = store.write_bytes(owner, p("/f"), b"one")
    store.write_bytes(owner, p("/f"), b"one")  # same SHA-1: nothing kept
    assert store.versions_of(owner, info.id) == []
    store.write_bytes(owner, p("/f"), b"two")
    store.write_bytes(owner, p("/f"), b"three")  # within the window: coalesced
    [version] = store.versions_of(owner, info.id)
    assert (version.size, version.author) == (3, "alice")
    path = store.versions_dir / str(owner.id) / version.disk_name
    assert path.read_bytes() == b"one"
    assert store.usage(owner).used_bytes == 3 + 5
    restored = store.version_restore(owner, version.id)
    assert restored.id == info.id
    assert (store.home(owner) / "f").read_bytes() == b"one"
    # The restore kept what it replaced, whatever the window.
    assert [v.size for v in store.versions_of(owner, info.id)] == [5, 3]


def test_versions_travel_with_their_file_into_the_trash_and_back(
    services: Services, owner: Owner
) -> None:
    store = services.store
    info = store.write_bytes(owner, p("/f"), b"old")
    store.write_bytes(owner, p("/f"), b"new!")
    store.move(owner, p("/f"), p("/g"), overwrite=False)
    store.delete(owner, p("/g"))
    [entry] = store.trash_list(owner)
    assert (entry.size, entry.version_bytes) == (4, 3)
    store.trash_restore(owner, entry.id)
    assert [v.size for v in store.versions_of(owner, info.id)] == [3]
    store.delete(owner, p("/g"))
    store.trash_purge(owner)
    assert store.versions_of(owner, info.id) == []
    assert store.usage(owner).used_bytes == 0
    assert disk_bytes(store.versions_dir) + disk_bytes(store.trash_dir) == 0


def test_a_write_evicts_trash_oldest_first_then_versions_and_never_pinned_data(
    services: Services, owner: Owner
) -> None:
    store = services.store
    store.write_bytes(owner, p("/old"), b"o" * 200)
    store.write_bytes(owner, p("/newer"), b"n" * 200)
    store.delete(owner, p("/old"))
    store.delete(owner, p("/newer"))
    live = store.write_bytes(owner, p("/live"), b"1" * 150)
    store.write_bytes(owner, p("/live"), b"2" * 150)  # version of 150
    [pinned] = store.versions_of(owner, live.id)
    store.version_label(owner, pinned.id, "signed copy")
    with services.db.write() as session:  # out of the coalescing window
        session.execute(FileVersion.__table__.update().values(created_at=0))
    store.write_bytes(owner, p("/live"), b"3" * 150)  # another version of 150
    assert store.usage(owner).used_bytes == 400 + 150 * 3
    # 250 more need 100: the oldest trash item goes.
    store.write_bytes(owner, p("/big"), b"b" * 250)
    assert [e.name for e in store.trash_list(owner)] == ["newer"]
    # 200 more need 100: the newer one goes; the versions stay.
    store.write_bytes(owner, p("/more"), b"m" * 200)
    assert store.trash_list(owner) == []
    assert len(store.versions_of(owner, live.id)) == 2
    # 150 more need 50: the unpinned version goes, the labelled one stays.
    store.write_bytes(owner, p("/most"), b"m" * 150)
    assert [v.label for v in store.versions_of(owner, live.id)] == ["signed copy"]
    usage = store.usage(owner)
    assert (usage.used_bytes, usage.reclaimable_bytes, usage.available_bytes) == (900, 0, 100)
    # Live files and the pinned version fill the rest: refused, nothing evicted.
    with pytest.raises(QuotaExceeded):
        store.write_bytes(owner, p("/toomuch"), b"t" * 101)
    assert [v.label for v in store.versions_of(owner, live.id)] == ["signed copy"]
    assert disk_bytes(store.home(owner)) + disk_bytes(store.versions_dir) == 900


def test_permanent_delete_of_one_item_or_all(services: Services, owner: Owner) -> None:
    store = services.store
    for name in ("a", "b", "c"):
        store.write_bytes(owner, p("/" + name), b"x" * 10)
        store.delete(owner, p("/" + name))
    [c, b, a] = store.trash_list(owner)
    assert [e.name for e in store.trash_purge(owner, [b.id], services.audit)] == ["b"]
    assert [e.name for e in store.trash_list(owner)] == ["c", "a"]
    assert store.usage(owner).used_bytes == 20
    assert len(store.trash_purge(owner, None, services.audit)) == 2
    assert store.usage(owner).used_bytes == 0
    targets = [line["target"] for line in audit_lines(services)]
    assert targets == ["/b (deleted by hand)", "/a (deleted by hand)", "/c (deleted by hand)"]
    with pytest.raises(NotFound):
        store.trash_restore(owner, a.id)


def version(number: int, created_at: float, label: str | None = None) -> VersionInfo:
    return VersionInfo(number, 1, 1, None, None, created_at, created_at, "alice", label, "")


def test_thinning_keeps_the_newest_then_one_per_hour_day_and_week() -> None:
    from davfiles.store.retention import Keeping

    now = 1000 * DAY
    keeping = Keeping(versions_keep_last=2, versions_max_age_days=100)
    history = [
        version(9, now - 10),
        version(8, now - 20),  # the two newest are kept whatever their age
        version(7, now - 30),  # this hour's first
        version(6, now - 40),  # same hour: thinned
        version(5, now - 2 * DAY - 10, label="keep"),
        version(4, now - 2 * DAY),  # another day
        version(3, now - 2 * DAY + 5),  # same day: thinned
        version(2, now - 50 * DAY),
        version(1, now - 200 * DAY),  # older than the maximum age
    ]
    doomed = {v.id: reason for v, reason in thin(history, keeping, now)}
    assert doomed == {6: "thinned", 3: "thinned", 1: "older than 100 days"}


def test_the_retention_purges_old_trash_and_versions_with_reasons(
    services: Services, owner: Owner
) -> None:
    store = services.store
    info = store.write_bytes(owner, p("/f"), b"a")
    store.write_bytes(owner, p("/f"), b"b")
    store.write_bytes(owner, p("/gone"), b"g")
    store.delete(owner, p("/gone"))
    store.write_bytes(owner, p("/recent"), b"r")
    with services.db.write() as session:
        session.execute(TrashItem.__table__.update().values(deleted_at=1.0))
        session.execute(FileVersion.__table__.update().values(created_at=1.0))
    store.delete(owner, p("/recent"))
    removed = store.purge_expired(services.audit)
    # The old trash item goes; the one version of /f is among the newest kept.
    assert removed == 1
    assert [e.name for e in store.trash_list(owner)] == ["recent"]
    assert len(store.versions_of(owner, info.id)) == 1
    [line] = audit_lines(services)
    assert (line["event"], line["user"]) == ("trash.purge", "alice")
    assert line["target"] == "/gone (in the trash for more than 30 days)"
    assert store.usage(owner).used_bytes == 3


def test_one_holder_of_the_purge_lease_at_a_time(services: Services) -> None:
    db = services.db
    assert take_lease(db, PURGE_LEASE, "a", 60, now=100)
    assert not take_lease(db, PURGE_LEASE, "b", 60, now=120)
    assert take_lease(db, PURGE_LEASE, "a", 60, now=130)  # renewed by its holder
    assert take_lease(db, PURGE_LEASE, "b", 60, now=191)  # expired: taken over


def test_a_restore_whose_rename_fails_leaves_the_item_in_the_trash(
    services: Services, owner: Owner
) -> None:
    store = services.store
    store.write_bytes(owner, p("/f"), b"data")
    store.delete(owner, p("/f"))
    [entry] = store.trash_list(owner)
    trashed = store.trash_dir / str(owner.id) / entry.disk_name
    os.rename(trashed, trashed.with_name("elsewhere"))
    with pytest.raises(FileNotFoundError):
        store.trash_restore(owner, entry.id)
    assert store.stat(owner, p("/f")) is None
    assert [e.id for e in store.trash_list(owner)] == [entry.id]
    assert store.usage(owner).used_files == 0
    os.rename(trashed.with_name("elsewhere"), trashed)
    assert store.trash_restore(owner, entry.id).path == p("/f")


def test_fsck_checks_trash_and_versions_against_the_disk(services: Services, owner: Owner) -> None:
    store = services.store
    info = store.write_bytes(owner, p("/f"), b"one")
    store.write_bytes(owner, p("/f"), b"two!")
    store.write_bytes(owner, p("/t"), b"trash")
    store.delete(owner, p("/t"))
    assert store.fsck(owner).clean
    [entry] = store.trash_list(owner)
    [kept] = store.versions_of(owner, info.id)
    (store.trash_dir / str(owner.id) / entry.disk_name).unlink()
    (store.versions_dir / str(owner.id) / kept.disk_name).unlink()
    (store.versions_dir / str(owner.id) / "stray").write_bytes(b"?")
    report = store.fsck(owner, repair=Repair.ALL)
    kinds = sorted((f.path, f.kind, f.repaired) for f in report.findings if f.kind != "usage")
    assert kinds == sorted(
        [
            (f"trash {entry.id} (/t)", MISSING_ON_DISK, True),
            ("versions stray", NOT_RECORDED, False),
            (f"version {kept.id} of file {info.id}", MISSING_ON_DISK, True),
        ]
    )
    assert store.trash_list(owner) == [] and store.versions_of(owner, info.id) == []
    assert store.usage(owner).used_bytes == 4
    with services.db.read() as session:
        assert session.scalar(select(func.count()).select_from(TrashItem)) == 0
    assert store.list_dir(owner, ROOT)[0].name == "f"


def test_trash_and_restore_keep_folder_sizes_and_change_folder_etags(
    services: Services, owner: Owner
) -> None:
    store = services.store
    store.ensure_dirs(owner, p("/a/b"))
    store.write_bytes(owner, p("/a/b/f"), b"x" * 10)
    store.write_bytes(owner, p("/a/g"), b"y" * 5)

    def folder(path: str) -> tuple[int, str]:
        info = store.stat(owner, p(path))
        assert info is not None
        return info.tree_size, info.etag

    before = folder("/a")
    store.delete(owner, p("/a/b"))
    after_delete = folder("/a")
    assert after_delete[0] == 5 and after_delete[1] != before[1]
    assert folder("/")[0] == 5
    [entry] = store.trash_list(owner)
    store.trash_restore(owner, entry.id)
    assert (folder("/a")[0], folder("/a/b")[0], folder("/")[0]) == (15, 10, 15)
    assert folder("/a")[1] not in (before[1], after_delete[1])
    store.delete(owner, p("/a"))
    store.trash_restore(owner, store.trash_list(owner)[0].id)
    assert folder("/")[0] == 15
    assert store.fsck(owner).clean
