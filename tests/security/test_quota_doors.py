"""Quota is a hard ceiling through every door, also under real parallel clients.

Every upload door (WebDAV PUT, Nextcloud chunk assembly, COPY of a collection, the five REST
dialects) is raced by parallel HTTP clients against one small quota while a watcher samples
the usage counters; every delete door frees space at once; the usage WebDAV reports is what
the store holds.
"""

from __future__ import annotations

import threading
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

import pytest
import requests

from davfiles.app import Services
from davfiles.config import Settings
from davfiles.rest.molgenis import id_text
from davfiles.store import Owner, parse_user_path
from tests.harness import LiveServer, TestUser
from tests.kept import disk_bytes, kept_bytes, live_usage

SIZE = 1000
LIMIT = 10 * SIZE
CLIENTS = 16
Upload = Callable[[requests.Session, str, int], int]


def webdav_put(session: requests.Session, base: str, index: int) -> int:
    return session.put(f"{base}/dav/f{index}.bin", data=b"w" * SIZE).status_code


def okeanos(session: requests.Session, base: str, index: int) -> int:
    files = {"file": (f"o{index}.bin", b"o" * SIZE)}
    return session.put(f"{base}/backend/user_files", files=files).status_code


def defdrive(session: requests.Session, base: str, index: int) -> int:
    files = {"file": (f"d{index}.bin", b"d" * SIZE)}
    return session.post(f"{base}/defdrive/api/upload", files=files).status_code


def aptly(session: requests.Session, base: str, index: int) -> int:
    files = {"file": (f"a{index}.bin", b"a" * SIZE)}
    return session.post(f"{base}/api/files/up{index}", files=files).status_code


def spacedog(session: requests.Session, base: str, index: int) -> int:
    return session.put(f"{base}/1/file/s/{index}.bin", data=b"s" * SIZE).status_code


def molgenis(session: requests.Session, base: str, index: int) -> int:
    headers = {"x-molgenis-filename": f"m{index}.bin"}
    return session.post(f"{base}/molgenis/api/files", data=b"m" * SIZE, headers=headers).status_code


def chunked(session: requests.Session, base: str, index: int) -> int:
    folder = f"{base}/remote.php/dav/uploads/racer/u{index}"
    if session.request("MKCOL", folder).status_code != 201:
        return 0
    for part in range(2):
        status = session.put(f"{folder}/{part:04d}", data=b"c" * (SIZE // 2)).status_code
        if status != 201:
            return status
    destination = f"{base}/remote.php/dav/files/racer/c{index}.bin"
    return session.request(
        "MOVE", f"{folder}/.file", headers={"Destination": destination}
    ).status_code


def stream_put(session: requests.Session, base: str, index: int) -> int:
    """A body of unknown length (chunked transfer), counted while it streams."""
    body = iter([b"t" * (SIZE // 2), b"t" * (SIZE // 2)])
    return session.put(f"{base}/dav/t{index}.bin", data=body).status_code


DOORS: dict[str, Upload] = {
    "webdav": webdav_put,
    "webdav-streamed": stream_put,
    "nextcloud-chunks": chunked,
    "okeanos": okeanos,
    "defdrive": defdrive,
    "aptly": aptly,
    "spacedog": spacedog,
    "molgenis": molgenis,
}
STORED = {200, 201, 204}
REFUSED = {403, 507}


@pytest.fixture
def settings(tmp_path: Path, database_url: str | None) -> Settings:
    """More uploads in flight than clients, so only the quota refuses (not the upload cap)."""
    return Settings(
        data_dir=tmp_path / "data", database_url=database_url, max_uploads_per_user=4 * CLIENTS
    )


def assert_usage_is_what_the_store_holds(services: Services, owner: Owner) -> int:
    """Live files, trash and versions are what the counters say and what the disk holds."""
    usage = services.store.usage(owner)
    files = services.store.list_files(owner)
    live = sum(f.size for f in files)
    assert (usage.used_bytes, usage.used_files) == (live + kept_bytes(services, owner), len(files))
    assert usage.used_bytes == disk_bytes(services, owner)
    assert usage.max_bytes is None or usage.used_bytes <= usage.max_bytes
    return usage.used_bytes


def race(server: LiveServer, user: TestUser, uploads: list[Upload]) -> tuple[list[int], int]:
    """Run the uploads in parallel clients; the statuses and the highest usage seen meanwhile."""
    statuses: list[int] = [0] * len(uploads)
    start = threading.Barrier(len(uploads) + 1)
    done = threading.Event()
    peak = [0]

    def client(index: int) -> None:
        session = server.session(user)
        start.wait()
        statuses[index] = uploads[index](session, server.base, index)

    def watch() -> None:
        start.wait()
        for _ in range(100_000):
            peak[0] = max(peak[0], server.services.store.usage(user.owner).used_bytes)
            if done.is_set():
                return

    threads = [threading.Thread(target=client, args=(i,)) for i in range(len(uploads))]
    watcher = threading.Thread(target=watch)
    for thread in [*threads, watcher]:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    done.set()
    watcher.join(timeout=30)
    return statuses, peak[0]


@pytest.mark.parametrize("door", list(DOORS))
def test_parallel_uploads_through_one_door_never_pass_the_quota(
    live_server: LiveServer, door: str
) -> None:
    user = live_server.add_user("racer", "racer-pw", max_bytes=LIMIT, max_files=100)
    statuses, peak = race(live_server, user, [DOORS[door]] * CLIENTS)
    assert set(statuses) <= STORED | REFUSED, statuses
    stored = sum(status in STORED for status in statuses)
    assert 1 <= stored <= LIMIT // SIZE
    assert peak <= LIMIT
    used = assert_usage_is_what_the_store_holds(live_server.services, user.owner)
    assert used == stored * SIZE


def test_parallel_uploads_through_every_door_at_once_never_pass_the_quota(
    live_server: LiveServer,
) -> None:
    user = live_server.add_user("racer", "racer-pw", max_bytes=LIMIT, max_files=12)
    doors = list(DOORS.values())
    uploads = [doors[i % len(doors)] for i in range(2 * CLIENTS)]
    statuses, peak = race(live_server, user, uploads)
    stored = sum(status in STORED for status in statuses)
    assert 1 <= stored <= LIMIT // SIZE
    assert peak <= LIMIT
    usage = live_server.services.store.usage(user.owner)
    assert usage.used_files <= 12
    assert assert_usage_is_what_the_store_holds(live_server.services, user.owner) == stored * SIZE


def test_copy_of_a_collection_is_refused_whole(live_server: LiveServer) -> None:
    user = live_server.add_user("racer", "racer-pw", max_bytes=LIMIT, max_files=None)
    session = live_server.session(user)
    assert session.request("MKCOL", live_server.url("/dav/tree")).status_code == 201
    for index in range(6):
        put = session.put(live_server.url(f"/dav/tree/{index}.bin"), data=b"x" * SIZE)
        assert put.status_code == 201
    for url in ("/dav/copy", "/remote.php/dav/files/racer/copy"):
        source = url.rsplit("/", 1)[0] + "/tree"
        copy = session.request(
            "COPY", live_server.url(source), headers={"Destination": live_server.url(url)}
        )
        assert copy.status_code == 507
    assert live_server.services.store.stat(user.owner, parse_user_path("/copy")) is None
    assert assert_usage_is_what_the_store_holds(live_server.services, user.owner) == 6 * SIZE


DELETES: dict[str, Callable[[requests.Session, str, int, str], int]] = {
    "webdav": lambda s, base, _id, name: s.delete(f"{base}/dav/{name}").status_code,
    "nextcloud": lambda s, base, _id, name: (
        s.delete(f"{base}/remote.php/dav/files/racer/{name}").status_code
    ),
    "okeanos": lambda s, base, file_id, _name: (
        s.delete(f"{base}/backend/user_files", params={"id": file_id}).status_code
    ),
    "defdrive": lambda s, base, file_id, _name: (
        s.delete(f"{base}/defdrive/api/files/{file_id}").status_code
    ),
    "aptly": lambda s, base, _id, name: s.delete(f"{base}/api/files/box/{name}").status_code,
    "spacedog": lambda s, base, _id, name: s.delete(f"{base}/1/file/box/{name}").status_code,
    "molgenis": lambda s, base, file_id, _name: (
        s.delete(f"{base}/molgenis/api/files/{id_text(file_id)}").status_code
    ),
}


@pytest.mark.parametrize("door", list(DELETES))
def test_delete_frees_the_space_at_once(live_server: LiveServer, door: str) -> None:
    user = live_server.add_user("racer", "racer-pw", max_bytes=2 * SIZE, max_files=None)
    session = live_server.session(user)
    in_box = door in ("aptly", "spacedog")
    folder = "/box" if in_box else ""
    if in_box:
        assert session.request("MKCOL", live_server.url("/dav/box")).status_code == 201
    for name in ("a.bin", "b.bin"):
        put = session.put(live_server.url(f"/dav{folder}/{name}"), data=b"x" * SIZE)
        assert put.status_code == 201
    assert session.put(live_server.url("/dav/c.bin"), data=b"x" * SIZE).status_code == 507
    info = live_server.services.store.stat(user.owner, parse_user_path(f"{folder}/a.bin"))
    assert info is not None
    status = DELETES[door](session, live_server.base, info.id, "a.bin")
    assert status in (200, 204), status
    # The deleted file waits in the trash, and its bytes are there for the next write.
    assert live_usage(live_server.services, user.owner) == (SIZE, 1)
    assert live_server.services.store.usage(user.owner).available_bytes == SIZE
    assert session.put(live_server.url("/dav/c.bin"), data=b"x" * SIZE).status_code == 201
    assert live_server.services.store.trash_list(user.owner) == []  # evicted for it
    assert_usage_is_what_the_store_holds(live_server.services, user.owner)


def reported_used_bytes(session: requests.Session, url: str) -> int:
    body = (
        '<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:prop>'
        "<D:quota-used-bytes/><D:quota-available-bytes/></D:prop></D:propfind>"
    )
    response = session.request("PROPFIND", url, data=body, headers={"Depth": "0"})
    assert response.status_code == 207
    used = ET.fromstring(response.content).findtext(".//{DAV:}quota-used-bytes")
    assert used is not None
    return int(used)


def test_reported_usage_equals_the_store_after_every_door(live_server: LiveServer) -> None:
    user = live_server.add_user("racer", "racer-pw", max_bytes=100 * SIZE, max_files=None)
    session = live_server.session(user)
    for index, upload in enumerate(DOORS.values()):
        assert upload(session, live_server.base, index) in STORED
        held = assert_usage_is_what_the_store_holds(live_server.services, user.owner)
        for url in ("/dav/", "/remote.php/webdav/", "/remote.php/dav/files/racer/"):
            assert reported_used_bytes(session, live_server.url(url)) == held
    assert held == len(DOORS) * SIZE
