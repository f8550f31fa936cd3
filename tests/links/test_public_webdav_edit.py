"""COPY, LOCK/UNLOCK and PROPPATCH on an edit link's public WebDAV, and the properties each
link kind shows: copies go through the store (quota, versions), locks are the main door's."""

from __future__ import annotations

import requests
from defusedxml import ElementTree

from davfiles.store import parse_user_path as p
from tests.harness import LiveServer, TestUser
from tests.links.helpers import make_link

DAV = "{DAV:}"
OC = "{http://owncloud.org/ns}"
LOCKINFO = (
    b'<?xml version="1.0" encoding="utf-8"?><d:lockinfo xmlns:d="DAV:">'
    b"<d:lockscope><d:exclusive/></d:lockscope><d:locktype><d:write/></d:locktype>"
    b"<d:owner>Microsoft-WebDAV</d:owner></d:lockinfo>"
)


def prepared(server: LiveServer, max_bytes: int | None = None) -> TestUser:
    alice = server.add_user("alice", max_bytes=max_bytes)
    dav = server.session(alice)
    assert dav.request("MKCOL", server.url("/dav/team")).status_code == 201
    assert dav.request("MKCOL", server.url("/dav/team/sub")).status_code == 201
    assert dav.put(server.url("/dav/team/doc.txt"), data=b"doc v1").ok
    assert dav.put(server.url("/dav/team/sub/in.txt"), data=b"inner").ok
    return alice


def props(answer: requests.Response) -> dict[str, dict[str, str]]:
    """href -> {property tag: text} of a 207 PROPFIND answer."""
    assert answer.status_code == 207, answer.text
    found = {}
    for response in ElementTree.fromstring(answer.content).iter(f"{DAV}response"):
        href = response.findtext(f"{DAV}href") or ""
        found[href] = {element.tag: element.text or "" for element in response.iter()}
    return found


def test_copy_within_an_edit_link(live_server: LiveServer) -> None:
    alice = prepared(live_server, max_bytes=100_000)
    link = make_link(live_server, alice, "team", "edit")
    base = live_server.url(f"/public.php/dav/files/{link.token}")
    store = live_server.services.store

    def copy(source: str, target: str, **headers: str) -> requests.Response:
        headers["Destination"] = base + target
        return requests.request("COPY", base + source, headers=headers, timeout=30)

    assert copy("/doc.txt", "/doc%20copy.txt").status_code == 201
    assert requests.get(base + "/doc%20copy.txt", timeout=30).content == b"doc v1"
    assert copy("/sub", "/sub2").status_code == 201
    assert store.stat(alice.owner, p("team/sub2/in.txt")) is not None
    # A file copied over a file is its new content: the old one is kept as a version.
    before = store.stat(alice.owner, p("team/doc copy.txt"))
    assert copy("/sub/in.txt", "/doc%20copy.txt").status_code == 204
    after = store.stat(alice.owner, p("team/doc copy.txt"))
    assert before is not None and after is not None and after.id == before.id
    assert [v.size for v in store.versions_of(alice.owner, after.id)] == [6]
    assert requests.get(base + "/doc%20copy.txt", timeout=30).content == b"inner"
    assert copy("/doc.txt", "/sub2/in.txt", Overwrite="F").status_code == 412
    outside = requests.request(
        "COPY", base + "/doc.txt", headers={"Destination": live_server.url("/dav/x.txt")}
    )
    assert outside.status_code == 502
    assert copy("/", "/sub/whole").status_code == 409
    # The owner's quota counts the copies.
    assert requests.put(base + "/big.bin", data=b"x" * 60_000, timeout=30).status_code == 201
    assert copy("/big.bin", "/big2.bin").status_code == 507
    assert store.stat(alice.owner, p("team/big2.bin")) is None


def test_locks_through_an_edit_link_hold_on_both_doors(live_server: LiveServer) -> None:
    alice = prepared(live_server)
    link = make_link(live_server, alice, "team", "edit")
    base = live_server.url(f"/public.php/dav/files/{link.token}")
    locked = requests.request(
        "LOCK", base + "/doc.txt", data=LOCKINFO, headers={"Timeout": "Second-600"}, timeout=30
    )
    assert locked.status_code == 200, locked.text
    token = locked.headers["Lock-Token"].strip("<>")
    body = ElementTree.fromstring(locked.content)
    assert body.findtext(f".//{DAV}locktoken/{DAV}href") == token
    assert body.find(f".//{DAV}lockscope/{DAV}exclusive") is not None
    assert requests.put(base + "/doc.txt", data=b"v2", timeout=30).status_code == 423
    owner = live_server.session(alice)
    assert owner.put(live_server.url("/dav/team/doc.txt"), data=b"mine").status_code == 423
    again = requests.request("LOCK", base + "/doc.txt", data=LOCKINFO, timeout=30)
    assert again.status_code == 423
    listed = requests.request("PROPFIND", base + "/doc.txt", headers={"Depth": "0"}, timeout=30)
    assert props(listed)[f"/public.php/dav/files/{link.token}/doc.txt"][f"{DAV}href"]
    assert token.encode() in listed.content
    with_token = requests.put(
        base + "/doc.txt", data=b"v2", headers={"If": f"(<{token}>)"}, timeout=30
    )
    assert with_token.status_code == 204
    refreshed = requests.request(
        "LOCK", base + "/doc.txt", headers={"If": f"(<{token}>)", "Timeout": "Second-60"}
    )
    assert refreshed.status_code == 200 and token.encode() in refreshed.content
    wrong = requests.request("UNLOCK", base + "/doc.txt", headers={"Lock-Token": "<nope>"})
    assert wrong.status_code == 409
    unlocked = requests.request("UNLOCK", base + "/doc.txt", headers={"Lock-Token": f"<{token}>"})
    assert unlocked.status_code == 204
    assert owner.put(live_server.url("/dav/team/doc.txt"), data=b"mine").status_code == 204
    # Locking a new name makes an empty file there, as the main door does.
    fresh = requests.request("LOCK", base + "/sub/new.txt", data=LOCKINFO, timeout=30)
    assert fresh.status_code == 201
    made = live_server.services.store.stat(alice.owner, p("team/sub/new.txt"))
    assert made is not None and made.size == 0
    # The owner's lock holds against the link's visitors, who do not see who holds it.
    owner_lock = owner.request(
        "LOCK",
        live_server.url("/dav/team/sub/in.txt"),
        data=LOCKINFO.replace(b"Microsoft", b"Alice"),
    )
    assert owner_lock.status_code == 200
    seen = requests.request("PROPFIND", base + "/sub/in.txt", headers={"Depth": "0"})
    assert b"activelock" in seen.content and b"Alice" not in seen.content
    assert requests.delete(base + "/sub/in.txt", timeout=30).status_code == 423
    assert requests.delete(base + "/sub", timeout=30).status_code == 423
    moved = requests.request(
        "MOVE", base + "/sub/in.txt", headers={"Destination": base + "/in.txt"}, timeout=30
    )
    assert moved.status_code == 423
    options = requests.options(base + "/", timeout=30)
    assert "2" in options.headers["DAV"] and "LOCK" in options.headers["Allow"]


def test_proppatch_sets_times_as_the_main_door_does(live_server: LiveServer) -> None:
    alice = prepared(live_server)
    link = make_link(live_server, alice, "team", "edit")
    base = live_server.url(f"/public.php/dav/files/{link.token}")
    store = live_server.services.store
    body = (
        b'<?xml version="1.0" encoding="utf-8"?>'
        b'<D:propertyupdate xmlns:D="DAV:" xmlns:Z="urn:schemas-microsoft-com:"><D:set><D:prop>'
        b"<Z:Win32LastModifiedTime>Wed, 01 Jan 2020 10:00:00 GMT</Z:Win32LastModifiedTime>"
        b"<Z:Win32FileAttributes>00000020</Z:Win32FileAttributes>"
        b"</D:prop></D:set></D:propertyupdate>"
    )
    answer = requests.request("PROPPATCH", base + "/doc.txt", data=body, timeout=30)
    assert answer.status_code == 207, answer.text
    assert b"200 OK" in answer.content
    doc = store.stat(alice.owner, p("team/doc.txt"))
    assert doc is not None and doc.modified_at == 1577872800
    attributes = "{urn:schemas-microsoft-com:}Win32FileAttributes"
    assert attributes in store.dead_properties(alice.owner, p("team/doc.txt"))
    prefix = f"/public.php/dav/files/{link.token}/"
    listed = props(requests.request("PROPFIND", base + "/", headers={"Depth": "1"}))
    assert listed[prefix + "doc.txt"][attributes] == "00000020"
    assert attributes not in listed[prefix]
    # A view link does not show the properties its visitors cannot set.
    view = make_link(live_server, alice, "team")
    seen = requests.request(
        "PROPFIND", live_server.url(f"/public.php/dav/files/{view.token}/doc.txt")
    )
    assert attributes not in next(iter(props(seen).values()))
    unix = (
        b'<d:propertyupdate xmlns:d="DAV:"><d:set><d:prop>'
        b"<d:getlastmodified>1600000000</d:getlastmodified>"
        b"</d:prop></d:set></d:propertyupdate>"
    )
    assert requests.request("PROPPATCH", base + "/doc.txt", data=unix).status_code == 207
    doc = store.stat(alice.owner, p("team/doc.txt"))
    assert doc is not None and doc.modified_at == 1600000000
    protected = (
        b'<d:propertyupdate xmlns:d="DAV:"><d:set><d:prop>'
        b'<d:getetag>"x"</d:getetag><d:getlastmodified>1</d:getlastmodified>'
        b"</d:prop></d:set></d:propertyupdate>"
    )
    refused = requests.request("PROPPATCH", base + "/doc.txt", data=protected)
    assert refused.status_code == 207
    assert b"403 Forbidden" in refused.content and b"424 Failed Dependency" in refused.content
    doc = store.stat(alice.owner, p("team/doc.txt"))
    assert doc is not None and doc.modified_at == 1600000000
    bad = requests.request("PROPPATCH", base + "/doc.txt", data=b"<not xml")
    assert bad.status_code == 400
    not_a_time = unix.replace(b"1600000000", b"next tuesday")
    unread = requests.request("PROPPATCH", base + "/doc.txt", data=not_a_time)
    assert unread.status_code == 207 and b"400 Bad Request" in unread.content
    entity = b'<!DOCTYPE d [<!ENTITY e "x">]>' + unix
    assert requests.request("PROPPATCH", base + "/doc.txt", data=entity).status_code == 400
    huge = requests.request("LOCK", base + "/doc.txt", data=b" " * 2_000_000, timeout=30)
    assert huge.status_code == 413


def test_properties_follow_the_link_kind(live_server: LiveServer) -> None:
    alice = prepared(live_server)
    expected = {"view": ("G", "G"), "edit": ("GDNVCK", "GDNVW")}
    for kind, (folder_permissions, file_permissions) in expected.items():
        link = make_link(live_server, alice, "team", kind)
        base = live_server.url(f"/public.php/dav/files/{link.token}")
        prefix = f"/public.php/dav/files/{link.token}/"
        found = props(requests.request("PROPFIND", base + "/", headers={"Depth": "1"}))
        folder, doc = found[prefix], found[prefix + "doc.txt"]
        assert folder[f"{OC}permissions"] == folder_permissions, kind
        assert doc[f"{OC}permissions"] == file_permissions, kind
        assert doc[f"{DAV}getcontentlength"] == "6" and doc[f"{OC}size"] == "6"
        assert doc[f"{DAV}getetag"].startswith('"') and doc[f"{DAV}getlastmodified"]
        assert folder[f"{OC}size"] == str(len(b"doc v1") + len(b"inner"))
        assert doc[f"{OC}checksum"].startswith("SHA1:")
        assert (f"{DAV}supportedlock" in doc) == (kind == "edit")
    drop = make_link(live_server, alice, "team", "drop")
    prefix = f"/public.php/dav/files/{drop.token}/"
    found = props(requests.request("PROPFIND", live_server.url(prefix), headers={"Depth": "1"}))
    assert list(found) == [prefix]
    assert found[prefix][f"{OC}permissions"] == "C"
    assert f"{OC}size" not in found[prefix]
