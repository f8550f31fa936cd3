"""Every door's delete lands in the trash with its documented answer unchanged: WebDAV DELETE
(fast door and WsgiDAV's own path), COPY over a target, and each REST dialect's
delete; the trashed item keeps the file's id, and a restore brings the same file back."""

from __future__ import annotations

import requests

from davfiles.rest.molgenis import id_text
from davfiles.store import FileInfo, parse_user_path
from tests.harness import LiveServer
from tests.rest.conftest import RestUser


def stored(user: RestUser, path: str, data: bytes = b"content") -> FileInfo:
    store = user.server.services.store
    parent = parse_user_path(path).parent
    if not parent.is_root:
        store.ensure_dirs(user.user.owner, parent)
    return store.write_bytes(user.user.owner, parse_user_path(path), data)


def trashed(user: RestUser) -> list[tuple[str, int]]:
    entries = user.server.services.store.trash_list(user.user.owner)
    return [("/" + entry.original_path.text, entry.node_id) for entry in entries]


def assert_restorable(user: RestUser, info: FileInfo) -> None:
    store = user.server.services.store
    [entry] = [e for e in store.trash_list(user.user.owner) if e.node_id == info.id]
    restored = store.trash_restore(user.user.owner, entry.id)
    assert (restored.id, restored.path, restored.md5) == (info.id, info.path, info.md5)


def test_webdav_delete_by_the_fast_door_and_by_wsgidav(alice: RestUser) -> None:
    fast = stored(alice, "/fast.txt")
    full = stored(alice, "/full/inner.txt")
    answer = alice.basic.delete(alice.dav("fast.txt"))
    assert (answer.status_code, answer.content) == (204, b"")
    # Depth takes WsgiDAV's own DELETE.
    answer = alice.basic.delete(alice.dav("full"), headers={"Depth": "infinity"})
    assert answer.status_code == 204
    full_folder = alice.server.services.store.trash_list(alice.user.owner)[0]
    assert (full_folder.original_path.text, full_folder.files) == ("full", 1)
    assert [path for path, _ in trashed(alice)] == ["/full", "/fast.txt"]
    assert alice.basic.get(alice.dav("fast.txt")).status_code == 404
    assert_restorable(alice, fast)
    assert alice.server.services.store.trash_restore(alice.user.owner, full_folder.id)
    assert alice.basic.get(alice.dav("full/inner.txt")).content == b"content"
    assert alice.server.services.store.stat_id(alice.user.owner, full.id) is not None


def test_copy_over_a_target_trashes_it_and_move_over_one_keeps_it_as_a_version(
    alice: RestUser,
) -> None:
    stored(alice, "/source.txt", b"new")
    moved_over = stored(alice, "/moved-over.txt", b"old move target")
    copied_over = stored(alice, "/copied-over.txt", b"old copy target")
    answer = alice.basic.request(
        "COPY", alice.dav("source.txt"), headers={"Destination": alice.dav("copied-over.txt")}
    )
    assert answer.status_code == 204
    answer = alice.basic.request(
        "MOVE", alice.dav("source.txt"), headers={"Destination": alice.dav("moved-over.txt")}
    )
    assert answer.status_code == 204
    assert trashed(alice) == [("/copied-over.txt", copied_over.id)]
    # A MOVE over a file is a new content of that file (store/saves.py).
    store = alice.server.services.store
    moved = store.stat(alice.user.owner, parse_user_path("/moved-over.txt"))
    assert moved is not None and moved.id == moved_over.id
    [version] = store.versions_of(alice.user.owner, moved_over.id)
    assert version.md5 == moved_over.md5


def test_aptly_deletes_land_in_the_trash(live_server: LiveServer, alice: RestUser) -> None:
    one = stored(alice, "/repo/one.deb")
    stored(alice, "/other/two.deb")
    answer = alice.basic.delete(live_server.url("/api/files/repo/one.deb"))
    assert (answer.status_code, answer.json()) == (200, {})
    answer = alice.basic.delete(live_server.url("/api/files/other"))
    assert (answer.status_code, answer.json()) == (200, {})
    assert [path for path, _ in trashed(alice)] == ["/other", "/repo/one.deb"]
    assert_restorable(alice, one)


def test_defdrive_delete_lands_in_the_trash(live_server: LiveServer, alice: RestUser) -> None:
    info = stored(alice, "/report.pdf")
    answer = requests.delete(
        live_server.url(f"/defdrive/api/files/{info.id}"),
        headers={"Authorization": f"Bearer {alice.token}"},
        timeout=30,
    )
    assert (answer.status_code, answer.json()) == (200, {"message": "File deleted successfully"})
    assert trashed(alice) == [("/report.pdf", info.id)]
    assert_restorable(alice, info)


def test_molgenis_delete_lands_in_the_trash(live_server: LiveServer, alice: RestUser) -> None:
    info = stored(alice, "/data.csv")
    answer = requests.delete(
        live_server.url(f"/molgenis/api/files/{id_text(info.id)}"),
        headers={"x-molgenis-token": alice.token},
        timeout=30,
    )
    assert (answer.status_code, answer.content) == (204, b"")
    assert trashed(alice) == [("/data.csv", info.id)]
    assert_restorable(alice, info)


def test_okeanos_delete_lands_in_the_trash(live_server: LiveServer, alice: RestUser) -> None:
    info = stored(alice, "/notes.txt")
    answer = requests.delete(
        live_server.url("/backend/user_files"),
        headers={"Authorization": f"Token {alice.token}"},
        params={"id": info.id},
        timeout=30,
    )
    assert (answer.status_code, answer.json()) == (200, {"result": "success"})
    assert trashed(alice) == [("/notes.txt", info.id)]
    assert_restorable(alice, info)


def test_spacedog_delete_lands_in_the_trash(live_server: LiveServer, alice: RestUser) -> None:
    info = stored(alice, "/docs/a.txt")
    answer = alice.basic.delete(live_server.url("/1/file/docs/a.txt"))
    assert answer.json() == {"success": True, "status": 200, "deleted": ["/docs/a.txt"]}
    assert trashed(alice) == [("/docs/a.txt", info.id)]
    assert_restorable(alice, info)
