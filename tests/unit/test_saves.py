"""Editors' safe saves through the store: the document keeps its id, versions, public flag and
properties, and its previous content becomes a version (``store/saves.py``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import update

from davfiles.app import Services, create_services
from davfiles.config import Settings
from davfiles.db.models import Departure
from davfiles.store import Owner, Store, parse_user_path
from davfiles.store.paths import UserPath
from tests.kept import disk_bytes


def p(text: str) -> UserPath:
    return parse_user_path(text)


@pytest.fixture
def saving(tmp_path: Path) -> Iterator[Services]:
    """Every save keeps a version (no coalescing), as saves minutes apart do."""
    services = create_services(Settings(data_dir=tmp_path / "data", versions_coalesce_seconds=0))
    yield services
    services.close()


@pytest.fixture
def owner(saving: Services) -> Owner:
    return saving.accounts.add_user("ed", "pw", max_bytes=None, max_files=None)


def contents(store: Store, owner: Owner, file_id: int) -> list[bytes]:
    """The file's versions' bytes, newest first."""
    folder = store.versions_dir / str(owner.id)
    return [(folder / v.disk_name).read_bytes() for v in store.versions_of(owner, file_id)]


def assert_consistent(services: Services, owner: Owner) -> None:
    assert services.store.usage(owner).used_bytes == disk_bytes(services, owner)
    assert services.store.fsck(hashes=True).findings == []


def word_save(store: Store, owner: Owner, document: str, content: bytes) -> None:
    """Word's save: new content to a temporary, the document renamed away, the temporary
    renamed to the document's name, the renamed document deleted."""
    store.write_bytes(owner, p("/~WRD0000.tmp"), content)
    assert store.move(owner, p(document), p("/~WRL0001.tmp"), overwrite=False) is True
    assert store.move(owner, p("/~WRD0000.tmp"), p(document), overwrite=False) is True
    store.delete(owner, p("/~WRL0001.tmp"))


def test_a_word_save_keeps_the_document_and_its_previous_content(
    saving: Services, owner: Owner
) -> None:
    store = saving.store
    first = store.write_bytes(owner, p("/report.docx"), b"draft one")
    store.write_bytes(owner, p("/report.docx"), b"draft two")
    store.set_public(owner, first.id, True)
    store.set_dead_property(owner, p("/report.docx"), "{urn:x}tag", b"kept")
    word_save(store, owner, "/report.docx", b"draft three")
    word_save(store, owner, "/report.docx", b"draft four")
    info = store.stat(owner, p("/report.docx"))
    assert info is not None
    assert (info.id, info.public, info.size) == (first.id, True, len(b"draft four"))
    assert (store.home(owner) / "report.docx").read_bytes() == b"draft four"
    assert store.dead_properties(owner, p("/report.docx")) == {"{urn:x}tag": b"kept"}
    assert contents(store, owner, first.id) == [b"draft three", b"draft two", b"draft one"]
    assert [i.name for i in store.list_dir(owner, p("/"))] == ["report.docx"]
    # Nothing went to the trash: the temporaries held nothing the versions do not.
    assert store.trash_list(owner) == []
    assert_consistent(saving, owner)


def test_the_first_word_save_of_a_document_keeps_its_first_content(
    saving: Services, owner: Owner
) -> None:
    store = saving.store
    store.mkdir(owner, p("/work"))
    first = store.write_bytes(owner, p("/work/budget.xlsx"), b"original")
    store.write_bytes(owner, p("/work/~WRD0000.tmp"), b"edited")
    store.move(owner, p("/work/budget.xlsx"), p("/work/~WRL0001.tmp"), overwrite=False)
    store.move(owner, p("/work/~WRD0000.tmp"), p("/work/budget.xlsx"), overwrite=False)
    # The renamed document holds the previous content until the client deletes it.
    assert (store.home(owner) / "work" / "~WRL0001.tmp").read_bytes() == b"original"
    assert_consistent(saving, owner)
    store.delete(owner, p("/work/~WRL0001.tmp"))
    info = store.stat(owner, p("/work/budget.xlsx"))
    assert info is not None and info.id == first.id
    assert contents(store, owner, first.id) == [b"original"]
    folder = store.stat(owner, p("/work"))
    assert folder is not None and folder.tree_size == len(b"edited")
    assert_consistent(saving, owner)


def test_a_save_by_move_over_the_document_replaces_its_content(
    saving: Services, owner: Owner
) -> None:
    """LibreOffice and macOS apps: the new content is renamed over the document."""
    store = saving.store
    store.mkdir(owner, p("/tmp-folder"))
    document = store.write_bytes(owner, p("/notes.odt"), b"one")
    temporary = store.write_bytes(owner, p("/tmp-folder/lu1234.tmp"), b"two")
    store.set_dead_property(owner, p("/tmp-folder/lu1234.tmp"), "{urn:x}new", b"yes")
    assert store.move(owner, p("/tmp-folder/lu1234.tmp"), p("/notes.odt"), overwrite=True) is False
    info = store.stat(owner, p("/notes.odt"))
    assert info is not None and (info.id, info.md5) == (document.id, temporary.md5)
    assert info.content_type == "application/vnd.oasis.opendocument.text"
    assert store.dead_properties(owner, p("/notes.odt")) == {"{urn:x}new": b"yes"}
    assert contents(store, owner, document.id) == [b"one"]
    assert store.stat_id(owner, temporary.id) is None
    usage = store.usage(owner)
    assert (usage.used_bytes, usage.used_files) == (len(b"one") + len(b"two"), 1)
    assert store.trash_list(owner) == []
    assert_consistent(saving, owner)


def test_the_moved_files_versions_join_the_document(saving: Services, owner: Owner) -> None:
    store = saving.store
    document = store.write_bytes(owner, p("/a.txt"), b"a1")
    other = store.write_bytes(owner, p("/b.txt"), b"b1")
    store.write_bytes(owner, p("/b.txt"), b"b2")
    store.move(owner, p("/b.txt"), p("/a.txt"), overwrite=True)
    assert sorted(contents(store, owner, document.id)) == [b"a1", b"b1"]
    assert store.versions_of(owner, other.id) == []
    assert_consistent(saving, owner)


def test_with_versions_off_a_move_over_trashes_the_target(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", versions_enabled=False)
    services = create_services(settings)
    try:
        owner = services.accounts.add_user("ed", "pw", max_bytes=None, max_files=None)
        store = services.store
        target = store.write_bytes(owner, p("/a.txt"), b"old")
        moved = store.write_bytes(owner, p("/b.txt"), b"new")
        store.move(owner, p("/b.txt"), p("/a.txt"), overwrite=True)
        info = store.stat(owner, p("/a.txt"))
        assert info is not None and info.id == moved.id
        assert [(e.name, e.node_id) for e in store.trash_list(owner)] == [("a.txt", target.id)]
    finally:
        services.close()


def test_a_departure_counts_only_for_a_while_and_for_a_temporary(
    saving: Services, owner: Owner
) -> None:
    store = saving.store
    late = store.write_bytes(owner, p("/late.txt"), b"late")
    store.move(owner, p("/late.txt"), p("/late.tmp"), overwrite=False)
    with saving.db.write() as session:
        session.execute(update(Departure).values(left_at=Departure.left_at - 3600))
    newcomer = store.write_bytes(owner, p("/new.txt"), b"new")
    store.move(owner, p("/new.txt"), p("/late.txt"), overwrite=False)
    info = store.stat(owner, p("/late.txt"))
    assert info is not None and info.id == newcomer.id
    # A rename between ordinary names leaves no departure.
    plain = store.write_bytes(owner, p("/plain.txt"), b"plain")
    store.move(owner, p("/plain.txt"), p("/renamed.txt"), overwrite=False)
    store.write_bytes(owner, p("/x.txt"), b"x")
    store.move(owner, p("/x.txt"), p("/plain.txt"), overwrite=False)
    renamed = store.stat(owner, p("/renamed.txt"))
    assert renamed is not None and renamed.id == plain.id
    assert store.stat_id(owner, late.id) is not None
    assert_consistent(saving, owner)


def test_a_document_renamed_to_a_temporary_and_deleted_goes_to_the_trash(
    saving: Services, owner: Owner
) -> None:
    """A save that stops after renaming the document away: its deletion keeps it."""
    store = saving.store
    document = store.write_bytes(owner, p("/thesis.docx"), b"only copy")
    store.move(owner, p("/thesis.docx"), p("/~WRL0003.tmp"), overwrite=False)
    store.delete(owner, p("/~WRL0003.tmp"))
    [entry] = store.trash_list(owner)
    assert (entry.name, entry.node_id) == ("~WRL0003.tmp", document.id)
    # An ordinary temporary still skips the trash.
    store.write_bytes(owner, p("/~WRD0004.tmp"), b"scratch")
    store.delete(owner, p("/~WRD0004.tmp"))
    assert len(store.trash_list(owner)) == 1
    assert_consistent(saving, owner)


def test_a_word_save_without_room_for_the_version_trashes_the_previous_content(
    saving: Services,
) -> None:
    store = saving.store
    owner = saving.accounts.add_user("full", "pw", max_bytes=25, max_files=None)
    document = store.write_bytes(owner, p("/report.docx"), b"a" * 10)
    word_save(store, owner, "/report.docx", b"b" * 10)
    info = store.stat(owner, p("/report.docx"))
    assert info is not None and info.id == document.id
    assert store.versions_of(owner, document.id) == []
    [entry] = store.trash_list(owner)
    assert entry.name == "~WRL0001.tmp"
    kept = store.trash_dir / str(owner.id) / entry.disk_name
    assert kept.read_bytes() == b"a" * 10
    assert_consistent(saving, owner)


def test_saves_by_replacement_keep_a_version_even_right_after_another(tmp_path: Path) -> None:
    """The coalescing window drops autosaves' rewrites in place, not a save by replacement."""
    services = create_services(Settings(data_dir=tmp_path / "data"))
    try:
        owner = services.accounts.add_user("ed", "pw", max_bytes=None, max_files=None)
        store = services.store
        document = store.write_bytes(owner, p("/report.docx"), b"one")
        store.write_bytes(owner, p("/report.docx"), b"two")
        word_save(store, owner, "/report.docx", b"three")
        store.write_bytes(owner, p("/lu1.tmp"), b"four")
        store.move(owner, p("/lu1.tmp"), p("/report.docx"), overwrite=True)
        assert contents(store, owner, document.id) == [b"three", b"two", b"one"]
        store.write_bytes(owner, p("/report.docx"), b"five")
        assert len(store.versions_of(owner, document.id)) == 3
    finally:
        services.close()


def test_a_document_renamed_to_a_temporary_and_back_is_only_renamed(
    saving: Services, owner: Owner
) -> None:
    store = saving.store
    document = store.write_bytes(owner, p("/plan.docx"), b"plan")
    store.move(owner, p("/plan.docx"), p("/plan.tmp"), overwrite=False)
    assert store.move(owner, p("/plan.tmp"), p("/plan.docx"), overwrite=False) is True
    info = store.stat(owner, p("/plan.docx"))
    assert info is not None and (info.id, info.md5) == (document.id, document.md5)
    assert store.versions_of(owner, document.id) == []
    assert_consistent(saving, owner)


def test_a_word_save_of_unchanged_content_keeps_nothing_more(
    saving: Services, owner: Owner
) -> None:
    store = saving.store
    document = store.write_bytes(owner, p("/same.docx"), b"same")
    word_save(store, owner, "/same.docx", b"same")
    info = store.stat(owner, p("/same.docx"))
    assert info is not None and info.id == document.id
    assert store.versions_of(owner, document.id) == []
    assert store.trash_list(owner) == []
    assert_consistent(saving, owner)
