"""``Store.storage_split``: the used bytes split into live files, versions of live files and
the trash (deleted trees with their files' versions), and what is free under a quota."""

from __future__ import annotations

from davfiles.app import Services
from davfiles.store import parse_user_path


def test_the_split_follows_versions_trash_restore_and_purge(services: Services) -> None:
    store = services.store
    owner = services.accounts.add_user("ines", "pw", max_bytes=10_000, max_files=None)
    doc, old = parse_user_path("/doc.txt"), parse_user_path("/old.txt")
    store.write_bytes(owner, doc, b"a" * 100)
    store.write_bytes(owner, doc, b"b" * 150)  # 100 bytes become a version
    store.write_bytes(owner, old, b"c" * 40)
    split = store.storage_split(owner)
    assert (split.files, split.versions, split.trash, split.free) == (190, 100, 0, 9710)
    assert split.used == store.usage(owner).used_bytes

    store.delete(owner, doc)  # the file and its version go to the trash together
    split = store.storage_split(owner)
    assert (split.files, split.versions, split.trash) == (40, 0, 250)
    assert split.used == store.usage(owner).used_bytes

    [entry] = [e for e in store.trash_list(owner) if e.name == "doc.txt"]
    store.trash_restore_all(owner, [entry.id])
    assert store.storage_split(owner).versions == 100

    store.delete(owner, old)
    store.trash_purge(owner, None)
    split = store.storage_split(owner)
    assert (split.files, split.versions, split.trash) == (150, 100, 0)


def test_without_a_byte_quota_nothing_is_free(services: Services) -> None:
    owner = services.accounts.add_user("jon", "pw", max_bytes=None, max_files=None)
    services.store.write_bytes(owner, parse_user_path("/a"), b"12345")
    split = services.store.storage_split(owner)
    assert (split.files, split.free, split.max_bytes) == (5, None, None)
