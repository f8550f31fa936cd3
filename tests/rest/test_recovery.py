"""davfiles' JSON API for the trash and versions: a client's mass delete found by its
address and restored in one call, bulk purge, a file's versions listed, labelled and
restored; every answer matches /openapi.json (checked by the live_server fixture)."""

from __future__ import annotations

import time
from pathlib import Path

from davfiles.app import create_services
from davfiles.config import Settings
from davfiles.store import parse_user_path as p
from tests.deployment import NewDatabase
from tests.harness import LiveServer
from tests.rest.conftest import RestUser
from tests.security.rawhttp import basic, raw_request


def call(user: RestUser, method: str, path: str, status: int = 200, **kwargs: object) -> dict:
    return user.api(method, path, status, **kwargs)


def test_a_mass_delete_is_restored_in_one_call(live_server: LiveServer, alice: RestUser) -> None:
    dav = alice.basic
    assert dav.request("MKCOL", alice.dav("photos")).status_code == 201
    for name in ("a.jpg", "b.jpg", "c.jpg"):
        assert dav.put(alice.dav(f"photos/{name}"), data=name.encode()).status_code == 201
        assert dav.delete(alice.dav(f"photos/{name}")).status_code == 204
    assert dav.put(alice.dav("keep.txt"), data=b"k").status_code == 201
    assert dav.delete(alice.dav("keep.txt")).status_code == 204

    items = call(alice, "GET", "/trash", params={"folder": "/photos"})["items"]
    photos = ["/photos/a.jpg", "/photos/b.jpg", "/photos/c.jpg"]
    assert sorted(item["path"] for item in items) == photos
    assert {item["origin"] for item in items} == {"127.0.0.1"}
    restored = call(alice, "POST", "/trash/restore", json={"all": True, "folder": "/photos"})
    assert sorted(entry["path"] for entry in restored["restored"]) == photos
    assert dav.get(alice.dav("photos/b.jpg")).content == b"b.jpg"
    [left] = call(alice, "GET", "/trash")["items"]
    assert left["path"] == "/keep.txt"
    call(alice, "POST", "/trash/restore", 400, json={})
    purged = call(alice, "POST", "/trash/purge", json={"ids": [left["id"]]})
    assert purged == {"purged": [left["id"]], "bytes": 1}
    assert call(alice, "GET", "/trash")["items"] == []
    call(alice, "GET", "/trash", 400, params={"since": "yesterday"})


def test_versions_are_listed_labelled_and_restored(
    live_server: LiveServer, alice: RestUser
) -> None:
    dav = alice.basic
    assert dav.put(alice.dav("plan.txt"), data=b"one").status_code == 201
    assert dav.put(alice.dav("plan.txt"), data=b"two!").status_code == 204
    [info] = live_server.services.store.list_files(alice.user.owner)
    [version] = call(alice, "GET", f"/files/{info.id}/versions")["versions"]
    assert (version["size"], version["author"], version["label"]) == (3, "alice", None)
    labelled = call(alice, "PUT", f"/versions/{version['id']}/label", json={"label": "v1"})
    assert labelled["version"]["label"] == "v1"
    restored = call(alice, "POST", f"/versions/{version['id']}/restore")
    assert (restored["file_id"], restored["path"]) == (info.id, "/plan.txt")
    assert dav.get(alice.dav("plan.txt")).content == b"one"
    sizes = [v["size"] for v in call(alice, "GET", f"/files/{info.id}/versions")["versions"]]
    assert sizes == [4, 3]
    call(alice, "POST", "/versions/999999/restore", 404)
    call(alice, "PUT", f"/versions/{version['id']}/label", 400, json={"label": 5})


def test_a_bulk_restore_lists_what_failed_and_restores_the_rest(
    live_server: LiveServer, alice: RestUser
) -> None:
    dav = alice.basic
    assert dav.request("MKCOL", alice.dav("d")).status_code == 201
    assert dav.put(alice.dav("d/f.txt"), data=b"f").status_code == 201
    assert dav.put(alice.dav("g.txt"), data=b"g").status_code == 201
    assert dav.delete(alice.dav("d/f.txt")).status_code == 204
    assert dav.delete(alice.dav("d")).status_code == 204
    assert dav.delete(alice.dav("g.txt")).status_code == 204
    assert dav.put(alice.dav("d"), data=b"now a file").status_code == 201
    items = {item["path"]: item["id"] for item in call(alice, "GET", "/trash")["items"]}
    ids = [items["/d/f.txt"], items["/g.txt"]]
    answer = call(alice, "POST", "/trash/restore", json={"ids": ids})
    assert [entry["path"] for entry in answer["restored"]] == ["/g.txt"]
    [failed] = answer["failed"]
    assert failed["id"] == items["/d/f.txt"] and "is a file" in failed["error"]
    assert dav.get(alice.dav("g.txt")).content == b"g"


def test_a_version_whose_bytes_are_gone_is_not_found(
    live_server: LiveServer, alice: RestUser
) -> None:
    dav = alice.basic
    assert dav.put(alice.dav("plan.txt"), data=b"one").status_code == 201
    assert dav.put(alice.dav("plan.txt"), data=b"two!").status_code == 204
    store = live_server.services.store
    [info] = store.list_files(alice.user.owner)
    [version] = store.versions_of(alice.user.owner, info.id)
    (store.versions_dir / str(alice.user.owner.id) / version.disk_name).unlink()
    call(alice, "POST", f"/versions/{version.id}/restore", 404)
    assert dav.get(alice.dav("plan.txt")).content == b"two!"


def test_one_clients_mass_delete_is_found_by_door_and_agent_and_restored_in_one_call(
    live_server: LiveServer, alice: RestUser
) -> None:
    """The trash names the door and User-Agent of each delete: one call restores what rclone
    deleted, and leaves what the desktop client and a REST dialect deleted."""
    dav = alice.basic
    started = time.time() - 1
    ids = {}
    for name in ("sync/a.txt", "sync/b.txt", "sync/c.txt", "apt/p.deb"):
        folder = name.partition("/")[0]
        if dav.request("PROPFIND", alice.dav(folder), headers={"Depth": "0"}).status_code == 404:
            assert dav.request("MKCOL", alice.dav(folder)).status_code == 201
        assert dav.put(alice.dav(name), data=name.encode()).status_code == 201
        ids["/" + name] = live_server.services.store.stat(alice.user.owner, p(name)).id
    rclone = {"User-Agent": "rclone/v1.60.1"}
    assert dav.delete(alice.dav("sync/a.txt"), headers=rclone).status_code == 204
    # With Depth, WsgiDAV's own DELETE: the same door for the user as the fast one.
    depth = {**rclone, "Depth": "infinity"}
    assert dav.delete(alice.dav("sync/b.txt"), headers=depth).status_code == 204
    desktop = {"User-Agent": "Mozilla/5.0 (Linux) mirall/3.13.0 (Nextcloud)"}
    assert dav.delete(alice.dav("sync/c.txt"), headers=desktop).status_code == 204
    assert dav.delete(live_server.url("/api/files/apt/p.deb")).status_code == 200

    everything = call(alice, "GET", "/trash")["items"]
    who = {item["path"]: (item["door"], item["agent"]) for item in everything}
    assert who == {
        "/sync/a.txt": ("webdav", "rclone/v1.60.1"),
        "/sync/b.txt": ("webdav", "rclone/v1.60.1"),
        "/sync/c.txt": ("webdav", desktop["User-Agent"]),
        "/apt/p.deb": ("rest:aptly", dav.headers["User-Agent"]),
    }
    by_door = call(alice, "GET", "/trash", params={"door": "rest:aptly"})["items"]
    assert [item["path"] for item in by_door] == ["/apt/p.deb"]
    filters = {"door": "webdav", "agent": "RCLONE", "since": started, "until": time.time() + 1}
    found = call(alice, "GET", "/trash", params=filters)["items"]
    assert sorted(item["path"] for item in found) == ["/sync/a.txt", "/sync/b.txt"]

    restored = call(alice, "POST", "/trash/restore", json={"all": True, **filters})["restored"]
    assert sorted((e["path"], e["file_id"]) for e in restored) == [
        ("/sync/a.txt", ids["/sync/a.txt"]),
        ("/sync/b.txt", ids["/sync/b.txt"]),
    ]
    assert dav.get(alice.dav("sync/a.txt")).content == b"sync/a.txt"
    left = sorted(item["path"] for item in call(alice, "GET", "/trash")["items"])
    assert left == ["/apt/p.deb", "/sync/c.txt"]
    purged = call(alice, "POST", "/trash/purge", json={"all": True, "agent": "mirall"})
    assert purged["bytes"] == len(b"sync/c.txt")
    assert call(alice, "GET", "/trash", params={"agent": "%"})["items"] == []
    call(alice, "POST", "/trash/restore", 400, json={"all": True, "door": 5})


def test_a_user_agent_with_control_characters_is_kept_printable(
    new_database: NewDatabase, tmp_path: Path
) -> None:
    """A NUL in a User-Agent (which PostgreSQL stores in no text) does not fail the delete."""
    services = create_services(Settings(data_dir=tmp_path / "data", database_url=new_database()))
    server = LiveServer(services)
    try:
        user = server.add_user("alice")
        assert server.session(user).put(server.url("/dav/f.txt"), data=b"f").status_code == 201
        headers = {"Authorization": basic(user), "User-Agent": "sync\x00tool\x01 caf\xe9"}
        status, _answer = raw_request(server.port, "DELETE", b"/dav/f.txt", headers)
        assert status == 204
        [entry] = services.store.trash_list(user.owner)
        assert entry.agent == "sync?tool? caf\xe9"
    finally:
        server.stop()
        services.close()
