"""View links over HTTP: the page, raw downloads and zips; bound to the node (rename, move,
trash, restore, purge), regenerate, expiry, disable; path escapes refused; strict headers."""

from __future__ import annotations

import hashlib
import io
import time
import zipfile
from urllib.parse import quote

import requests

from davfiles.db.models import RetiredLinkToken
from davfiles.links.door import PAGE_SIZE
from davfiles.store import parse_user_path as p
from tests.harness import LiveServer, TestUser
from tests.links.helpers import Page, make_link, wait_for


def put(server: LiveServer, user: TestUser, path: str, data: bytes) -> None:
    answer = server.session(user).put(server.url("/dav/" + quote(path)), data=data)
    assert answer.status_code in (201, 204), answer.text


def get(server: LiveServer, path: str, **kwargs: object) -> requests.Response:
    return requests.get(server.url(path), timeout=30, allow_redirects=False, **kwargs)  # type: ignore[arg-type]


def test_a_folder_link_lists_browses_downloads_and_zips(live_server: LiveServer) -> None:
    alice = live_server.add_user("alice")
    dav = live_server.session(alice)
    assert dav.request("MKCOL", live_server.url("/dav/photos")).status_code == 201
    assert dav.request("MKCOL", live_server.url("/dav/photos/2024")).status_code == 201
    put(live_server, alice, "photos/a b#1.txt", b"alpha")
    put(live_server, alice, "photos/2024/deep.txt", b"deep")
    put(live_server, alice, "secret.txt", b"not shared")
    link = make_link(live_server, alice, "photos", label="Holiday", note="Enjoy")

    answer = get(live_server, f"/s/{link.token}")
    assert answer.status_code == 200
    assert answer.headers["Content-Security-Policy"].startswith("default-src 'self'")
    assert "frame-ancestors 'none'" in answer.headers["Content-Security-Policy"]
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    assert answer.headers["Referrer-Policy"] == "no-referrer"
    page = Page(answer.text)
    assert page.title.startswith("Holiday")
    names = sorted(text for text, _href in page.links if text not in ("photos",))
    assert "a b#1.txt" in names and "2024/" in names
    assert not any("secret" in href for _text, href in page.links)

    file_answer = get(live_server, page.link("a b#1.txt"))
    assert file_answer.status_code == 200 and file_answer.content == b"alpha"
    assert file_answer.headers["Content-Security-Policy"].startswith("sandbox")
    sub = Page(get(live_server, page.link("2024/")).text)
    assert get(live_server, sub.link("deep.txt")).content == b"deep"
    nextcloud_style = f"/s/{link.token}/download?path=/2024&files=deep.txt"
    assert get(live_server, nextcloud_style).content == b"deep"
    assert get(live_server, f"/s/{link.token}/download?path=/..&files=secret.txt").status_code in (
        400,
        404,
    )

    archive = get(live_server, page.link("Download this folder as zip"))
    assert archive.status_code == 200
    assert archive.headers["Content-Type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(archive.content)) as opened:
        assert opened.read("photos/a b#1.txt") == b"alpha"
        assert opened.read("photos/2024/deep.txt") == b"deep"
        assert "photos/2024/" in opened.namelist()
    links = live_server.services.store.links
    wait_for(lambda: links.get(alice.owner, link.id).link.downloads == 4)
    listed = links.get(alice.owner, link.id).link
    assert listed.views == 2 and listed.last_access_at is not None


def test_html_and_svg_are_downloaded_never_rendered(live_server: LiveServer) -> None:
    alice = live_server.add_user("alice")
    put(live_server, alice, "page.html", b"<script>alert(1)</script>")
    put(live_server, alice, "pic.svg", b"<svg xmlns='http://www.w3.org/2000/svg'/>")
    for name in ("page.html", "pic.svg"):
        link = make_link(live_server, alice, name)
        answer = get(live_server, f"/s/{link.token}/download")
        assert answer.status_code == 200
        assert answer.headers["Content-Disposition"].startswith("attachment")
        assert answer.headers["Content-Security-Policy"].startswith("sandbox")
        assert answer.headers["X-Content-Type-Options"] == "nosniff"


def test_a_file_link_has_range_and_etag(live_server: LiveServer) -> None:
    alice = live_server.add_user("alice")
    put(live_server, alice, "notes.txt", b"0123456789")
    link = make_link(live_server, alice, "notes.txt")
    page = Page(get(live_server, f"/s/{link.token}").text)
    assert page.by_id["name"] == "notes.txt"
    url = page.link("Download")
    assert url == f"/s/{link.token}/download"
    whole = get(live_server, url)
    etag = whole.headers["ETag"]
    part = get(live_server, url, headers={"Range": "bytes=2-4"})
    assert part.status_code == 206 and part.content == b"234"
    assert get(live_server, url, headers={"If-None-Match": etag}).status_code == 304
    # A shared file has nothing below it; the folder around it is out of reach.
    assert get(live_server, f"/s/{link.token}/download/other.txt").status_code == 404


def test_the_link_follows_the_node_through_rename_move_trash_restore_and_purge(
    live_server: LiveServer,
) -> None:
    alice = live_server.add_user("alice")
    dav = live_server.session(alice)
    put(live_server, alice, "report.txt", b"v1")
    link = make_link(live_server, alice, "report.txt")
    url = f"/s/{link.token}/download"
    assert dav.request("MKCOL", live_server.url("/dav/archive")).status_code == 201
    moved = dav.request(
        "MOVE",
        live_server.url("/dav/report.txt"),
        headers={"Destination": live_server.url("/dav/archive/final.txt")},
    )
    assert moved.status_code == 201
    assert get(live_server, url).content == b"v1"
    # A new file at the old path is not what the link shows.
    put(live_server, alice, "report.txt", b"impostor")
    assert get(live_server, url).content == b"v1"

    assert dav.delete(live_server.url("/dav/archive/final.txt")).status_code == 204
    gone = get(live_server, url)
    assert gone.status_code == 410
    assert "trash" in Page(gone.text).by_id["message"]
    store = live_server.services.store
    [item] = [e for e in store.trash_list(alice.owner) if e.name == "final.txt"]
    store.trash_restore(alice.owner, item.id)
    assert get(live_server, url).content == b"v1"

    assert dav.delete(live_server.url("/dav/archive/final.txt")).status_code == 204
    [item] = [e for e in store.trash_list(alice.owner) if e.name == "final.txt"]
    store.trash_purge(alice.owner, [item.id])
    assert get(live_server, url).status_code == 404
    assert get(live_server, f"/s/{link.token}").status_code == 404


def test_regenerate_ends_the_old_token_and_keeps_the_settings(live_server: LiveServer) -> None:
    alice = live_server.add_user("alice")
    put(live_server, alice, "a.txt", b"a")
    links = live_server.services.store.links
    link = make_link(live_server, alice, "a.txt", label="keep", max_downloads=5)
    renewed = links.regenerate(alice.owner, link.id)
    assert renewed.token != link.token and len(renewed.token) == 22
    assert (renewed.label, renewed.max_downloads, renewed.id) == ("keep", 5, link.id)
    assert get(live_server, f"/s/{link.token}/download").status_code == 404
    assert get(live_server, f"/s/{renewed.token}/download").content == b"a"


def test_expired_exhausted_and_disabled_links_are_410(live_server: LiveServer) -> None:
    alice = live_server.add_user("alice")
    put(live_server, alice, "a.txt", b"a")
    links = live_server.services.store.links
    expired = make_link(live_server, alice, "a.txt", expires_at=time.time() - 1)
    disabled = make_link(live_server, alice, "a.txt", disabled=True)
    limited = make_link(live_server, alice, "a.txt", max_downloads=1)
    for link, word in ((expired, "expired"), (disabled, "disabled")):
        for path in ("", "/download"):
            answer = get(live_server, f"/s/{link.token}{path}")
            assert answer.status_code == 410
            assert word in Page(answer.text).by_id["message"]
    assert get(live_server, f"/s/{limited.token}/download").content == b"a"
    wait_for(lambda: links.get(alice.owner, limited.id).link.downloads == 1)
    answer = get(live_server, f"/s/{limited.token}/download")
    assert answer.status_code == 410 and "limit" in Page(answer.text).by_id["message"]
    assert links.get(alice.owner, limited.id).link.state().value == "exhausted"
    links.update(alice.owner, disabled.id, {"disabled": False})
    assert get(live_server, f"/s/{disabled.token}/download").content == b"a"
    links.update(alice.owner, expired.id, {"expires_at": time.time() + 3600})
    assert get(live_server, f"/s/{expired.token}/download").content == b"a"


def test_unknown_tokens_and_escapes_are_refused(live_server: LiveServer) -> None:
    alice = live_server.add_user("alice")
    dav = live_server.session(alice)
    assert dav.request("MKCOL", live_server.url("/dav/shared")).status_code == 201
    put(live_server, alice, "shared/in.txt", b"in")
    put(live_server, alice, "outside.txt", b"out")
    link = make_link(live_server, alice, "shared")
    unknown = get(live_server, "/s/AAAAAAAAAAAAAAAAAAAAAA")
    assert unknown.status_code == 404 and Page(unknown.text).by_id["message"]
    assert "Traceback" not in unknown.text
    for escape in ("../outside.txt", "..%2Foutside.txt", "%2E%2E/outside.txt", "a/../../x"):
        answer = get(live_server, f"/s/{link.token}/download/{escape}")
        assert answer.status_code in (400, 404), escape
        assert b"out" not in answer.content
    raw = requests.Request("GET", live_server.url(f"/s/{link.token}/download/x")).prepare()
    raw.url = live_server.url(f"/s/{link.token}/download/..%5Coutside.txt")
    assert requests.Session().send(raw, timeout=30).status_code in (400, 404)
    assert get(live_server, f"/s/{link.token}/download/in.txt").content == b"in"
    assert get(live_server, f"/s/{link.token}/nonsense").status_code == 404
    posted = requests.post(live_server.url(f"/s/{link.token}/download"), timeout=30)
    assert posted.status_code == 405


def test_a_user_cannot_share_what_is_not_theirs(live_server: LiveServer) -> None:
    alice = live_server.add_user("alice")
    bob = live_server.add_user("bob")
    put(live_server, alice, "a.txt", b"a")
    links = live_server.services.store.links
    link = make_link(live_server, alice, "a.txt")
    assert [entry.link.id for entry in links.listing(bob.owner)] == []
    try:
        links.update(bob.owner, link.id, {"disabled": True})
    except Exception as exc:  # noqa: BLE001
        assert type(exc).__name__ == "NotFound"
    else:
        raise AssertionError("bob changed alice's link")
    assert links.get(alice.owner, link.id).path == p("a.txt")


def test_a_deleted_users_links_die_and_their_tokens_stay_retired(live_server: LiveServer) -> None:
    alice = live_server.add_user("alice")
    put(live_server, alice, "a.txt", b"a")
    link = make_link(live_server, alice, "a.txt")
    live_server.services.accounts.delete_user("alice")
    assert get(live_server, f"/s/{link.token}").status_code == 404
    with live_server.services.db.read() as session:
        retired = session.get(RetiredLinkToken, hashlib.sha256(link.token.encode()).hexdigest())
        assert retired is not None


def test_a_big_folder_is_listed_a_page_at_a_time(live_server: LiveServer) -> None:
    alice = live_server.add_user("alice")
    store = live_server.services.store
    store.mkdir(alice.owner, p("many"))
    store.mkdir(alice.owner, p("many/zz folder"))
    for number in range(PAGE_SIZE):
        store.write_bytes(alice.owner, p(f"many/f{number:04}.txt"), b"x")
    link = make_link(live_server, alice, "many")
    first = Page(get(live_server, f"/s/{link.token}").text)
    files = [text for text, href in first.links if "/download/" in href]
    assert len(files) == PAGE_SIZE - 1 and files[0] == "f0000.txt"
    assert first.links[2][0] == "zz folder/"  # after the crumb and the zip: folders first
    assert first.by_id["page"] == "Page 1 of 2"
    second = Page(get(live_server, first.link("Next")).text)
    assert [text for text, href in second.links if "/download/" in href] == [
        f"f{PAGE_SIZE - 1:04}.txt"
    ]
    assert second.link("Previous").endswith("?page=1")
    beyond = Page(get(live_server, f"/s/{link.token}?page=99").text)
    assert beyond.by_id["page"] == "Page 2 of 2"
