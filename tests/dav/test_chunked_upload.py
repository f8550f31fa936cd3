"""Nextcloud chunked upload (v1) exactly as rclone's nextcloud mode sends it."""

from __future__ import annotations

import hashlib
import os
import time

import requests

from davfiles.store import parse_user_path
from tests.dav.helpers import propfind
from tests.harness import LiveServer, TestUser

UPLOADS = "/remote.php/dav/uploads/alice/"
FILES = "/remote.php/dav/files/alice/"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def chunk_names(sizes: list[int]) -> list[str]:
    names, start = [], 0
    for size in sizes:
        names.append(f"{start:015d}-{start + size - 1:015d}")
        start += size
    return names


def upload_chunks(
    session: requests.Session, server: LiveServer, folder: str, data: bytes, sizes: list[int]
) -> None:
    assert session.delete(server.url(UPLOADS + folder + "/")).status_code in (204, 404)
    assert session.request("MKCOL", server.url(UPLOADS + folder + "/")).status_code == 201
    offset = 0
    for name, size in zip(chunk_names(sizes), sizes, strict=True):
        response = session.put(
            server.url(UPLOADS + f"{folder}/{name}"),
            data=data[offset : offset + size],
            headers=FORM,
        )
        assert response.status_code == 201
        offset += size


def alice(server: LiveServer, **quota: int | None) -> tuple[TestUser, requests.Session]:
    user = server.add_user("alice", "alice-pw", **quota)
    return user, server.session(user)


def test_rclone_sequence_assembles_the_file(live_server: LiveServer) -> None:
    user, session = alice(live_server)
    session.request("MKCOL", live_server.url(FILES + "backup/"))
    data = os.urandom(2_500_000)
    folder = "rclone-chunked-upload-" + hashlib.md5(b"backup/big.bin").hexdigest()
    upload_chunks(session, live_server, folder, data, [1_000_000, 1_000_000, 500_000])
    store = live_server.services.store
    assert store.usage(user.owner).used_bytes == 0
    merged = session.request(
        "MOVE",
        live_server.url(UPLOADS + folder + "/.file"),
        headers={
            "Destination": live_server.url(FILES + "backup/big.bin"),
            "X-OC-Mtime": "1600000000",
            "OC-Checksum": "SHA1:" + hashlib.sha1(data).hexdigest(),
        },
    )
    assert merged.status_code == 201
    assert merged.headers["X-OC-Mtime"] == "accepted"
    assert session.get(live_server.url("/dav/backup/big.bin")).content == data
    props = propfind(session, live_server.url("/dav/backup/big.bin"), props=("getlastmodified",))
    assert props["/dav/backup/big.bin"]["getlastmodified"] == "Sun, 13 Sep 2020 12:26:40 GMT"
    assert store.usage(user.owner).used_bytes == len(data)
    assert (
        session.request(
            "PROPFIND", live_server.url(UPLOADS + folder + "/"), headers={"Depth": "0"}
        ).status_code
        == 404
    )


def test_chunks_are_sorted_naturally_and_overwrite_counts_the_delta(
    live_server: LiveServer,
) -> None:
    user, session = alice(live_server)
    session.put(live_server.url("/dav/f.bin"), data=b"old" * 10)
    session.request("MKCOL", live_server.url(UPLOADS + "u1/"))
    for name, part in (("10", b"c"), ("2", b"b"), ("1", b"a")):
        session.put(live_server.url(UPLOADS + f"u1/{name}"), data=part)
    merged = session.request(
        "MOVE",
        live_server.url(UPLOADS + "u1/.file"),
        headers={"Destination": live_server.url(FILES + "f.bin")},
    )
    assert merged.status_code == 204
    assert session.get(live_server.url("/dav/f.bin")).content == b"abc"
    # The replaced content is kept as a version, in the quota beside the new one.
    store = live_server.services.store
    assert store.usage(user.owner).used_bytes == 3 + 30
    info = store.stat(user.owner, parse_user_path("/f.bin"))
    assert info is not None
    assert [version.size for version in store.versions_of(user.owner, info.id)] == [30]


def test_quota_holds_for_waiting_chunks_and_assembly(live_server: LiveServer) -> None:
    user, session = alice(live_server, max_bytes=1000)
    session.request("MKCOL", live_server.url(UPLOADS + "big/"))
    assert session.put(live_server.url(UPLOADS + "big/1"), data=b"x" * 800).status_code == 201
    assert session.put(live_server.url(UPLOADS + "big/2"), data=b"x" * 300).status_code == 507
    session.put(live_server.url("/dav/other.bin"), data=b"y" * 500)
    refused = session.request(
        "MOVE",
        live_server.url(UPLOADS + "big/.file"),
        headers={"Destination": live_server.url(FILES + "big.bin")},
    )
    assert refused.status_code == 507
    assert session.get(live_server.url("/dav/big.bin")).status_code == 404
    assert live_server.services.store.usage(user.owner).used_bytes == 500


def test_checksum_mismatch_and_wrong_total_store_nothing(live_server: LiveServer) -> None:
    user, session = alice(live_server)
    upload_chunks(session, live_server, "c1", b"0123456789", [5, 5])
    bad = session.request(
        "MOVE",
        live_server.url(UPLOADS + "c1/.file"),
        headers={
            "Destination": live_server.url(FILES + "x.bin"),
            "OC-Checksum": "SHA1:" + "0" * 40,
        },
    )
    assert bad.status_code == 400
    short = session.request(
        "MOVE",
        live_server.url(UPLOADS + "c1/.file"),
        headers={"Destination": live_server.url(FILES + "x.bin"), "OC-Total-Length": "11"},
    )
    assert short.status_code == 400
    assert session.get(live_server.url("/dav/x.bin")).status_code == 404
    assert live_server.services.store.usage(user.owner).used_files == 0


def test_other_users_upload_area_is_refused(live_server: LiveServer) -> None:
    _user, session = alice(live_server)
    live_server.add_user("bob", "bob-pw")
    assert (
        session.request("MKCOL", live_server.url("/remote.php/dav/uploads/bob/x/")).status_code
        == 403
    )
    assert (
        session.request(
            "PROPFIND", live_server.url("/remote.php/dav/files/bob/"), headers={"Depth": "0"}
        ).status_code
        == 403
    )


def test_abandoned_upload_folders_expire(live_server: LiveServer) -> None:
    user, session = alice(live_server)
    upload_chunks(session, live_server, "stale", b"abc", [3])
    chunked = live_server.services.store.chunked_uploads
    folder = chunked._folder(user.owner, "stale")
    day_old = time.time() - 25 * 3600
    os.utime(folder, (day_old, day_old))
    assert chunked.expire() == 1
    assert chunked.folders(user.owner) == []


def test_chunks_keep_no_properties_and_touch_no_home_file(live_server: LiveServer) -> None:
    _user, session = alice(live_server)
    session.request("MKCOL", live_server.url("/dav/p1/"))
    session.put(live_server.url("/dav/p1/c1"), data=b"home file")
    upload_chunks(session, live_server, "p1", b"chunk", [5])
    body = (
        '<?xml version="1.0"?><d:propertyupdate xmlns:d="DAV:" xmlns:z="urn:z"><d:set>'
        "<d:prop><z:color>red</z:color></d:prop></d:set></d:propertyupdate>"
    )
    chunk = chunk_names([5])[0]
    patched = session.request("PROPPATCH", live_server.url(UPLOADS + f"p1/{chunk}"), data=body)
    assert patched.status_code == 207 and b"403" in patched.content
    session.put(live_server.url(f"/dav/p1/{chunk}"), data=b"same relative path in the home")
    query = (
        '<?xml version="1.0"?><d:propfind xmlns:d="DAV:" xmlns:z="urn:z"><d:prop><z:color/>'
        "</d:prop></d:propfind>"
    )
    home_props = session.request(
        "PROPFIND", live_server.url(f"/dav/p1/{chunk}"), data=query, headers={"Depth": "0"}
    )
    assert b"red" not in home_props.content
