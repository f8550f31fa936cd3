"""What the trash and versions must never lose, on a real database and disk: versions of
temporaries' names, folders named like temporaries, leftovers of a crash, aborted uploads,
restores without room, lost bytes, fsck repairs, eviction audit lines."""

from __future__ import annotations

import contextvars
import json
import os
from collections.abc import Callable
from dataclasses import replace

import pytest
from sqlalchemy import event, func, select

from davfiles.app import Services, create_services
from davfiles.auth.audit import AuditScope
from davfiles.config import Settings
from davfiles.db.models import FileVersion, Node, TrashItem
from davfiles.errors import QuotaExceeded
from davfiles.store import Owner, UploadOptions, parse_user_path
from davfiles.store.fsck import MISSING_ON_DISK, NOT_RECORDED, ORPHAN_VERSION, Repair


def p(text: str):  # noqa: ANN201 - short helper for readability
    return parse_user_path(text)


@pytest.fixture
def owner(services: Services) -> Owner:
    return services.accounts.add_user("alice", "pw", max_bytes=1000, max_files=10)


def outside_window(services: Services) -> None:
    """Age every version past the coalescing window, so the next overwrite keeps one."""
    with services.db.write() as session:
        session.execute(FileVersion.__table__.update().values(created_at=0))


def as_request(services: Services, action: Callable[[], object]) -> None:
    """Run ``action`` as a request's work, so its audit lines are written, in a context of
    its own (the request's binding stays out of the other tests)."""

    def app(_environ: object, _start_response: object) -> list[bytes]:
        action()
        return []

    scope = AuditScope(app, services.audit)
    contextvars.copy_context().run(scope, {"REMOTE_ADDR": "127.0.0.1"}, lambda *_args: None)


def purge_lines(services: Services) -> list[dict[str, str]]:
    path = services.settings.effective_audit_log
    lines = [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []
    return [line for line in lines if line["event"] in ("trash.purge", "version.purge")]


def test_a_temporary_name_with_versions_goes_to_the_trash_with_them(
    services: Services, owner: Owner
) -> None:
    store = services.store
    info = store.write_bytes(owner, p("/doc.docx"), b"one")
    store.write_bytes(owner, p("/doc.docx"), b"two")
    [version] = store.versions_of(owner, info.id)
    store.version_label(owner, version.id, "signed")
    store.move(owner, p("/doc.docx"), p("/~WRL0001.tmp"), overwrite=False)
    store.delete(owner, p("/~WRL0001.tmp"))
    [entry] = store.trash_list(owner)
    assert (entry.name, entry.node_id, entry.pinned) == ("~WRL0001.tmp", info.id, True)
    assert [v.label for v in store.versions_of(owner, info.id)] == ["signed"]


@pytest.mark.parametrize("name", ["Photos.tmp", "._old", "~$folder"])
def test_a_folder_named_like_a_temporary_goes_to_the_trash(
    services: Services, owner: Owner, name: str
) -> None:
    store = services.store
    store.mkdir(owner, p("/" + name))
    store.write_bytes(owner, p(f"/{name}/photo.jpg"), b"jpeg")
    store.delete(owner, p("/" + name))
    [entry] = store.trash_list(owner)
    assert (entry.name, entry.files) == (name, 1)
    store.trash_restore(owner, entry.id)
    assert (store.home(owner) / name / "photo.jpg").read_bytes() == b"jpeg"


def test_temporaries_keep_no_versions(services: Services, owner: Owner) -> None:
    store = services.store
    info = store.write_bytes(owner, p("/.DS_Store"), b"one")
    store.write_bytes(owner, p("/.DS_Store"), b"two")
    assert store.versions_of(owner, info.id) == []


def test_with_the_trash_off_a_labelled_version_is_never_dropped(settings: Settings) -> None:
    services = create_services(replace(settings, trash_enabled=False))
    try:
        store = services.store
        owner = services.accounts.add_user("bob", "pw", max_bytes=None, max_files=None)
        info = store.write_bytes(owner, p("/f"), b"one")
        store.write_bytes(owner, p("/f"), b"two")
        [version] = store.versions_of(owner, info.id)
        store.version_label(owner, version.id, "keep")
        store.write_bytes(owner, p("/plain"), b"x")
        store.delete(owner, p("/plain"))
        store.delete(owner, p("/f"))
        assert [e.name for e in store.trash_list(owner)] == ["f"]
        assert [v.label for v in store.versions_of(owner, info.id)] == ["keep"]
    finally:
        services.close()


def test_leftovers_of_a_crash_break_no_later_write_and_fsck_reports_them(
    services: Services, owner: Owner
) -> None:
    """Entries named as the next ids would be (SQLite hands a rolled-back id out again)."""
    store = services.store
    store.write_bytes(owner, p("/warm"), b"w")
    store.delete(owner, p("/warm"))
    [warm] = store.trash_list(owner)
    store.trash_purge(owner)
    versions_folder = store.versions_dir / str(owner.id)
    trash_folder = store.trash_dir / str(owner.id)
    versions_folder.mkdir(parents=True, exist_ok=True)
    for number in range(1, 6):
        (versions_folder / str(number)).write_bytes(b"leftover")
        (trash_folder / str(warm.id + number)).mkdir()
        (trash_folder / str(warm.id + number) / "inside").write_bytes(b"leftover")
    info = store.write_bytes(owner, p("/f"), b"one")
    store.write_bytes(owner, p("/f"), b"two")
    store.mkdir(owner, p("/folder"))
    store.delete(owner, p("/folder"))
    store.delete(owner, p("/f"))
    assert sorted(e.name for e in store.trash_list(owner)) == ["f", "folder"]
    for entry in store.trash_list(owner):
        store.trash_restore(owner, entry.id)
    assert (store.home(owner) / "f").read_bytes() == b"two"
    [version] = store.versions_of(owner, info.id)
    assert (versions_folder / version.disk_name).read_bytes() == b"one"
    for number in range(1, 6):
        assert (trash_folder / str(warm.id + number) / "inside").read_bytes() == b"leftover"
    report = store.fsck(owner)
    leftovers = sorted(f.path for f in report.findings if f.kind == NOT_RECORDED)
    assert leftovers == sorted(
        [f"trash {warm.id + n}" for n in range(1, 6)] + [f"versions {n}" for n in range(1, 6)]
    )


def test_a_rename_to_free_never_replaces_what_is_there(services: Services, owner: Owner) -> None:
    home = services.store.home(owner)
    source, target = home / "source", home / "target"
    source.write_bytes(b"new")
    target.write_bytes(b"old")
    with pytest.raises(FileExistsError), services.store.changing(owner) as (_session, changes):
        changes.rename_to_free(source, target)
    assert (source.read_bytes(), target.read_bytes()) == (b"new", b"old")


def test_an_aborted_upload_destroys_no_trash(services: Services, owner: Owner) -> None:
    store = services.store
    store.write_bytes(owner, p("/old"), b"o" * 600)
    store.delete(owner, p("/old"))
    # Announced size: room only by evicting the trash, which waits for the commit.
    upload = store.upload(owner, p("/new"), UploadOptions(expected_size=600))
    upload.write(b"n" * 300)
    upload.abort()
    assert [e.name for e in store.trash_list(owner)] == ["old"]
    # Unknown length: the same for a body that grows past the free bytes.
    upload = store.upload(owner, p("/new"))
    upload.write(b"n" * 700)
    upload.abort()
    assert [e.name for e in store.trash_list(owner)] == ["old"]
    assert store.usage(owner).used_bytes == 600
    # More than eviction could free is refused before any byte.
    with pytest.raises(QuotaExceeded):
        store.upload(owner, p("/new"), UploadOptions(expected_size=1001))
    # A committed upload evicts, in its own transaction.
    with store.upload(owner, p("/new")) as upload:
        upload.write(b"n" * 700)
    assert store.trash_list(owner) == []
    usage = store.usage(owner)
    assert (usage.used_bytes, usage.used_files) == (700, 1)


def test_a_restore_without_room_for_the_current_content_changes_nothing(
    services: Services, owner: Owner
) -> None:
    store = services.store
    info = store.write_bytes(owner, p("/f"), b"a" * 400)
    store.write_bytes(owner, p("/f"), b"b" * 400)
    [version] = store.versions_of(owner, info.id)
    store.version_label(owner, version.id, "pinned")
    with pytest.raises(QuotaExceeded):
        store.version_restore(owner, version.id)
    assert (store.home(owner) / "f").read_bytes() == b"b" * 400
    assert [v.label for v in store.versions_of(owner, info.id)] == ["pinned"]
    assert store.usage(owner).used_bytes == 800


def test_an_overwrite_of_a_file_whose_bytes_are_lost_keeps_no_version(
    services: Services, owner: Owner
) -> None:
    store = services.store
    info = store.write_bytes(owner, p("/f"), b"one")
    outside_window(services)
    (store.home(owner) / "f").unlink()
    assert store.write_bytes(owner, p("/f"), b"two").id == info.id
    assert (store.home(owner) / "f").read_bytes() == b"two"
    assert store.versions_of(owner, info.id) == []
    assert store.usage(owner).used_bytes == 3


def test_fsck_repairs_forget_the_versions_of_the_records_they_drop(
    services: Services, owner: Owner
) -> None:
    store = services.store
    live = store.write_bytes(owner, p("/live"), b"one")
    store.write_bytes(owner, p("/live"), b"two")
    trashed = store.write_bytes(owner, p("/trashed"), b"uno")
    store.write_bytes(owner, p("/trashed"), b"dos")
    store.delete(owner, p("/trashed"))
    [entry] = store.trash_list(owner)
    (store.home(owner) / "live").unlink()
    (store.trash_dir / str(owner.id) / entry.disk_name).unlink()
    report = store.fsck(owner, repair=Repair.ALL)
    kinds = sorted((f.kind, f.repaired) for f in report.findings if f.kind != "usage")
    assert kinds == [
        (MISSING_ON_DISK, True),
        (MISSING_ON_DISK, True),
        (NOT_RECORDED, False),
        (NOT_RECORDED, False),
        (ORPHAN_VERSION, True),
        (ORPHAN_VERSION, True),
    ]
    with services.db.read() as session:
        assert session.scalar(select(func.count()).select_from(FileVersion)) == 0
        assert session.scalar(select(func.count()).select_from(TrashItem)) == 0
    assert store.versions_of(owner, live.id) == store.versions_of(owner, trashed.id) == []
    assert store.usage(owner).used_bytes == 0
    # The versions' bytes stay (fsck deletes none), reported as entries without a record.
    assert sum(1 for _ in (store.versions_dir / str(owner.id)).iterdir()) == 2


def test_fsck_reports_a_version_of_no_file(services: Services, owner: Owner) -> None:
    store = services.store
    info = store.write_bytes(owner, p("/f"), b"one")
    store.write_bytes(owner, p("/f"), b"two")
    with services.db.write() as session:
        session.execute(Node.__table__.delete().where(Node.id == info.id))
    (store.home(owner) / "f").unlink()
    findings = [f for f in store.fsck(owner).findings if f.kind == ORPHAN_VERSION]
    assert [f.repaired for f in findings] == [False]


def test_evictions_of_a_write_that_fails_after_all_are_not_audited(
    services: Services, owner: Owner
) -> None:
    store = services.store
    services.accounts.set_quota("alice", max_files=2)
    store.write_bytes(owner, p("/old"), b"o" * 600)
    store.delete(owner, p("/old"))
    store.write_bytes(owner, p("/a"), b"a" * 200)
    store.write_bytes(owner, p("/b"), b"b" * 200)
    # The copy needs the trash's bytes, then fails on the file count: nothing was evicted.
    with pytest.raises(QuotaExceeded):
        as_request(services, lambda: store.copy(owner, p("/a"), p("/c"), overwrite=False))
    assert [e.name for e in store.trash_list(owner)] == ["old"]
    assert purge_lines(services) == []
    # A write that evicts and commits writes its line.
    as_request(services, lambda: store.write_bytes(owner, p("/a"), b"A" * 500))
    assert store.trash_list(owner) == []
    assert [line["target"] for line in purge_lines(services)] == ["/old (evicted for room)"]


def test_the_folder_filter_takes_the_folder_itself(services: Services, owner: Owner) -> None:
    store = services.store
    store.ensure_dirs(owner, p("/a/b"))
    store.write_bytes(owner, p("/a/b/f"), b"f")
    store.write_bytes(owner, p("/ab"), b"x")
    store.delete(owner, p("/a/b/f"))
    store.delete(owner, p("/a"))
    store.delete(owner, p("/ab"))
    assert sorted(e.name for e in store.trash_list(owner, folder=p("/a"))) == ["a", "f"]


def test_a_bulk_restore_goes_past_an_item_that_fails(services: Services, owner: Owner) -> None:
    store = services.store
    store.mkdir(owner, p("/d"))
    store.write_bytes(owner, p("/d/f"), b"f")
    store.write_bytes(owner, p("/g"), b"g")
    store.delete(owner, p("/d/f"))
    store.delete(owner, p("/g"))
    store.delete(owner, p("/d"))
    store.write_bytes(owner, p("/d"), b"now a file")  # /d/f cannot come back
    ids = {e.name: e.id for e in store.trash_list(owner)}
    restored, failed = store.trash_restore_all(owner, [ids["f"], ids["g"]])
    assert [(item_id, info.path) for item_id, info in restored] == [(ids["g"], p("/g"))]
    [(item_id, why)] = failed
    assert item_id == ids["f"] and "is a file" in why


def test_a_chunked_upload_checks_room_without_counting_reclaimable_bytes(
    services: Services, owner: Owner
) -> None:
    """Free bytes suffice: only the counters are read, not the trash and versions."""
    store = services.store
    store.write_bytes(owner, p("/old"), b"o" * 100)
    store.delete(owner, p("/old"))
    statements: list[str] = []

    def record(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        statements.append(statement)

    event.listen(services.db.engine, "before_cursor_execute", record)
    try:
        store.check_room(owner, 500)
    finally:
        event.remove(services.db.engine, "before_cursor_execute", record)
    assert statements and not any("trash_items" in statement for statement in statements)
    # Beyond the free bytes, the trash counts: 900 free and 100 reclaimable.
    store.check_room(owner, 1000)
    with pytest.raises(QuotaExceeded):
        store.check_room(owner, 1001)


def test_disk_names_are_random_not_ids(services: Services, owner: Owner) -> None:
    store = services.store
    store.write_bytes(owner, p("/f"), b"f")
    store.delete(owner, p("/f"))
    [entry] = store.trash_list(owner)
    assert entry.disk_name != str(entry.id) and len(entry.disk_name) == 32
    assert os.path.isfile(store.trash_dir / str(owner.id) / entry.disk_name)
