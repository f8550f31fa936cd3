"""What ownCloud/Nextcloud clients rely on: oc: properties, X-OC-Mtime, OC-Checksum, paths."""

from __future__ import annotations

import hashlib
import xml.etree.ElementTree as ET

import requests

from davfiles.store import parse_user_path
from tests.dav.helpers import LOCK_BODY, propfind
from tests.harness import LiveServer

OC = "{http://owncloud.org/ns}"
OC_PROPFIND = (
    '<?xml version="1.0"?><d:propfind xmlns:d="DAV:" xmlns:oc="http://owncloud.org/ns">'
    "<d:prop><d:getlastmodified/><d:getcontentlength/><d:resourcetype/><oc:checksums/>"
    "<oc:fileid/><oc:id/><oc:permissions/><oc:size/></d:prop></d:propfind>"
)


def oc_props(session: requests.Session, url: str, depth: str = "0") -> dict[str, dict[str, str]]:
    response = session.request("PROPFIND", url, data=OC_PROPFIND, headers={"Depth": depth})
    assert response.status_code == 207
    result = {}
    for entry in ET.fromstring(response.content).iter("{DAV:}response"):
        values = {}
        for child in entry.iter():
            if child.tag.startswith(OC) and child.tag != OC + "checksums":
                values[child.tag[len(OC) :]] = child.text or ""
        result[entry.findtext("{DAV:}href") or ""] = values
    return result


def test_put_with_mtime_and_checksum(live_server: LiveServer) -> None:
    user = live_server.add_user("oc", "oc-pw")
    session = live_server.session(user)
    url = live_server.url("/remote.php/webdav/photo.jpg")
    data = b"jpeg bytes"
    sha1 = hashlib.sha1(data).hexdigest()
    response = session.put(
        url, data=data, headers={"X-OC-Mtime": "1500000000", "OC-Checksum": f"SHA1:{sha1}"}
    )
    assert response.status_code == 201
    assert response.headers["X-OC-Mtime"] == "accepted"
    assert response.headers["OC-FileId"].isdigit()
    props = propfind(session, url, props=("getlastmodified",))
    assert props["/remote.php/webdav/photo.jpg"]["getlastmodified"] == (
        "Fri, 14 Jul 2017 02:40:00 GMT"
    )
    oc = oc_props(session, url)["/remote.php/webdav/photo.jpg"]
    assert oc["checksum"] == f"SHA1:{sha1} MD5:{hashlib.md5(data).hexdigest()}"
    assert oc["fileid"] == oc["id"] == response.headers["OC-FileId"]
    assert oc["permissions"] == "RDNVW"
    assert oc["size"] == str(len(data))


def test_checksum_mismatch_stores_nothing(live_server: LiveServer) -> None:
    user = live_server.add_user("oc", "oc-pw")
    session = live_server.session(user)
    url = live_server.url("/remote.php/webdav/bad.bin")
    refused = session.put(url, data=b"payload", headers={"OC-Checksum": "SHA1:" + "0" * 40})
    assert refused.status_code == 400
    assert session.get(url).status_code == 404
    assert live_server.services.store.usage(user.owner).used_bytes == 0


def test_proppatch_lastmodified_and_copy_move_with_mtime(live_server: LiveServer) -> None:
    user = live_server.add_user("oc", "oc-pw")
    session = live_server.session(user)
    url = live_server.url("/dav/doc.txt")
    session.put(url, data=b"text")
    body = (
        '<?xml version="1.0"?><d:propertyupdate xmlns:d="DAV:" '
        'xmlns:oc="http://owncloud.org/ns"><d:set><d:prop>'
        '<lastmodified xmlns="DAV:">1600000000</lastmodified>'
        "<oc:checksums><oc:checksum>SHA1:abc</oc:checksum></oc:checksums>"
        "</d:prop></d:set></d:propertyupdate>"
    )
    patched = session.request("PROPPATCH", url, data=body)
    assert patched.status_code == 207
    assert b"200 OK" in patched.content and b"403" not in patched.content
    assert (
        propfind(session, url, props=("getlastmodified",))["/dav/doc.txt"]["getlastmodified"]
        == "Sun, 13 Sep 2020 12:26:40 GMT"
    )
    copied = session.request(
        "COPY",
        url,
        headers={"Destination": live_server.url("/dav/copy.txt"), "X-OC-Mtime": "1700000000"},
    )
    assert copied.status_code == 201
    assert copied.headers["X-OC-Mtime"] == "accepted"
    assert (
        propfind(session, live_server.url("/dav/copy.txt"), props=("getlastmodified",))[
            "/dav/copy.txt"
        ]["getlastmodified"]
        == "Tue, 14 Nov 2023 22:13:20 GMT"
    )


def test_nextcloud_paths_serve_the_same_home(live_server: LiveServer) -> None:
    alice = live_server.add_user("alice", "alice-pw")
    live_server.add_user("bob", "bob-pw")
    session = live_server.session(alice)
    session.put(live_server.url("/dav/shared.txt"), data=b"one home")
    for path in ("/remote.php/webdav/shared.txt", "/remote.php/dav/files/alice/shared.txt"):
        assert session.get(live_server.url(path)).content == b"one home"
    listing = oc_props(session, live_server.url("/remote.php/dav/files/alice/"), depth="1")
    assert "/remote.php/dav/files/alice/shared.txt" in listing
    assert listing["/remote.php/dav/files/alice/"]["permissions"] == "RDNVCK"
    assert session.get(live_server.url("/remote.php/dav/files/bob/")).status_code == 403
    moved = session.request(
        "MOVE",
        live_server.url("/remote.php/dav/files/alice/shared.txt"),
        headers={"Destination": live_server.url("/remote.php/dav/files/alice/renamed.txt")},
    )
    assert moved.status_code == 201
    assert session.get(live_server.url("/dav/renamed.txt")).content == b"one home"


def test_locks_are_shared_by_every_mount_of_a_home(live_server: LiveServer) -> None:
    user = live_server.add_user("alice", "alice-pw")
    session = live_server.session(user)
    session.put(live_server.url("/dav/locked.txt"), data=b"x")
    locked = session.request("LOCK", live_server.url("/dav/locked.txt"), data=LOCK_BODY)
    assert locked.status_code == 200
    for path in ("/remote.php/webdav/locked.txt", "/remote.php/dav/files/alice/locked.txt"):
        assert session.put(live_server.url(path), data=b"y").status_code == 423


def test_the_headers_and_codes_sync_clients_insist_on(live_server: LiveServer) -> None:
    """PUT/MKCOL/MOVE answer the id and ETag a later PROPFIND shows; rename MOVE is 201,
    overwrite 204, DELETE 204, MKCOL 201 or 405; every entry has oc:id and oc:permissions."""
    user = live_server.add_user("nc", "nc-pw")
    session = live_server.session(user)
    base = "/remote.php/dav/files/nc/"
    made = session.request("MKCOL", live_server.url(base + "Docs"))
    assert made.status_code == 201
    assert session.request("MKCOL", live_server.url(base + "Docs")).status_code == 405
    url = live_server.url(base + "Docs/a.txt")
    for body, status in ((b"first", 201), (b"second version", 204)):
        put = session.put(url, data=body, headers={"X-OC-Mtime": "1700000000"})
        assert put.status_code == status
        assert put.headers["X-OC-Mtime"] == "accepted"
        assert put.headers["ETag"] == put.headers["OC-ETag"]
        shown = propfind(session, url, props=("getetag",))[base + "Docs/a.txt"]["getetag"]
        assert put.headers["ETag"] == f'"{shown}"' == f'"{hashlib.md5(body).hexdigest()}"'
    info = live_server.services.store.stat(user.owner, parse_user_path("/Docs/a.txt"))
    assert info is not None and info.modified_at == 1700000000.0
    listing = oc_props(session, live_server.url(base), depth="1")
    assert listing[base + "Docs/"]["id"] == made.headers["OC-FileId"]
    assert listing[base]["permissions"] == listing[base + "Docs/"]["permissions"] == "RDNVCK"
    assert all(values["id"] and values["permissions"] for values in listing.values())
    file_id = oc_props(session, url)[base + "Docs/a.txt"]["id"]
    renamed = session.request("MOVE", url, headers={"Destination": base + "Docs/b.txt"})
    assert renamed.status_code == 201
    assert renamed.headers["OC-FileId"] == file_id
    session.put(url, data=b"other")
    replaced_id = oc_props(session, url)[base + "Docs/a.txt"]["id"]
    assert replaced_id != file_id
    overwritten = session.request(
        "MOVE", live_server.url(base + "Docs/b.txt"), headers={"Destination": base + "Docs/a.txt"}
    )
    assert overwritten.status_code == 204
    # A file moved over a file is that file's new content: the target keeps its id
    # (store/saves.py), and the answer names it.
    assert overwritten.headers["OC-FileId"] == replaced_id
    assert oc_props(session, url)[base + "Docs/a.txt"]["id"] == replaced_id
    assert session.delete(url).status_code == 204
    assert session.delete(live_server.url(base + "Docs")).status_code == 204
