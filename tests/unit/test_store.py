"""The store on a real database and disk: uploads, quota, moves, copies and deletes."""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.exc import IntegrityError

from davfiles.app import Services
from davfiles.db.models import UploadSlot
from davfiles.errors import AlreadyExists, Conflict, IncompleteUpload, NotFound, QuotaExceeded
from davfiles.store import ROOT, Owner, UploadOptions, parse_user_path
from tests.kept import live_usage


def p(text: str):  # noqa: ANN201 - short helper for readability
    return parse_user_path(text)


@pytest.fixture
def owner(services: Services) -> Owner:
    return services.accounts.add_user("alice", "pw", max_bytes=1000, max_files=5)


def disk_files(services: Services, owner: Owner) -> list[str]:
    home = services.store.home(owner)
    return sorted(str(f.relative_to(home)) for f in home.rglob("*") if f.is_file())


def staging_files(services: Services) -> list[Path]:
    return list(services.store.staging_dir.iterdir())


def test_upload_records_size_hashes_and_type(services: Services, owner: Owner) -> None:
    info = services.store.write_bytes(owner, p("/hello.txt"), b"hello")
    assert info.size == 5
    assert info.md5 == hashlib.md5(b"hello").hexdigest()
    assert info.sha1 == hashlib.sha1(b"hello").hexdigest()
    assert info.content_type == "text/plain"
    assert services.store.usage(owner).used_bytes == 5
    assert services.store.usage(owner).used_files == 1
    assert disk_files(services, owner) == ["hello.txt"]
    assert staging_files(services) == []


def test_overwrite_keeps_a_version_when_there_is_room(services: Services, owner: Owner) -> None:
    services.store.write_bytes(owner, p("/f"), b"x" * 600)
    services.store.write_bytes(owner, p("/f"), b"y" * 900)
    usage = services.store.usage(owner)
    # No room for the 600 bytes as a version: the overwrite counts only the difference.
    assert (usage.used_bytes, usage.used_files) == (900, 1)
    info = services.store.write_bytes(owner, p("/f"), b"z" * 100)
    usage = services.store.usage(owner)
    assert (usage.used_bytes, usage.reclaimable_bytes, usage.available_bytes) == (1000, 900, 900)
    assert [v.size for v in services.store.versions_of(owner, info.id)] == [900]


def test_announced_size_over_quota_is_refused_before_any_byte(
    services: Services, owner: Owner
) -> None:
    with pytest.raises(QuotaExceeded) as refused:
        services.store.upload(owner, p("/big"), UploadOptions(expected_size=1001))
    assert refused.value.kind == "bytes"
    assert services.store.usage(owner).used_bytes == 0
    assert disk_files(services, owner) == []


def test_streamed_body_over_quota_is_aborted_and_leaves_nothing(
    services: Services, owner: Owner
) -> None:
    upload = services.store.upload(owner, p("/stream"))
    upload.write(b"a" * 800)
    with pytest.raises(QuotaExceeded):
        upload.write(b"a" * 300)
    upload.abort()
    usage = services.store.usage(owner)
    assert (usage.used_bytes, usage.used_files) == (0, 0)
    assert disk_files(services, owner) == []
    assert staging_files(services) == []


def test_file_limit(services: Services, owner: Owner) -> None:
    for index in range(5):
        services.store.write_bytes(owner, p(f"/f{index}"), b"")
    with pytest.raises(QuotaExceeded) as refused:
        services.store.write_bytes(owner, p("/f5"), b"")
    assert refused.value.kind == "files"
    services.store.mkdir(owner, p("/folders-do-not-count"))
    services.store.write_bytes(owner, p("/f0"), b"overwrite needs no new file")


def test_short_body_is_refused(services: Services, owner: Owner) -> None:
    upload = services.store.upload(owner, p("/short"), UploadOptions(expected_size=10))
    upload.write(b"12345")
    with pytest.raises(IncompleteUpload):
        upload.commit()
    upload.abort()
    assert services.store.stat(owner, p("/short")) is None
    assert services.store.usage(owner).used_bytes == 0


def test_failed_overwrite_keeps_the_old_content(services: Services, owner: Owner) -> None:
    services.store.write_bytes(owner, p("/keep"), b"old content")
    with pytest.raises(RuntimeError):
        with services.store.upload(owner, p("/keep")) as upload:
            upload.write(b"new")
            raise RuntimeError("client went away")
    info = services.store.stat(owner, p("/keep"))
    assert info is not None
    with services.store.open_read(owner, info) as stream:
        assert stream.read() == b"old content"
    assert services.store.usage(owner).used_bytes == len(b"old content")
    assert staging_files(services) == []


def test_concurrent_reservations_never_exceed_the_quota(uncapped_services: Services) -> None:
    owner = uncapped_services.accounts.add_user("racer", "pw", max_bytes=10_000, max_files=None)
    outcomes: list[str] = []
    start = threading.Barrier(16)

    def put(index: int) -> None:
        start.wait()
        try:
            uncapped_services.store.write_bytes(owner, p(f"/file{index}"), b"x" * 1000)
            outcomes.append("stored")
        except QuotaExceeded:
            outcomes.append("refused")

    threads = [threading.Thread(target=put, args=(i,)) for i in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert outcomes.count("stored") == 10
    assert outcomes.count("refused") == 6
    usage = uncapped_services.store.usage(owner)
    assert usage.used_bytes == 10_000
    assert len(disk_files(uncapped_services, owner)) == 10


def test_move_keeps_id_and_properties(services: Services, owner: Owner) -> None:
    services.store.mkdir(owner, p("/a"))
    info = services.store.write_bytes(owner, p("/a/f.txt"), b"data")
    services.store.set_dead_property(owner, p("/a/f.txt"), "{x:}note", b"<note/>")
    services.store.mkdir(owner, p("/b"))
    assert services.store.move(owner, p("/a"), p("/b/c"), overwrite=False) is True
    moved = services.store.stat(owner, p("/b/c/f.txt"))
    assert moved is not None and moved.id == info.id
    assert services.store.dead_properties(owner, p("/b/c/f.txt")) == {"{x:}note": b"<note/>"}
    assert services.store.stat(owner, p("/a")) is None
    assert disk_files(services, owner) == ["b/c/f.txt"]


def test_tree_statements_reach_every_level_and_spare_a_name_prefix(services: Services) -> None:
    """Listings, moves, copies and deletes of a folder cover its whole depth, and not ``/ab``
    beside ``/a``; the home's listing covers everything."""
    store = services.store
    owner = services.accounts.add_user("tree", "pw", max_bytes=None, max_files=None)
    for folder in ("/a", "/a/b", "/a/b/c", "/ab", "/z"):
        store.mkdir(owner, p(folder))
    for name in ("/a/1", "/a/b/2", "/a/b/c/3", "/ab/4"):
        store.write_bytes(owner, p(name), b"x" * 10)
    assert [info.path.text for info in store.list_tree(owner, p("/a"))] == [
        "a/1",
        "a/b",
        "a/b/2",
        "a/b/c",
        "a/b/c/3",
    ]
    assert len(store.list_tree(owner, ROOT)) == 9
    store.move(owner, p("/a"), p("/z/m"), overwrite=False)
    assert all(store.stat(owner, p(f"/z/m{name}")) for name in ("/1", "/b/2", "/b/c/3"))
    assert store.stat(owner, p("/a/b/c/3")) is None
    assert store.stat(owner, p("/ab/4")) is not None
    store.copy(owner, p("/z/m"), p("/k"), overwrite=False)
    assert store.stat(owner, p("/k/b/c/3")) is not None
    assert store.delete_folder_without_files(owner, p("/k/b")) is False
    store.delete(owner, p("/z"))
    assert store.stat(owner, p("/z/m/b/c/3")) is None
    assert live_usage(services, owner) == (40, 4)
    assert disk_files(services, owner) == ["ab/4", "k/1", "k/b/2", "k/b/c/3"]


def test_folder_statements_read_only_the_folders_records_on_sqlite(services: Services) -> None:
    """Every statement on a folder's subtree (listing, usage, MOVE, trash, DELETE) is a range
    of the (owner, parent) index: a whole-home scan made each folder operation cost as much as
    the owner has files."""
    if services.db.engine.dialect.name != "sqlite":
        pytest.skip("the plan is SQLite's; PostgreSQL gets the same statements exactly")
    store = services.store
    owner = services.accounts.add_user("plans", "pw", max_bytes=None, max_files=None)
    store.mkdir(owner, p("/a"))
    store.mkdir(owner, p("/a/b"))
    store.write_bytes(owner, p("/a/b/f"), b"x")
    subtree: list[tuple[str, tuple[object, ...]]] = []

    def record(_conn: object, _cursor: object, statement: str, params: object, *_: object) -> None:
        if "substr(nodes.parent" in statement and isinstance(params, tuple):
            subtree.append((statement, params))

    event.listen(services.db.engine, "before_cursor_execute", record)
    try:
        store.list_tree(owner, p("/a"))
        store.move(owner, p("/a"), p("/c"), overwrite=False)
        store.copy(owner, p("/c"), p("/d"), overwrite=False)
        store.delete(owner, p("/c"))
    finally:
        event.remove(services.db.engine, "before_cursor_execute", record)
    assert len(subtree) >= 4
    with services.db.engine.connect() as connection:
        raw = connection.connection.driver_connection
        for statement, params in subtree:
            plan = " ".join(
                str(row) for row in raw.execute("EXPLAIN QUERY PLAN " + statement, params)
            )
            assert "parent>? AND parent<?" in plan, (statement, plan)


def test_move_over_existing_needs_overwrite_and_replaces_the_content(
    services: Services, owner: Owner
) -> None:
    services.store.write_bytes(owner, p("/src"), b"12345")
    target = services.store.write_bytes(owner, p("/dst"), b"1234567890")
    with pytest.raises(AlreadyExists):
        services.store.move(owner, p("/src"), p("/dst"), overwrite=False)
    assert services.store.move(owner, p("/src"), p("/dst"), overwrite=True) is False
    usage = services.store.usage(owner)
    # The replaced content is a version of the target: counted, but reclaimable.
    assert (usage.used_bytes, usage.used_files, usage.reclaimable_bytes) == (15, 1, 10)
    moved = services.store.stat(owner, p("/dst"))
    assert moved is not None and (moved.id, moved.size) == (target.id, 5)
    [version] = services.store.versions_of(owner, target.id)
    assert (version.size, version.md5) == (10, target.md5)
    assert services.store.trash_list(owner) == []


def test_copy_checks_quota_for_the_whole_tree(services: Services, owner: Owner) -> None:
    services.store.mkdir(owner, p("/tree"))
    services.store.write_bytes(owner, p("/tree/one"), b"x" * 300)
    services.store.write_bytes(owner, p("/tree/two"), b"x" * 300)
    with pytest.raises(QuotaExceeded):
        services.store.copy(owner, p("/tree"), p("/copy"), overwrite=False)
    assert services.store.stat(owner, p("/copy")) is None
    assert services.store.usage(owner).used_bytes == 600
    services.store.delete(owner, p("/tree/two"))
    services.store.copy(owner, p("/tree"), p("/copy"), overwrite=False)
    copied = services.store.stat(owner, p("/copy/one"))
    original = services.store.stat(owner, p("/tree/one"))
    assert copied is not None and original is not None
    assert copied.id != original.id and copied.md5 == original.md5
    assert services.store.usage(owner).used_bytes == 900  # two copies and the trashed one
    assert staging_files(services) == []


def test_a_refused_copy_over_an_existing_folder_keeps_its_files(
    services: Services, owner: Owner
) -> None:
    """The destination is cleared before the quota check; a refusal must put it back."""
    services.store.mkdir(owner, p("/kept"))
    services.store.write_bytes(owner, p("/kept/file"), b"k" * 100)
    services.store.mkdir(owner, p("/tree"))
    services.store.write_bytes(owner, p("/tree/big"), b"x" * 600)
    with pytest.raises(QuotaExceeded):
        services.store.copy(owner, p("/tree"), p("/kept"), overwrite=True)
    assert (services.store.home(owner) / "kept" / "file").read_bytes() == b"k" * 100
    assert disk_files(services, owner) == ["kept/file", "tree/big"]
    assert services.store.usage(owner).used_bytes == 700
    assert staging_files(services) == []


def test_a_failed_move_over_an_existing_file_keeps_both(services: Services, owner: Owner) -> None:
    """A rename the disk refuses after the destination was cleared must lose nothing."""
    services.store.write_bytes(owner, p("/target"), b"old")
    services.store.write_bytes(owner, p("/source"), b"new")
    (services.store.home(owner) / "source").unlink()
    with pytest.raises(FileNotFoundError):
        services.store.move(owner, p("/source"), p("/target"), overwrite=True)
    assert (services.store.home(owner) / "target").read_bytes() == b"old"
    assert services.store.stat(owner, p("/source")) is not None
    assert services.store.usage(owner).used_bytes == 6
    assert staging_files(services) == []


def fail_commits_that_touch(services: Services, name: str) -> None:
    """Make every transaction that inserts or updates the record called ``name`` fail at its
    COMMIT, after all its statements succeeded: a deferred foreign key that a trigger breaks."""
    table = "CREATE TABLE boom (node_id INTEGER REFERENCES nodes(id) DEFERRABLE INITIALLY DEFERRED)"
    if services.db.engine.dialect.name == "sqlite":
        triggers = [
            f"CREATE TRIGGER boom_{event} AFTER {event} ON nodes WHEN NEW.name = '{name}' "
            "BEGIN INSERT INTO boom VALUES (-1); END"
            for event in ("INSERT", "UPDATE")
        ]
    else:
        triggers = [
            "CREATE FUNCTION boom() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN INSERT INTO boom VALUES (-1); RETURN NEW; END $$",
            "CREATE TRIGGER boom AFTER INSERT OR UPDATE ON nodes FOR EACH ROW "
            f"WHEN (NEW.name = '{name}') EXECUTE FUNCTION boom()",
        ]
    with services.db.engine.begin() as connection:
        for statement in (table, *triggers):
            connection.exec_driver_sql(statement)


@pytest.mark.parametrize("existing", [b"old", None])
def test_an_upload_whose_commit_fails_leaves_the_disk_as_the_records_say(
    services: Services, owner: Owner, existing: bytes | None
) -> None:
    """The new bytes are installed just before the commit; a failed commit takes them back."""
    if existing is not None:
        services.store.write_bytes(owner, p("/victim"), existing)
    fail_commits_that_touch(services, "victim")
    with pytest.raises(IntegrityError):
        services.store.write_bytes(owner, p("/victim"), b"new content")
    info = services.store.stat(owner, p("/victim"))
    if existing is None:
        assert info is None
        assert disk_files(services, owner) == []
    else:
        assert info is not None and info.size == len(existing)
        assert (services.store.home(owner) / "victim").read_bytes() == existing
    assert services.store.usage(owner).used_bytes == len(existing or b"")
    assert staging_files(services) == []
    with services.db.read() as session:
        assert session.scalar(select(func.count()).select_from(UploadSlot)) == 0


def test_delete_frees_space_at_once(services: Services, owner: Owner) -> None:
    """The files count no more; their bytes, in the trash, are given to any write."""
    services.store.mkdir(owner, p("/d"))
    services.store.write_bytes(owner, p("/d/x"), b"x" * 100)
    services.store.write_bytes(owner, p("/d/y"), b"y" * 100)
    services.store.delete(owner, p("/d"))
    usage = services.store.usage(owner)
    assert (usage.used_bytes, usage.used_files, usage.available_bytes) == (200, 0, 1000)
    assert services.store.list_dir(owner, ROOT) == []
    with pytest.raises(NotFound):
        services.store.delete(owner, p("/d"))


def test_upload_needs_an_existing_parent_folder(services: Services, owner: Owner) -> None:
    with pytest.raises(Conflict):
        services.store.write_bytes(owner, p("/missing/f"), b"")
    services.store.mkdir(owner, p("/dir"))
    with pytest.raises(Conflict):
        services.store.write_bytes(owner, p("/dir"), b"a folder is not a file")


def test_a_folder_is_deleted_only_while_no_file_lies_below_it(
    services: Services, owner: Owner
) -> None:
    store = services.store
    store.ensure_dirs(owner, p("/empty/inner"))
    store.ensure_dirs(owner, p("/full/inner"))
    store.write_bytes(owner, p("/full/inner/kept.txt"), b"kept")
    assert store.delete_folder_without_files(owner, p("/empty"))
    assert store.stat(owner, p("/empty")) is None
    assert not store.delete_folder_without_files(owner, p("/full"))
    assert store.stat(owner, p("/full/inner/kept.txt")) is not None
    assert not store.delete_folder_without_files(owner, p("/full/inner/kept.txt"))
    assert not store.delete_folder_without_files(owner, ROOT)
