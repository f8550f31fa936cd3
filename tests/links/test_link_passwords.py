"""A link password guards every URL (page, raw download, zip), is taken from a form body or
Basic auth and never from the query string, gives a cookie scoped to the link that a new
password or token ends, and failed attempts are throttled per link and per address."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import replace

import pytest
import requests

from davfiles.app import create_services
from davfiles.config import Settings
from davfiles.links.access import COOKIE_NAME
from davfiles.proxy import parse_networks
from tests.harness import LiveServer
from tests.links.helpers import Page, make_link


def setup_folder(server: LiveServer, password: str = "open sesame") -> tuple[object, str]:
    alice = server.add_user("alice")
    dav = server.session(alice)
    assert dav.request("MKCOL", server.url("/dav/box")).status_code == 201
    assert dav.put(server.url("/dav/box/a.txt"), data=b"secret a").status_code == 201
    link = make_link(server, alice, "box", password=password)
    return alice, link.token


def test_every_url_of_the_link_asks_for_the_password(live_server: LiveServer) -> None:
    _alice, token = setup_folder(live_server)
    for path in ("", "/download", "/download/a.txt", "/browse/", "/browse/x"):
        answer = requests.get(live_server.url(f"/s/{token}{path}"), timeout=30)
        assert answer.status_code == 401, path
        assert b"secret a" not in answer.content
        page = Page(answer.text)
        [form] = page.forms
        assert form["action"] == f"/s/{token}/password" and "password" in form["fields"]
        assert "WWW-Authenticate" not in answer.headers
    # Never from the query string, on any URL.
    for path in ("/download/a.txt?password=open+sesame", "?password=open%20sesame"):
        assert requests.get(live_server.url(f"/s/{token}{path}"), timeout=30).status_code == 401
    posted = requests.post(
        live_server.url(f"/s/{token}/password?password=open+sesame"),
        timeout=30,
        allow_redirects=False,
    )
    assert posted.status_code == 401 and COOKIE_NAME not in posted.cookies


def test_the_form_gives_a_cookie_for_the_link_only(live_server: LiveServer) -> None:
    alice, token = setup_folder(live_server)
    browser = requests.Session()
    wrong = browser.post(
        live_server.url(f"/s/{token}/password"), data={"password": "nope"}, timeout=30
    )
    assert wrong.status_code == 401 and Page(wrong.text).by_id["error"] == "Wrong password."
    right = browser.post(
        live_server.url(f"/s/{token}/password"),
        data={"password": "open sesame", "next": f"/s/{token}/download/a.txt"},
        timeout=30,
        allow_redirects=False,
    )
    assert right.status_code == 303
    assert right.headers["Location"] == f"/s/{token}/download/a.txt"
    cookie = right.headers["Set-Cookie"]
    assert f"Path=/s/{token}" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # plain HTTP here; over https the cookie is Secure
    assert browser.get(live_server.url(f"/s/{token}/download/a.txt"), timeout=30).content == (
        b"secret a"
    )
    assert browser.get(live_server.url(f"/s/{token}/download"), timeout=30).status_code == 200
    assert browser.get(live_server.url(f"/s/{token}"), timeout=30).status_code == 200
    # An open redirect to elsewhere is not followed.
    elsewhere = browser.post(
        live_server.url(f"/s/{token}/password"),
        data={"password": "open sesame", "next": "https://example.org/"},
        timeout=30,
        allow_redirects=False,
    )
    assert elsewhere.headers["Location"] == f"/s/{token}"

    # A forged cookie, and the cookie after a new password, are worthless.
    forged = requests.get(
        live_server.url(f"/s/{token}/download/a.txt"),
        cookies={COOKIE_NAME: "9999999999.00"},
        timeout=30,
    )
    assert forged.status_code == 401
    links = live_server.services.store.links
    [listed] = links.listing(alice.owner)  # type: ignore[attr-defined]
    links.update(alice.owner, listed.link.id, {"password": "new one"})  # type: ignore[attr-defined]
    assert browser.get(live_server.url(f"/s/{token}/download/a.txt"), timeout=30).status_code == (
        401
    )


def test_a_new_token_ends_the_cookie(live_server: LiveServer) -> None:
    alice, token = setup_folder(live_server)
    browser = requests.Session()
    browser.post(
        live_server.url(f"/s/{token}/password"), data={"password": "open sesame"}, timeout=30
    )
    cookie = browser.cookies.get(COOKIE_NAME)
    assert cookie
    links = live_server.services.store.links
    [listed] = links.listing(alice.owner)  # type: ignore[attr-defined]
    renewed = links.regenerate(alice.owner, listed.link.id)  # type: ignore[attr-defined]
    answer = requests.get(
        live_server.url(f"/s/{renewed.token}/download/a.txt"),
        cookies={COOKIE_NAME: cookie},
        timeout=30,
    )
    assert answer.status_code == 401


def test_basic_auth_with_the_password_opens_raw_downloads(live_server: LiveServer) -> None:
    _alice, token = setup_folder(live_server)
    url = live_server.url(f"/s/{token}/download/a.txt")
    assert requests.get(url, auth=("", "open sesame"), timeout=30).content == b"secret a"
    assert requests.get(url, auth=("any", "wrong"), timeout=30).status_code == 401
    archive = requests.get(live_server.url(f"/s/{token}/download"), auth=("x", "open sesame"))
    assert archive.status_code == 200 and archive.headers["Content-Type"] == "application/zip"


@pytest.fixture
def proxied_server(settings: Settings) -> Iterator[LiveServer]:
    """A server that takes the client address from X-Forwarded-For (as behind a proxy)."""
    services = create_services(replace(settings, trusted_proxies=parse_networks(["127.0.0.1"])))
    server = LiveServer(services)
    yield server
    server.stop()
    services.close()


def unlock(server: LiveServer, token: str, password: str, address: str) -> int:
    answer = requests.post(
        server.url(f"/s/{token}/password"),
        data={"password": password},
        headers={"X-Forwarded-For": address},
        timeout=30,
        allow_redirects=False,
    )
    return answer.status_code


def test_failed_passwords_are_throttled_per_link_without_locking_out_others(
    proxied_server: LiveServer,
) -> None:
    server = proxied_server
    alice, token = setup_folder(server)
    dav = server.session(alice)  # type: ignore[arg-type]
    assert dav.put(server.url("/dav/other.txt"), data=b"other").status_code == 201
    other = make_link(server, alice, "other.txt", password="second")  # type: ignore[arg-type]
    visitor, guesser, newcomer = "203.0.113.5", "198.51.100.7", "203.0.113.9"
    assert unlock(server, token, "open sesame", visitor) == 303
    statuses = [unlock(server, token, f"guess {n}", guesser) for n in range(12)]
    assert statuses[0] == 401 and statuses[-1] == 429
    # The link waits now, for anyone who has not opened it from their address before...
    assert unlock(server, token, "open sesame", newcomer) == 429
    # ...but the visitor who did still gets in, and the guesser's other links are untouched.
    assert unlock(server, token, "open sesame", visitor) == 303
    assert unlock(server, other.token, "second", guesser) == 303


def test_behind_a_tls_proxy_the_cookie_is_secure_and_scoped_to_the_prefix(
    proxied_server: LiveServer,
) -> None:
    _alice, token = setup_folder(proxied_server)
    answer = requests.post(
        proxied_server.url(f"/s/{token}/password"),
        data={"password": "open sesame"},
        headers={"X-Forwarded-Proto": "https", "X-Forwarded-Prefix": "/files"},
        timeout=30,
        allow_redirects=False,
    )
    assert answer.status_code == 303
    assert answer.headers["Location"].endswith(f"/files/s/{token}")
    cookie = answer.headers["Set-Cookie"]
    assert "Secure" in cookie and f"Path=/files/s/{token}" in cookie


def test_odd_cookies_and_page_numbers_are_no_failure(live_server: LiveServer) -> None:
    """A forged cookie with a digit int() refuses or a non-ASCII MAC, and a page number of
    such digits, are turned away or ignored: never a 500."""
    alice, token = setup_folder(live_server)
    url = live_server.url(f"/s/{token}")
    for cookie in ("\u00b2.x", f"{int(time.time())}.\u00e9", "9" * 5000 + ".x"):
        answer = requests.get(url, cookies={COOKIE_NAME: cookie}, timeout=10)
        assert answer.status_code == 401, cookie[:20]
    open_link = make_link(live_server, alice, "box")  # type: ignore[arg-type]
    listing = requests.get(live_server.url(f"/s/{open_link.token}?page=%C2%B2"), timeout=10)
    assert listing.status_code == 200 and "a.txt" in listing.text
