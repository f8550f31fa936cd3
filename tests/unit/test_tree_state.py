"""Folder totals and change counters stay right under concurrent writes at every depth
(on PostgreSQL too, where writes lock the records of their ancestors)."""

from __future__ import annotations

import threading

from davfiles.app import Services
from davfiles.store import UserPath, parse_user_path
from tests.kept import live_usage

THREADS = 6
ROUNDS = 8


def test_concurrent_writes_at_every_depth_keep_the_totals(uncapped_services: Services) -> None:
    store = uncapped_services.store
    owner = uncapped_services.accounts.add_user("tree", "pw", max_bytes=None, max_files=None)
    folders = ["/a", "/a/b", "/a/b/c", "/x", "/x/y"]
    for folder in folders:
        store.mkdir(owner, parse_user_path(folder))
    root_before = store.stat(owner, parse_user_path("/"))
    errors: list[BaseException] = []
    start = threading.Barrier(THREADS)

    def work(index: int) -> None:
        start.wait()
        try:
            for round_ in range(ROUNDS):
                folder = folders[(index + round_) % len(folders)]
                path = parse_user_path(f"{folder}/f{index}-{round_}")
                store.write_bytes(owner, path, b"z" * (index + round_ + 1))
                if round_ % 3 == 2:
                    store.mkdir(owner, parse_user_path(f"{folder}/d{index}-{round_}"))
                if round_ % 4 == 3:
                    target = parse_user_path(f"/x/y/m{index}-{round_}")
                    store.move(owner, path, target, overwrite=False)
                if round_ % 5 == 4:
                    store.delete(owner, path)
        except BaseException as exc:  # collected: the test fails on any of them below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(index,)) for index in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads)
    assert errors == []
    assert store.fsck().findings == []
    files = store.list_files(owner)
    for folder in ["/", *folders]:
        info = store.stat(owner, parse_user_path(folder))
        assert info is not None
        below = [f for f in files if f.path.is_within(parse_user_path(folder))]
        assert info.tree_size == sum(f.size for f in below), folder
    root = store.stat(owner, UserPath(()))
    assert root is not None and root_before is not None
    assert root.etag != root_before.etag
    assert root.tree_size == live_usage(uncapped_services, owner)[0]  # trash is not below it


def test_a_folder_copied_without_its_members_holds_nothing(services: Services) -> None:
    store = services.store
    owner = services.accounts.add_user("copier", "pw", max_bytes=None, max_files=None)
    store.mkdir(owner, parse_user_path("/a"))
    store.write_bytes(owner, parse_user_path("/a/f"), b"12345")
    store.copy(
        owner, parse_user_path("/a"), parse_user_path("/shallow"), overwrite=False, recursive=False
    )
    store.copy(owner, parse_user_path("/a"), parse_user_path("/deep"), overwrite=False)
    sizes = {
        name: store.stat(owner, parse_user_path(name)).tree_size  # type: ignore[union-attr]
        for name in ("/", "/a", "/shallow", "/deep")
    }
    assert sizes == {"/": 10, "/a": 5, "/shallow": 0, "/deep": 5}
    assert store.fsck().findings == []
