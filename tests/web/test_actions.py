"""Every change of the app as a POST form without JavaScript: folders, rename, move, copy,
delete with undo, uploads with the conflict choice and the quota, trash and versions."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from davfiles.store import parse_user_path
from tests.harness import LiveServer, TestUser
from tests.web.helpers import Browser, Page, content, names, put


@pytest.fixture
def alice(live_server: LiveServer) -> Iterator[tuple[TestUser, Browser]]:
    user = live_server.add_user("alice", max_bytes=1_000_000)
    browser = Browser(live_server)
    browser.login(user)
    yield user, browser


def test_new_folder_and_a_refused_name(
    live_server: LiveServer, alice: tuple[TestUser, Browser]
) -> None:
    user, browser = alice
    form = browser.page("/app/files/").form("/app/do/mkdir")
    response = browser.submit(form, {"name": "Projects"})
    assert response.url.endswith("/app/files/?note=created")
    assert "The folder was created." in Page(response.text).text
    assert names(live_server, user) == ["Projects"]
    again = browser.submit(form, {"name": "Projects"})
    assert again.status_code == 409
    bad = browser.submit(form, {"name": "a/b"})
    assert bad.status_code == 400
    inner = browser.page("/app/files/Projects/").form("/app/do/mkdir")
    browser.submit(inner, {"name": "2026"})
    assert names(live_server, user, "Projects") == ["2026"]


def test_rename_keeps_the_id_and_refuses_a_taken_name(
    live_server: LiveServer, alice: tuple[TestUser, Browser]
) -> None:
    user, browser = alice
    put(live_server, user, "a.txt", b"a")
    put(live_server, user, "b.txt", b"b")
    before = live_server.services.store.stat(user.owner, parse_user_path("a.txt"))
    form = browser.page("/app/info/a.txt").form("/app/do/rename")
    response = browser.submit(form, {"name": "renamed.txt"})
    assert response.url.endswith("/app/info/renamed.txt?note=renamed")
    after = live_server.services.store.stat(user.owner, parse_user_path("renamed.txt"))
    assert after is not None and before is not None and after.id == before.id
    taken = browser.submit(
        browser.page("/app/info/renamed.txt").form("/app/do/rename"), {"name": "b.txt"}
    )
    assert taken.status_code == 409
    assert content(live_server, user, "b.txt") == b"b"


def test_move_and_copy_a_selection_never_overwriting(
    live_server: LiveServer, alice: tuple[TestUser, Browser]
) -> None:
    user, browser = alice
    put(live_server, user, "one.txt", b"1")
    put(live_server, user, "two.txt", b"2")
    put(live_server, user, "dest/two.txt", b"old")
    live_server.services.store.mkdir(user.owner, parse_user_path("copies"))
    form = browser.page("/app/files/").form("/app/do/transfer")
    copied = browser.submit(
        form,
        {"name": ["one.txt", "two.txt"], "destination": "copies", "mode": "copy"},
        action="/app/do/transfer",
    )
    assert copied.url.endswith("/app/files/copies/?note=copied")
    assert names(live_server, user, "copies") == ["one.txt", "two.txt"]
    assert "one.txt" in names(live_server, user)
    moved = browser.submit(
        form,
        {"name": ["one.txt"], "destination": "dest", "mode": "move"},
        action="/app/do/transfer",
    )
    assert moved.status_code == 200
    assert names(live_server, user, "dest") == ["one.txt", "two.txt"]
    assert "one.txt" not in names(live_server, user)
    clash = browser.submit(
        form,
        {"name": ["two.txt"], "destination": "dest", "mode": "move"},
        action="/app/do/transfer",
    )
    assert clash.status_code == 409
    assert content(live_server, user, "dest/two.txt") == b"old"
    nowhere = browser.submit(
        form,
        {"name": ["two.txt"], "destination": "missing", "mode": "move"},
        action="/app/do/transfer",
    )
    assert nowhere.status_code == 404


def test_delete_goes_to_the_trash_and_undo_brings_it_back(
    live_server: LiveServer, alice: tuple[TestUser, Browser]
) -> None:
    user, browser = alice
    put(live_server, user, "keep.txt", b"k")
    put(live_server, user, "gone.txt", b"g")
    put(live_server, user, "folder/inner.txt", b"i")
    store = live_server.services.store
    ids = {
        name: store.stat(user.owner, parse_user_path(name)).id for name in ("gone.txt", "folder")
    }  # type: ignore[union-attr]
    form = browser.page("/app/files/").form("/app/do/delete")
    response = browser.submit(form, {"name": ["gone.txt", "folder"]}, action="/app/do/delete")
    assert response.status_code == 200
    assert names(live_server, user) == ["keep.txt"]
    page = Page(response.text)
    assert "Moved 2 item(s) to the trash: gone.txt, folder." in page.text
    undo = page.form("/app/do/restore")
    restored = browser.submit(undo)
    assert restored.url.endswith("/app/files/?note=restored")
    assert names(live_server, user) == ["folder", "gone.txt", "keep.txt"]
    assert content(live_server, user, "folder/inner.txt") == b"i"
    for name, node_id in ids.items():
        assert store.stat(user.owner, parse_user_path(name)).id == node_id  # type: ignore[union-attr]
    assert store.trash_list(user.owner) == []


def test_undo_of_someone_elses_trash_item_is_refused(
    live_server: LiveServer, alice: tuple[TestUser, Browser]
) -> None:
    user, browser = alice
    bob = live_server.add_user("bob")
    put(live_server, bob, "b.txt", b"b")
    live_server.services.store.delete(bob.owner, parse_user_path("b.txt"))
    (item,) = live_server.services.store.trash_list(bob.owner)
    assert browser.get(f"/app/files/?deleted={item.id}").status_code == 200
    assert "Undo" not in browser.page(f"/app/files/?deleted={item.id}").text
    form = browser.page("/app/files/").form("/app/do/mkdir")
    response = browser.submit(
        form, {"item": str(item.id), "back": "folder"}, action="/app/do/restore"
    )
    assert response.status_code == 409
    assert live_server.services.store.trash_list(bob.owner) != []


def test_upload_with_a_plain_form_and_every_conflict_choice(
    live_server: LiveServer, alice: tuple[TestUser, Browser]
) -> None:
    user, browser = alice
    live_server.services.store.mkdir(user.owner, parse_user_path("in"))
    form = browser.page("/app/files/in/").form("/app/do/upload")
    first = browser.submit(
        form,
        files=[("file", ("a.txt", b"first")), ("file", ("b.bin", b"\x00" * 5000))],
    )
    assert first.url.endswith("/app/files/in/?note=uploaded&count=2")
    assert "Uploaded 2 file(s)." in Page(first.text).text
    assert content(live_server, user, "in/a.txt") == b"first"
    both = browser.submit(form, files=[("file", ("a.txt", b"second"))])
    assert both.status_code == 200
    assert names(live_server, user, "in") == ["a (1).txt", "a.txt", "b.bin"]
    assert content(live_server, user, "in/a (1).txt") == b"second"
    skip = browser.submit(form, {"conflict": "skip"}, files=[("file", ("a.txt", b"third"))])
    assert "were skipped" in Page(skip.text).text
    assert content(live_server, user, "in/a.txt") == b"first"
    replace = browser.submit(form, {"conflict": "replace"}, files=[("file", ("a.txt", b"fourth"))])
    assert replace.status_code == 200
    assert content(live_server, user, "in/a.txt") == b"fourth"
    info = live_server.services.store.stat(user.owner, parse_user_path("in/a.txt"))
    assert info is not None
    versions = live_server.services.store.versions_of(user.owner, info.id)
    assert [version.size for version in versions] == [len(b"first")]


def test_an_upload_without_csrf_stores_nothing(
    live_server: LiveServer, alice: tuple[TestUser, Browser]
) -> None:
    user, browser = alice
    form = browser.page("/app/files/").form("/app/do/upload")
    refused = browser.submit(form, {"csrf": "forged"}, files=[("file", ("x.txt", b"x"))])
    assert refused.status_code == 403
    foreign = browser.submit(form, files=[("file", ("y.txt", b"y"))], origin="https://evil.example")
    assert foreign.status_code == 403
    assert names(live_server, user) == []


def test_an_upload_over_the_quota_is_refused_before_storing(
    live_server: LiveServer, alice: tuple[TestUser, Browser]
) -> None:
    user, browser = alice
    form = browser.page("/app/files/").form("/app/do/upload")
    response = browser.submit(form, files=[("file", ("big.bin", b"x" * 1_200_000))])
    assert response.status_code == 507
    assert "quota" in Page(response.text).text.lower()
    assert names(live_server, user) == []


def test_replacing_a_file_near_the_quota_is_judged_by_the_store(
    live_server: LiveServer, alice: tuple[TestUser, Browser]
) -> None:
    # The body is larger than the free bytes, but the file it replaces makes room: the
    # replaced bytes become a version, which the store may reclaim for the new content.
    user, browser = alice
    put(live_server, user, "big.bin", b"a" * 700_000)
    form = browser.page("/app/files/").form("/app/do/upload")
    replaced = browser.submit(
        form, {"conflict": "replace"}, files=[("file", ("big.bin", b"b" * 750_000))]
    )
    assert replaced.status_code == 200
    assert content(live_server, user, "big.bin") == b"b" * 750_000
    usage = live_server.services.store.usage(user.owner)
    assert usage.used_bytes <= 1_000_000
    too_big = browser.submit(
        form, {"conflict": "replace"}, files=[("file", ("big.bin", b"c" * 1_100_000))]
    )
    assert too_big.status_code == 507
    assert content(live_server, user, "big.bin") == b"b" * 750_000


def test_trash_page_restores_and_purges(
    live_server: LiveServer, alice: tuple[TestUser, Browser]
) -> None:
    user, browser = alice
    store = live_server.services.store
    for name in ("a.txt", "b.txt", "c.txt"):
        put(live_server, user, f"docs/{name}", name.encode())
        store.delete(user.owner, parse_user_path(f"docs/{name}"))
    page = browser.page("/app/trash")
    assert [row.split(" ")[0] for row in page.rows[1:]] == ["c.txt", "b.txt", "a.txt"]
    assert "/docs" in page.rows[1]
    items = {entry.name: entry.id for entry in store.trash_list(user.owner)}
    form = page.form("/app/do/restore")
    restored = browser.submit(form, {"item": str(items["a.txt"])})
    assert restored.url.endswith("/app/trash?note=restored")
    assert names(live_server, user, "docs") == ["a.txt"]
    purged = browser.submit(form, {"item": str(items["b.txt"])}, action="/app/do/purge")
    assert purged.status_code == 200
    assert [entry.name for entry in store.trash_list(user.owner)] == ["c.txt"]
    empty = browser.page("/app/trash")
    everything = [f for f in empty.forms if ("all", "1") in f.fields][0]
    browser.submit(everything)
    assert store.trash_list(user.owner) == []
    assert "The trash is empty." in browser.page("/app/trash").text


def test_versions_panel_lists_downloads_and_restores(
    live_server: LiveServer, alice: tuple[TestUser, Browser]
) -> None:
    user, browser = alice
    store = live_server.services.store
    put(live_server, user, "doc.txt", b"version one")
    info = store.stat(user.owner, parse_user_path("doc.txt"))
    assert info is not None
    store.write_bytes(user.owner, parse_user_path("doc.txt"), b"version two")
    # Beyond the coalescing window a second write would make another version; one is enough.
    page = browser.page("/app/info/doc.txt")
    (version,) = store.versions_of(user.owner, info.id)
    assert page.link("Download") == "/app/download/doc.txt"
    link = f"/app/versions/{version.id}"
    assert link in [href for _label, href in page.links]
    old = browser.get(link)
    assert old.content == b"version one"
    assert old.headers["Content-Disposition"].startswith("attachment")
    assert old.headers["Content-Security-Policy"].startswith("sandbox")
    form = page.form("/app/do/version-restore")
    restored = browser.submit(form)
    assert restored.url.endswith("/app/info/doc.txt?note=version-restored")
    assert content(live_server, user, "doc.txt") == b"version one"
    sizes = sorted(v.size for v in store.versions_of(user.owner, info.id))
    assert sizes == [len(b"version one"), len(b"version two")]
    bob = live_server.add_user("bob")
    put(live_server, bob, "x.txt", b"1")
    assert browser.get(f"/app/versions/{version.id + 1000}").status_code == 404


def test_a_post_without_a_session_changes_nothing(live_server: LiveServer) -> None:
    user = live_server.add_user("alice")
    response = requests.post(
        live_server.url("/app/do/mkdir"), data={"name": "x", "folder": ""}, allow_redirects=False
    )
    assert response.status_code == 401
    assert names(live_server, user) == []
    assert requests.get(live_server.url("/app/do/mkdir")).status_code == 405
