"""The files page and downloads over plain HTTP: breadcrumbs, sort, keyset pages over
thousands of entries at a fixed statement count, search, details, Range, zips, and users'
HTML and SVG kept out of the app's origin."""

from __future__ import annotations

import io
import os
import zipfile
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
import requests
from sqlalchemy import event

from davfiles.store import Repair, parse_user_path
from tests.harness import LiveServer, TestUser
from tests.web.helpers import Browser, Page, put

BIG = 2500


@pytest.fixture
def alice(live_server: LiveServer) -> Iterator[tuple[TestUser, Browser]]:
    user = live_server.add_user("alice")
    browser = Browser(live_server)
    browser.login(user)
    yield user, browser


def names_on(page: Page) -> list[str]:
    """The entry names of a listing, in the order shown."""
    empty = ("This folder is empty.", "Nothing found.")
    return [row.split(" ")[0].rstrip("/") for row in page.rows[1:] if row not in empty]


def big_folder(server: LiveServer, user: TestUser, folder: str, count: int) -> None:
    """``count`` files made on disk and recorded by fsck (a real path, and fast)."""
    store = server.services.store
    store.mkdir(user.owner, parse_user_path(folder))
    base = store.home(user.owner) / folder
    for index in range(count):
        (base / f"f{index:05d}.txt").write_bytes(b"x" * (index % 13))
    report = store.fsck(user.owner, repair=Repair.ALL)
    assert all(finding.repaired for finding in report.findings)


def test_breadcrumbs_and_entries_of_a_folder(
    live_server: LiveServer, alice: tuple[TestUser, Browser]
) -> None:
    user, browser = alice
    put(live_server, user, "docs/reports/2026/q1.txt", b"q1")
    page = browser.page("/app/files/docs/reports/")
    assert [label for label, _href in page.links if label in ("Home", "docs", "reports")] == [
        "Home",
        "docs",
        "reports",
    ]
    assert page.link("docs") == "/app/files/docs/"
    assert names_on(page) == ["2026"]
    assert page.link("2026/") == "/app/files/docs/reports/2026/"
    # A folder without its slash is sent to the one with it; a file to its details.
    assert (
        browser.get("/app/files/docs", follow=False)
        .headers["Location"]
        .endswith("/app/files/docs/")
    )
    response = browser.get("/app/files/docs/reports/2026/q1.txt", follow=False)
    assert response.headers["Location"].endswith("/app/info/docs/reports/2026/q1.txt")
    assert browser.get("/app/files/nothing/").status_code == 404


def test_sorting_by_name_size_and_modified_both_ways(
    live_server: LiveServer, alice: tuple[TestUser, Browser]
) -> None:
    user, browser = alice
    store = live_server.services.store
    for name, size, mtime in (("b.txt", 30, 100.0), ("a.txt", 10, 300.0), ("c.txt", 20, 200.0)):
        put(live_server, user, name, b"x" * size)
        store.set_modified(user.owner, parse_user_path(name), mtime)
    assert names_on(browser.page("/app/files/")) == ["a.txt", "b.txt", "c.txt"]
    assert names_on(browser.page("/app/files/?desc=1")) == ["c.txt", "b.txt", "a.txt"]
    assert names_on(browser.page("/app/files/?sort=size")) == ["a.txt", "c.txt", "b.txt"]
    assert names_on(browser.page("/app/files/?sort=modified&desc=1")) == [
        "a.txt",
        "c.txt",
        "b.txt",
    ]
    page = browser.page("/app/files/?sort=size")
    # The header of the current order links to the other direction.
    assert page.link("Size ▲") == "/app/files/?sort=size&desc=1"
    assert browser.get("/app/files/?sort=bogus").status_code == 200


def _statements(server: LiveServer, browser: Browser, path: str) -> tuple[int, Page]:
    statements: list[str] = []

    def record(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        statements.append(statement)

    engine = server.services.db.engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        page = browser.page(path)
    finally:
        event.remove(engine, "before_cursor_execute", record)
    return len(statements), page


@pytest.mark.parametrize("order", ["name", "size", "modified"])
def test_a_big_folder_is_paged_at_a_fixed_cost_in_every_order(
    in_process_server: LiveServer, order: str
) -> None:
    server = in_process_server
    user = server.add_user("alice")
    browser = Browser(server)
    browser.login(user)
    big_folder(server, user, "big", BIG)
    put(server, user, "small/one.txt", b"1")
    small, _page = _statements(server, browser, f"/app/files/small/?sort={order}")
    walks: dict[str, list[list[str]]] = {"Next page": [], "Previous page": []}
    link: str | None = f"/app/files/big/?sort={order}"
    costs = []
    for label, walk in walks.items():
        # Forward to the last page, then back to the first by the previous-page links.
        while link is not None:
            cost, page = _statements(server, browser, link)
            costs.append(cost)
            names = names_on(page)
            assert 0 < len(names) <= 200
            walk.append(names)
            link = next((href for text, href in page.links if text == label), None)
            assert len(costs) <= 2 * (BIG // 200 + 1)
        link = next((href for text, href in page.links if text == "Previous page"), None)
    pages = walks["Next page"]
    assert walks["Previous page"] == pages[-2::-1]
    forward = [name for names in pages for name in names]
    assert len(forward) == BIG
    assert sorted(forward) == sorted(set(forward))
    # A page after the first reads the page before it too: one statement more, at any depth.
    assert max(costs) <= small + 1
    assert small <= 4
    if order == "name":
        assert forward == sorted(forward)


def test_the_position_of_a_page_is_checked(
    live_server: LiveServer, alice: tuple[TestUser, Browser]
) -> None:
    _user, browser = alice
    assert browser.get("/app/files/?sort=size&after=a&at=many").status_code == 400


def test_search_finds_names_below_the_folder_only(
    live_server: LiveServer, alice: tuple[TestUser, Browser]
) -> None:
    user, browser = alice
    put(live_server, user, "photos/2025/Beach.jpg", b"1")
    put(live_server, user, "photos/beach-notes.txt", b"2")
    put(live_server, user, "other/beach.png", b"3")
    put(live_server, user, "photos/mountain.jpg", b"4")
    page = browser.page("/app/files/photos/?q=BEACH")
    assert names_on(page) == ["beach-notes.txt", "2025/Beach.jpg"]  # by folder, then name
    assert "2 found" in page.text
    percent = browser.page("/app/files/?q=%25")
    assert names_on(percent) == []
    assert "Nothing found." in percent.text


def test_details_show_sizes_hashes_id_times_and_the_webdav_address(
    live_server: LiveServer, alice: tuple[TestUser, Browser]
) -> None:
    user, browser = alice
    put(live_server, user, "notes/a b.txt", b"hello")
    info = live_server.services.store.stat(user.owner, parse_user_path("notes/a b.txt"))
    assert info is not None
    page = browser.page("/app/info/notes/a%20b.txt")
    text = page.text
    assert "5d41402abc4b2a76b9719d911017c592" in text
    assert "aaf4c61ddcc5e8a2dabede0f3b482cd9aea9434d" in text
    assert f"Id {info.id}" in text
    assert f"{live_server.base}/dav/notes/a%20b.txt" in text
    assert page.link("Download") == "/app/download/notes/a%20b.txt"
    assert page.link("Open in the browser") == "/app/view/notes/a%20b.txt"


def test_details_show_the_share_links_of_the_item(
    live_server: LiveServer, alice: tuple[TestUser, Browser]
) -> None:
    user, browser = alice
    put(live_server, user, "shared/report.pdf", b"pdf")
    assert "Not shared by a link." in browser.page("/app/info/shared/report.pdf").text
    links = live_server.services.store.links
    link = links.create(
        user.owner, parse_user_path("shared/report.pdf"), "view", {"label": "for Bob"}
    )
    links.create(user.owner, parse_user_path("shared"), "drop", {"disabled": True})
    rows = browser.page("/app/info/shared/report.pdf").rows
    assert any(
        "view" in row and "active" in row and "for Bob" in row and f"/s/{link.token}" in row
        for row in rows
    )
    folder = browser.page("/app/info/shared").rows
    assert any("drop" in row and "disabled" in row for row in folder)


def test_download_with_range_and_etag(
    live_server: LiveServer, alice: tuple[TestUser, Browser]
) -> None:
    user, browser = alice
    data = os.urandom(100_000)
    put(live_server, user, "data.bin", data)
    whole = browser.get("/app/download/data.bin")
    assert whole.content == data
    assert whole.headers["Content-Disposition"] == 'attachment; filename="data.bin"'
    assert "sandbox" in whole.headers["Content-Security-Policy"]
    assert whole.headers["X-Content-Type-Options"] == "nosniff"
    etag = whole.headers["ETag"]
    part = browser.get("/app/download/data.bin", headers={"Range": "bytes=1000-1999"})
    assert part.status_code == 206
    assert part.content == data[1000:2000]
    assert part.headers["Content-Range"] == "bytes 1000-1999/100000"
    same = browser.get("/app/download/data.bin", headers={"If-None-Match": etag})
    assert same.status_code == 304
    beyond = browser.get("/app/download/data.bin", headers={"Range": "bytes=200000-"})
    assert beyond.status_code == 416


@pytest.mark.parametrize(
    ("name", "body"),
    [
        ("page.html", b"<script>alert(document.cookie)</script>"),
        ("image.svg", b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'),
        ("feed.xml", b"<?xml version='1.0'?><x/>"),
        ("page.xhtml", b"<html xmlns='http://www.w3.org/1999/xhtml'></html>"),
        ("blob.bin", b"\x00\x01<html>"),
    ],
)
def test_active_content_is_an_attachment_in_a_sandbox(
    live_server: LiveServer, alice: tuple[TestUser, Browser], name: str, body: bytes
) -> None:
    user, browser = alice
    put(live_server, user, name, body)
    for path in (f"/app/view/{name}", f"/app/download/{name}"):
        response = browser.get(path)
        assert response.status_code == 200
        assert response.content == body
        assert response.headers["Content-Disposition"].startswith("attachment")
        assert response.headers["Content-Security-Policy"].startswith("sandbox")
        assert response.headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize(
    ("name", "shown_as"),
    [
        ("photo.png", "image/png"),
        ("song.mp3", "audio/mpeg"),
        ("clip.mp4", "video/mp4"),
        ("paper.pdf", "application/pdf"),
        ("readme.md", "text/plain; charset=utf-8"),
        ("script.js", "text/plain; charset=utf-8"),
        ("data.json", "text/plain; charset=utf-8"),
    ],
)
def test_previews_are_inline_only_for_safe_kinds_and_text_as_plain_text(
    live_server: LiveServer, alice: tuple[TestUser, Browser], name: str, shown_as: str
) -> None:
    user, browser = alice
    put(live_server, user, name, b"content")
    response = browser.get(f"/app/view/{name}")
    assert response.headers["Content-Type"] == shown_as
    assert response.headers["Content-Disposition"] == "inline"
    assert response.headers["Content-Security-Policy"].startswith("sandbox")
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_a_text_files_details_show_its_start_escaped(
    live_server: LiveServer, alice: tuple[TestUser, Browser]
) -> None:
    user, browser = alice
    put(live_server, user, "short.md", "<script>alert(1)</script> caf\u00e9\n".encode())
    page = browser.get("/app/info/short.md").text
    assert "&lt;script&gt;alert(1)&lt;/script&gt; caf\u00e9\n</pre>" in page
    assert "<script>alert" not in page and "The first" not in page
    put(live_server, user, "long.txt", b"a" * 32 * 1024 + b"TAIL")
    page = browser.get("/app/info/long.txt").text
    assert "a" * 32 * 1024 + "</pre>" in page and "TAIL" not in page
    assert "The first 32.8 KB" in page
    put(live_server, user, "photo.png", b"not text")
    assert "<pre" not in browser.get("/app/info/photo.png").text


def test_a_folder_and_a_selection_download_as_streamed_zips(
    live_server: LiveServer, alice: tuple[TestUser, Browser]
) -> None:
    user, browser = alice
    big = os.urandom(3 * 1024 * 1024 + 17)
    put(live_server, user, "trip/day1/photo.bin", big)
    put(live_server, user, "trip/notes.txt", b"notes")
    put(live_server, user, "trip/empty/.keep", b"")
    put(live_server, user, "trip/skip.txt", b"not chosen")
    response = browser.get("/app/zip/trip")
    assert response.headers["Content-Type"] == "application/zip"
    assert response.headers["Content-Disposition"] == 'attachment; filename="trip.zip"'
    assert "Content-Length" not in response.headers  # made while sent
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    assert archive.testzip() is None
    assert sorted(archive.namelist()) == [
        "day1/",
        "day1/photo.bin",
        "empty/",
        "empty/.keep",
        "notes.txt",
        "skip.txt",
    ]
    assert archive.read("day1/photo.bin") == big
    page = browser.page("/app/files/trip/")
    form = page.form("/app/zip")
    chosen = browser.submit(form, {"name": ["day1", "notes.txt"]}, action="/app/zip")
    selection = zipfile.ZipFile(io.BytesIO(chosen.content))
    assert sorted(selection.namelist()) == ["day1/", "day1/photo.bin", "notes.txt"]
    assert selection.read("notes.txt") == b"notes"
    home = zipfile.ZipFile(io.BytesIO(browser.get("/app/zip/").content))
    assert "trip/day1/photo.bin" in home.namelist()


def test_another_users_files_are_out_of_reach(
    live_server: LiveServer, alice: tuple[TestUser, Browser]
) -> None:
    _user, browser = alice
    bob = live_server.add_user("bob")
    put(live_server, bob, "secret.txt", b"bob's")
    for path in ("/app/download/secret.txt", "/app/info/secret.txt", "/app/view/secret.txt"):
        assert browser.get(path).status_code == 404
    assert browser.get("/app/download/..%2Fbob%2Fsecret.txt").status_code in (400, 404)


def test_a_user_content_response_never_sets_or_reads_the_app_session(
    live_server: LiveServer, alice: tuple[TestUser, Browser]
) -> None:
    user, browser = alice
    put(live_server, user, "a.txt", b"text")
    response = browser.get("/app/view/a.txt")
    assert "Set-Cookie" not in response.headers
    anonymous = requests.get(live_server.url("/app/view/a.txt"), allow_redirects=False)
    assert anonymous.status_code == 303
    assert urlsplit(anonymous.headers["Location"]).path == "/app/login"
