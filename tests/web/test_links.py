"""The links page without JavaScript: every link with its state, the public-by-id files,
creating a link from the details page, editing, regenerating, disabling, deleting; the QR
code; CSRF; and another user, who can neither see nor change nor scan someone's links."""

from __future__ import annotations

import calendar
import io
import time
from collections.abc import Iterator

import pytest
import requests
import segno

from davfiles.store import parse_user_path
from davfiles.store.link_policy import LinkPolicy
from davfiles.store.links import LinkInfo
from davfiles.web.headers import PAGE_HEADERS
from tests.harness import LiveServer, TestUser
from tests.links.helpers import make_link, wait_for
from tests.web.helpers import Browser, Form, Page, put


@pytest.fixture
def alice(live_server: LiveServer) -> Iterator[tuple[TestUser, Browser]]:
    user = live_server.add_user("alice")
    browser = Browser(live_server)
    browser.login(user)
    yield user, browser


def row_of(page: Page, needle: str) -> str:
    (row,) = [row for row in page.rows if needle in row]
    return row


def link_form(page: Page, action: str, link: LinkInfo) -> Form:
    """The form posting to ``action`` for ``link`` (each row has its own)."""
    for form in page.forms:
        if form.action == action and ("link", str(link.id)) in form.fields:
            return form
    raise AssertionError(f"no {action} form for link {link.id}")


def door(server: LiveServer, token: str) -> int:
    return requests.get(server.url(f"/s/{token}"), timeout=30).status_code


def current(server: LiveServer, user: TestUser, link: LinkInfo) -> LinkInfo:
    return server.services.store.links.get(user.owner, link.id).link


def test_the_page_lists_every_link_with_its_state_and_the_public_files(
    live_server: LiveServer, alice: tuple[TestUser, Browser]
) -> None:
    user, browser = alice
    store = live_server.services.store
    for name in ("active.txt", "old.txt", "once.txt", "off.txt", "gone.txt", "open.txt"):
        put(live_server, user, f"docs/{name}", name.encode())
    active = make_link(live_server, user, "docs/active.txt", label="for Carol", password="pw1")
    expired = make_link(live_server, user, "docs/old.txt", expires_at=time.time() - 60)
    once = make_link(live_server, user, "docs/once.txt", max_downloads=1)
    off = make_link(live_server, user, "docs/off.txt", disabled=True)
    trashed = make_link(live_server, user, "docs/gone.txt")
    drop = make_link(live_server, user, "docs", "drop")
    assert requests.get(live_server.url(f"/s/{once.token}/download"), timeout=30).ok
    wait_for(lambda: current(live_server, user, once).downloads == 1)
    store.delete(user.owner, parse_user_path("docs/gone.txt"))
    public = store.stat(user.owner, parse_user_path("docs/open.txt"))
    assert public is not None
    store.set_public(user.owner, public.id, True)

    page = browser.page("/app/links")
    assert page.title == "Links · davfiles"
    assert ("Links", "/app/links") in page.links
    assert "Your share links (6) and public files (1)" in page.text
    row = row_of(page, "/docs/active.txt")
    assert "view active for Carol yes never 0 0 0 never" in row
    assert "/docs/old.txt view expired" in row_of(page, "/docs/old.txt")
    assert "/docs/once.txt view exhausted" in row_of(page, "/docs/once.txt")
    assert "1 of 1" in row_of(page, "/docs/once.txt")
    assert "/docs/off.txt view disabled" in row_of(page, "/docs/off.txt")
    assert "in trash view active" in row_of(page, "in trash")
    assert "/docs/ drop active" in row_of(page, "/docs/ drop")
    assert "/docs/open.txt public by id active" in row_of(page, "public by id")
    html = browser.get("/app/links").text
    for link in (active, expired, drop):
        url = f"{live_server.base}/s/{link.token}"
        assert f'id="url-{link.id}" class="url" value="{url}" readonly' in html
        # Without the script the address is selectable and the Copy button stays hidden.
        assert f'<button type="button" data-copy="url-{link.id}" hidden>Copy</button>' in html
    assert f'value="{live_server.base}/public/{public.id}" readonly' in html
    assert ("QR code", f"/app/links/{active.id}/qr.svg") in page.links
    assert ("QR code", f"/app/links/public/{public.id}/qr.svg") in page.links
    assert ("Edit", f"/app/links/{trashed.id}") in page.links
    assert ("/docs/active.txt", "/app/info/docs/active.txt") in page.links
    assert ("/docs/", "/app/files/docs/") in page.links
    link_form(page, "/app/do/link-enable", off)
    link_form(page, "/app/do/link-disable", active)


def test_a_link_is_made_on_the_details_page_and_shows_marked(
    live_server: LiveServer, alice: tuple[TestUser, Browser]
) -> None:
    user, browser = alice
    put(live_server, user, "inbox/readme.txt", b"r")
    form = browser.page("/app/info/inbox").form("/app/do/link-create")
    assert form.value("kind") == "view"
    made = browser.submit(
        form,
        {
            "kind": "drop",
            "label": "Homework",
            "password": "secret words",
            "expires": "2040-02-03T04:05",
            "max_downloads": "7",
        },
        follow=False,
    )
    assert made.status_code == 303
    (listed,) = live_server.services.store.links.listing(user.owner)
    link = listed.link
    assert made.headers["Location"] == f"/app/links?note=link-created#link-{link.id}"
    assert (link.kind, link.label, link.max_downloads) == ("drop", "Homework", 7)
    assert link.has_password
    assert link.expires_at == calendar.timegm((2040, 2, 3, 4, 5, 0))
    page = browser.page(made.headers["Location"])
    assert "The link was made" in page.text
    assert "Homework" in row_of(page, "/inbox/")
    details = browser.page("/app/info/inbox")
    assert "drop, password active Homework" in row_of(details, "Homework")
    assert f"{live_server.base}/s/{link.token}" in row_of(details, "Homework")

    # A file offers only a view link; a drop link to it is refused by the store.
    file_form = browser.page("/app/info/inbox/readme.txt").form("/app/do/link-create")
    assert file_form.value("kind") == "view"
    refused = browser.submit(file_form, {"kind": "drop"})
    assert refused.status_code == 409
    assert "needs a folder" in Page(refused.text).text
    plain = browser.submit(file_form, follow=False)
    assert plain.status_code == 303
    assert len(live_server.services.store.links.listing(user.owner)) == 2
    bad = browser.submit(file_form, {"expires": "next tuesday"})
    assert bad.status_code == 400
    assert "2030-01-31T18:00" in Page(bad.text).text


def test_editing_a_link_changes_and_clears_its_settings(
    live_server: LiveServer, alice: tuple[TestUser, Browser]
) -> None:
    user, browser = alice
    put(live_server, user, "box/a.txt", b"a")
    link = make_link(live_server, user, "box", "drop", note="old note", password="first")
    page = browser.page(f"/app/links/{link.id}")
    form = page.form("/app/do/link-edit")
    assert form.value("note") == "old note"
    changed = browser.submit(
        form,
        {
            "label": "Photos",
            "note": "Put your photos here",
            "password": "second",
            "expires": "2041-01-01T10:00",
            "max_downloads": "3",
            "max_upload_mb": "2.5",
            "require_name": "1",
        },
    )
    assert changed.url.endswith(f"/app/links/{link.id}?note=link-changed")
    after = current(live_server, user, link)
    assert (after.label, after.note, after.max_downloads) == ("Photos", "Put your photos here", 3)
    assert after.max_upload_bytes == 2_500_000 and after.require_name
    assert after.expires_at == calendar.timegm((2041, 1, 1, 10, 0, 0))
    assert after.has_password and after.password_hash != link.password_hash
    assert after.token == link.token

    # The form shows what is set; sent as it is, it changes nothing.
    again = Page(changed.text).form("/app/do/link-edit")
    assert again.value("max_upload_mb") == "2.5"
    assert again.value("expires") == "2041-01-01T10:00"
    browser.submit(again)
    same = current(live_server, user, link)
    assert (same.label, same.expires_at, same.max_upload_bytes) == (
        after.label,
        after.expires_at,
        after.max_upload_bytes,
    )
    assert same.password_hash == after.password_hash

    cleared = browser.submit(
        again,
        {
            "password_clear": "1",
            "require_name": [],
            "expires": "",
            "max_downloads": "",
            "max_upload_mb": "",
            "label": "",
            "note": "",
        },
    )
    assert cleared.status_code == 200
    empty = current(live_server, user, link)
    assert not empty.has_password and not empty.require_name
    assert (empty.expires_at, empty.max_downloads, empty.max_upload_bytes) == (None, None, None)
    assert (empty.label, empty.note) == (None, None)

    for field, value in (
        ("max_downloads", "0"),
        ("max_downloads", "many"),
        ("max_downloads", "\u00b2"),  # a digit to str.isdigit, not to int
        ("max_upload_mb", "\u00b2"),
        ("link", "\u00b2"),
        ("link", "3000000000"),  # beyond any record id
        ("max_downloads", "1" * 5000),  # more digits than int() takes
    ):
        refused = browser.submit(again, {field: value})
        assert refused.status_code == 400
        assert Page(refused.text).title == "Error 400 · davfiles"
    assert current(live_server, user, link).max_downloads is None


def test_an_unchanged_expiry_with_seconds_is_not_held_to_a_newer_policy(
    live_server: LiveServer, alice: tuple[TestUser, Browser]
) -> None:
    """The form shows an expiry to the minute; sent back as shown, it is no new expiry, so a
    label can change after the policy's maximum became shorter than the link's expiry."""
    user, browser = alice
    put(live_server, user, "box/a.txt", b"a")
    expires = calendar.timegm((2041, 1, 1, 10, 0, 0)) + 37.5
    link = make_link(live_server, user, "box", "view", expires_at=expires)
    live_server.services.store.links.set_policy(LinkPolicy(max_expiry_days=7), "root")
    form = browser.page(f"/app/links/{link.id}").form("/app/do/link-edit")
    assert form.value("expires") == "2041-01-01T10:00"
    changed = browser.submit(form, {"label": "Renamed"})
    assert changed.status_code == 200, changed.text[:300]
    after = current(live_server, user, link)
    assert (after.label, after.expires_at) == ("Renamed", expires)


def test_regenerate_disable_enable_and_delete_through_the_public_door(
    live_server: LiveServer, alice: tuple[TestUser, Browser]
) -> None:
    user, browser = alice
    put(live_server, user, "a.txt", b"a")
    link = make_link(live_server, user, "a.txt", label="keep me", max_downloads=9)
    assert door(live_server, link.token) == 200
    page = browser.page("/app/links")
    renewed = browser.submit(link_form(page, "/app/do/link-regenerate", link), follow=False)
    assert renewed.headers["Location"] == f"/app/links?note=link-regenerated#link-{link.id}"
    new = current(live_server, user, link)
    assert new.token != link.token and (new.label, new.max_downloads) == ("keep me", 9)
    assert door(live_server, link.token) in (404, 410)
    assert door(live_server, new.token) == 200
    page = browser.page("/app/links")
    assert f"{live_server.base}/s/{new.token}" in browser.get("/app/links").text

    browser.submit(link_form(page, "/app/do/link-disable", new))
    assert current(live_server, user, link).disabled
    assert door(live_server, new.token) == 410
    page = browser.page("/app/links")
    assert "disabled" in row_of(page, "/a.txt")
    browser.submit(link_form(page, "/app/do/link-enable", new))
    assert door(live_server, new.token) == 200

    page = browser.page("/app/links")
    deleted = browser.submit(link_form(page, "/app/do/link-delete", new))
    assert deleted.url.endswith("/app/links?note=link-deleted")
    assert live_server.services.store.links.listing(user.owner) == []
    assert door(live_server, new.token) == 404
    assert "You have no share links" in Page(deleted.text).text


def test_a_public_file_is_made_private_from_the_links_page(
    live_server: LiveServer, alice: tuple[TestUser, Browser]
) -> None:
    user, browser = alice
    store = live_server.services.store
    put(live_server, user, "open.txt", b"for all")
    info = store.stat(user.owner, parse_user_path("open.txt"))
    assert info is not None
    store.set_public(user.owner, info.id, True)
    assert requests.get(live_server.url(f"/public/{info.id}"), timeout=30).content == b"for all"
    form = browser.page("/app/links").form("/app/do/public-off")
    done = browser.submit(form)
    assert done.url.endswith("/app/links?note=made-private")
    assert "public by id" not in Page(done.text).text
    assert requests.get(live_server.url(f"/public/{info.id}"), timeout=30).status_code == 404


def qr_of(text: str) -> bytes:
    out = io.BytesIO()
    segno.make_qr(text, error="m").save(
        out, kind="svg", scale=5, border=4, dark="#000", light="#fff", xmldecl=False
    )
    return out.getvalue()


def test_the_qr_code_is_segnos_svg_of_the_address(
    live_server: LiveServer, alice: tuple[TestUser, Browser]
) -> None:
    user, browser = alice
    put(live_server, user, "a.txt", b"a")
    link = make_link(live_server, user, "a.txt")
    answer = browser.get(f"/app/links/{link.id}/qr.svg")
    assert answer.status_code == 200
    assert answer.headers["Content-Type"] == "image/svg+xml"
    for name, value in PAGE_HEADERS.items():
        assert answer.headers[name] == value
    assert answer.content.startswith(b"<svg ")
    assert answer.content == qr_of(f"{live_server.base}/s/{link.token}")
    assert b"<script" not in answer.content and b"style=" not in answer.content
    own_page = browser.get(f"/app/links/{link.id}").text
    assert f'<img src="/app/links/{link.id}/qr.svg" alt="QR code of the link' in own_page

    info = live_server.services.store.stat(user.owner, parse_user_path("a.txt"))
    assert info is not None
    assert browser.get(f"/app/links/public/{info.id}/qr.svg").status_code == 404
    live_server.services.store.set_public(user.owner, info.id, True)
    public = browser.get(f"/app/links/public/{info.id}/qr.svg")
    assert public.headers["Content-Type"] == "image/svg+xml"
    assert public.content == qr_of(f"{live_server.base}/public/{info.id}")
    assert browser.get("/app/links/99999999999999999999/qr.svg").status_code == 404


def test_a_change_without_the_csrf_token_or_from_another_site_is_refused(
    live_server: LiveServer, alice: tuple[TestUser, Browser]
) -> None:
    user, browser = alice
    put(live_server, user, "a.txt", b"a")
    link = make_link(live_server, user, "a.txt")
    form = link_form(browser.page("/app/links"), "/app/do/link-disable", link)
    assert browser.submit(form, {"csrf": ""}).status_code == 403
    assert browser.submit(form, {"csrf": "forged"}).status_code == 403
    assert browser.submit(form, origin="https://evil.example").status_code == 403
    delete = link_form(browser.page("/app/links"), "/app/do/link-delete", link)
    assert browser.submit(delete, {"csrf": "forged"}).status_code == 403
    create = browser.page("/app/info/a.txt").form("/app/do/link-create")
    assert browser.submit(create, {"csrf": "forged"}).status_code == 403
    assert [listed.link for listed in live_server.services.store.links.listing(user.owner)] == [
        link
    ]


def test_another_user_can_neither_see_nor_change_nor_scan_a_link(
    live_server: LiveServer, alice: tuple[TestUser, Browser]
) -> None:
    user, _alice_browser = alice
    store = live_server.services.store
    put(live_server, user, "secret.txt", b"s")
    link = make_link(live_server, user, "secret.txt", label="alice's")
    info = store.stat(user.owner, parse_user_path("secret.txt"))
    assert info is not None
    store.set_public(user.owner, info.id, True)
    bob = live_server.add_user("bob")
    put(live_server, bob, "b.txt", b"b")
    own = make_link(live_server, bob, "b.txt")
    browser = Browser(live_server)
    browser.login(bob)
    page = browser.page("/app/links")
    assert "alice's" not in page.text and "secret.txt" not in page.text
    assert link.token not in browser.get("/app/links").text
    assert browser.get(f"/app/links/{link.id}").status_code == 404
    assert browser.get(f"/app/links/{link.id}/qr.svg").status_code == 404
    assert browser.get(f"/app/links/public/{info.id}/qr.svg").status_code == 404
    form = link_form(page, "/app/do/link-disable", own)
    for action in ("link-disable", "link-regenerate", "link-delete", "link-edit"):
        answer = browser.submit(form, {"link": str(link.id)}, action=f"/app/do/{action}")
        assert answer.status_code == 404, action
    answer = browser.submit(form, {"file": str(info.id)}, action="/app/do/public-off")
    assert answer.status_code == 404
    assert current(live_server, user, link) == link
    still = store.stat(user.owner, parse_user_path("secret.txt"))
    assert still is not None and still.public
    create = browser.page("/app/info/b.txt").form("/app/do/link-create")
    assert browser.submit(create, {"path": "secret.txt"}).status_code == 404
    assert len(store.links.listing(user.owner)) == 1


def test_page_notes_and_link_ids_beyond_any_record_are_no_failure(
    live_server: LiveServer, alice: tuple[TestUser, Browser]
) -> None:
    _user, browser = alice
    noted = browser.get("/app/files/?note=uploaded&count=" + "1" * 5000)
    assert noted.status_code == 200
    for path in ("/app/links/3000000000", "/app/links/3000000000/qr.svg"):
        assert browser.get(path).status_code == 404, path
