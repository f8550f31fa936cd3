"""Public WebDAV of links at /public.php/dav/files/<token>/: reads for view links, writes
for edit links (trash, versions), drops that never overwrite or list, the password as Basic,
and nothing outside the shared folder."""

from __future__ import annotations

import requests
from defusedxml import ElementTree

from davfiles.store import parse_user_path as p
from tests.harness import LiveServer, TestUser
from tests.links.helpers import make_link, wait_for

DAV = "{DAV:}"


def prepared(server: LiveServer) -> TestUser:
    alice = server.add_user("alice")
    dav = server.session(alice)
    assert dav.request("MKCOL", server.url("/dav/team")).status_code == 201
    assert dav.request("MKCOL", server.url("/dav/team/sub")).status_code == 201
    assert dav.put(server.url("/dav/team/doc.txt"), data=b"doc v1").ok
    assert dav.put(server.url("/dav/outside.txt"), data=b"outside").ok
    return alice


def hrefs(answer: requests.Response) -> list[str]:
    assert answer.status_code == 207, answer.text
    root = ElementTree.fromstring(answer.content)
    return sorted(element.text or "" for element in root.iter(f"{DAV}href"))


def test_a_view_link_reads_over_webdav(live_server: LiveServer) -> None:
    alice = prepared(live_server)
    link = make_link(live_server, alice, "team")
    base = live_server.url(f"/public.php/dav/files/{link.token}")
    options = requests.options(base + "/", timeout=30)
    assert options.status_code == 200 and "PROPFIND" in options.headers["Allow"]
    listed = requests.request("PROPFIND", base + "/", headers={"Depth": "1"}, timeout=30)
    prefix = f"/public.php/dav/files/{link.token}/"
    assert hrefs(listed) == [prefix, prefix + "doc.txt", prefix + "sub/"]
    only = requests.request("PROPFIND", base + "/doc.txt", headers={"Depth": "0"}, timeout=30)
    assert hrefs(only) == [prefix + "doc.txt"]
    assert requests.get(base + "/doc.txt", timeout=30).content == b"doc v1"
    ranged = requests.get(base + "/doc.txt", headers={"Range": "bytes=4-"}, timeout=30)
    assert ranged.status_code == 206 and ranged.content == b"v1"
    links = live_server.services.store.links
    wait_for(lambda: links.get(alice.owner, link.id).link.downloads == 1)
    for method in ("PUT", "DELETE", "MKCOL"):
        refused = requests.request(method, base + "/new.txt", data=b"x", timeout=30)
        assert refused.status_code == 403, method
    for method in ("COPY", "MOVE", "LOCK", "PROPPATCH"):
        refused_dav = requests.request(method, base + "/doc.txt", timeout=30)
        assert refused_dav.status_code == 403, method
        assert ElementTree.fromstring(refused_dav.content).tag == f"{DAV}error"
    assert requests.request("BREW", base + "/doc.txt", timeout=30).status_code == 501
    for escape in ("/../outside.txt", "/..%2Foutside.txt", "/sub/../../outside.txt"):
        answer = requests.get(base + escape, timeout=30)
        assert answer.status_code in (400, 404) and b"outside" not in answer.content


def test_an_edit_link_writes_through_the_store(live_server: LiveServer) -> None:
    alice = prepared(live_server)
    link = make_link(live_server, alice, "team", "edit")
    base = live_server.url(f"/public.php/dav/files/{link.token}")
    store = live_server.services.store
    assert requests.put(base + "/doc.txt", data=b"doc v2", timeout=30).status_code == 204
    doc = store.stat(alice.owner, p("team/doc.txt"))
    assert doc is not None and [v.size for v in store.versions_of(alice.owner, doc.id)] == [6]
    assert requests.put(base + "/sub/new.txt", data=b"new", timeout=30).status_code == 201
    assert requests.request("MKCOL", base + "/made", timeout=30).status_code == 201
    assert requests.delete(base + "/sub/new.txt", timeout=30).status_code == 204
    assert [entry.name for entry in store.trash_list(alice.owner)] == ["new.txt"]
    assert requests.delete(base + "/", timeout=30).status_code == 403
    assert store.stat(alice.owner, p("team/made")) is not None
    prefix = f"/public.php/dav/files/{link.token}"
    moved = requests.request(
        "MOVE", base + "/doc.txt", headers={"Destination": base + "/made/doc%20moved.txt"}
    )
    assert moved.status_code == 201
    assert store.stat(alice.owner, p("team/made/doc moved.txt")) is not None
    assert requests.put(base + "/other.txt", data=b"o", timeout=30).status_code == 201
    kept = requests.request(
        "MOVE",
        base + "/other.txt",
        headers={"Destination": prefix + "/made/doc%20moved.txt", "Overwrite": "F"},
    )
    assert kept.status_code == 412
    outside = requests.request(
        "MOVE", base + "/other.txt", headers={"Destination": live_server.url("/dav/stolen.txt")}
    )
    assert outside.status_code == 502
    escape = requests.request(
        "MOVE", base + "/other.txt", headers={"Destination": base + "/../stolen.txt"}
    )
    assert escape.status_code in (400, 502)
    assert store.stat(alice.owner, p("stolen.txt")) is None
    whole = requests.request("MOVE", base + "/", headers={"Destination": base + "/made/x"})
    assert whole.status_code == 403


def test_a_drop_over_webdav_never_overwrites_or_lists(live_server: LiveServer) -> None:
    alice = prepared(live_server)
    link = make_link(live_server, alice, "team", "drop")
    base = live_server.url(f"/public.php/dav/files/{link.token}")
    first = requests.put(
        base + "/doc.txt", data=b"dropped", headers={"X-NC-Nickname": "Eve%20K"}, timeout=30
    )
    assert first.status_code == 201
    assert "Location" not in first.headers  # which would tell that doc.txt was taken
    store = live_server.services.store
    dropped = store.stat(alice.owner, p("team/doc (1).txt"))
    assert dropped is not None and dropped.description is not None
    assert dropped.description.endswith("by Eve K")
    assert live_server.session(alice).get(live_server.url("/dav/team/doc.txt")).content == b"doc v1"
    listed = requests.request("PROPFIND", base + "/", headers={"Depth": "1"}, timeout=30)
    assert hrefs(listed) == [f"/public.php/dav/files/{link.token}/"]
    assert requests.get(base + "/doc.txt", timeout=30).status_code == 403
    assert requests.put(base + "/sub/x.txt", data=b"x", timeout=30).status_code == 403
    for method in ("COPY", "LOCK", "PROPPATCH", "DELETE"):
        refused = requests.request(method, base + "/doc.txt", timeout=30)
        assert refused.status_code == 403, method
        assert ElementTree.fromstring(refused.content).tag == f"{DAV}error"


def test_the_password_comes_as_basic(live_server: LiveServer) -> None:
    alice = prepared(live_server)
    link = make_link(live_server, alice, "team", password="pw")
    base = live_server.url(f"/public.php/dav/files/{link.token}")
    refused = requests.get(base + "/doc.txt", timeout=30)
    assert refused.status_code == 401 and "Basic" in refused.headers["WWW-Authenticate"]
    assert requests.get(base + "/doc.txt", auth=(link.token, "wrong"), timeout=30).status_code == (
        401
    )
    assert requests.get(base + "/doc.txt", auth=(link.token, "pw"), timeout=30).content == (
        b"doc v1"
    )
    propfind = requests.request("PROPFIND", base + "/", auth=("anonymous", "pw"), timeout=30)
    assert propfind.status_code == 207
    # A remembered right password stops working when the password changes.
    live_server.services.store.links.update(alice.owner, link.id, {"password": "new"})
    assert requests.get(base + "/doc.txt", auth=(link.token, "pw"), timeout=30).status_code == 401
    assert requests.get(base + "/doc.txt", auth=(link.token, "new"), timeout=30).ok
    assert requests.get(
        live_server.url("/public.php/dav/files/nope/x"), timeout=30
    ).status_code == (404)


def test_the_legacy_url_takes_the_token_as_user_name(live_server: LiveServer) -> None:
    alice = prepared(live_server)
    link = make_link(live_server, alice, "team", password="pw")
    legacy = live_server.url("/public.php/webdav")
    assert requests.get(legacy + "/doc.txt", timeout=30).status_code == 401
    assert requests.get(legacy + "/doc.txt", auth=(link.token, "no"), timeout=30).status_code == 401
    assert requests.get(legacy + "/doc.txt", auth=(link.token, "pw"), timeout=30).content == (
        b"doc v1"
    )
    listed = requests.request(
        "PROPFIND", legacy + "/", auth=(link.token, "pw"), headers={"Depth": "1"}, timeout=30
    )
    assert hrefs(listed) == [
        "/public.php/webdav/",
        "/public.php/webdav/doc.txt",
        "/public.php/webdav/sub/",
    ]
    assert requests.get(live_server.url("/public.php/other"), timeout=30).status_code == 404
