"""Browsers asking for ``/`` or a folder under ``/dav/`` are sent to the app; WebDAV clients
keep getting WebDAV, and a file's GET under ``/dav/`` is answered as before."""

from __future__ import annotations

import pytest
import requests

from davfiles.store import parse_user_path
from tests.harness import LiveServer, TestUser

BROWSER = {
    "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
    "User-Agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/120 Safari/537.36",
}
# What WebDAV clients send on a GET (their own User-Agents; some accept anything).
CLIENTS = [
    {"User-Agent": "rclone/v1.60.1", "Accept": "*/*"},
    {"User-Agent": "davfs2/1.7.0 neon/0.33.0", "Accept": "text/html, */*"},
    {"User-Agent": "litmus/0.13 neon/0.33.0", "Accept": "text/html"},
    {"User-Agent": "Microsoft-WebDAV-MiniRedir/10.0.19045", "Accept": "text/html, */*"},
    {"User-Agent": "gvfs/1.50.3", "Accept": "text/html"},
    {"User-Agent": "cadaver/0.24 neon/0.33.0", "Accept": "text/html"},
    {"User-Agent": "curl/8.5.0", "Accept": "*/*"},
    {**BROWSER, "Depth": "1"},
    {**BROWSER, "Translate": "f"},
]


@pytest.fixture
def alice(live_server: LiveServer) -> TestUser:
    user = live_server.add_user("alice")
    store = live_server.services.store
    store.mkdir(user.owner, parse_user_path("docs"))
    store.write_bytes(user.owner, parse_user_path("docs/a.txt"), b"hello")
    return user


def get(
    server: LiveServer, path: str, headers: dict[str, str], **kwargs: object
) -> requests.Response:
    return requests.get(server.url(path), headers=headers, allow_redirects=False, **kwargs)  # type: ignore[arg-type]


def test_a_browser_at_the_root_goes_to_the_app(live_server: LiveServer) -> None:
    response = get(live_server, "/", BROWSER)
    assert response.status_code == 303
    assert response.headers["Location"] == "/app/files/"
    assert get(live_server, "/app", BROWSER).headers["Location"] == "/app/"
    assert get(live_server, "/app/", BROWSER).status_code == 303


@pytest.mark.parametrize(
    ("path", "location"),
    [("/dav/", "/app/files/"), ("/dav", "/app/files/"), ("/dav/docs/", "/app/files/docs/")],
)
def test_a_browser_at_a_folder_url_goes_to_the_apps_page_of_it(
    live_server: LiveServer, alice: TestUser, path: str, location: str
) -> None:
    response = get(live_server, path, BROWSER)
    assert response.status_code == 303
    assert response.headers["Location"] == location


def test_a_folder_without_slash_moves_once_the_browser_sent_its_credentials(
    live_server: LiveServer, alice: TestUser
) -> None:
    # Without credentials nobody can tell a folder from a file: WebDAV asks for them.
    assert get(live_server, "/dav/docs", BROWSER).status_code == 401
    response = get(live_server, "/dav/docs", BROWSER, auth=alice.auth)
    assert response.status_code == 303
    assert response.headers["Location"] == "/app/files/docs/"


def test_a_browsers_credentials_are_checked_once(in_process_server: LiveServer) -> None:
    """The folder's page is found after WebDAV's authentication, not before it as well: a
    wrong password counts one failure, and a right one costs one password check. (In
    process: the counter is the server's own.)"""
    server = in_process_server
    user = server.add_user("alice")
    server.services.store.mkdir(user.owner, parse_user_path("docs"))
    authenticator = server.services.authenticator
    before = authenticator.hash_verifications
    wrong = get(server, "/dav/docs", BROWSER, auth=(user.name, "not-the-password"))
    assert wrong.status_code == 401
    assert authenticator.hash_verifications == before + 1
    right = get(server, "/dav/docs", BROWSER, auth=user.auth)
    assert right.status_code == 303
    assert authenticator.hash_verifications == before + 2


def test_a_browsers_get_of_a_file_under_dav_is_unchanged(
    live_server: LiveServer, alice: TestUser
) -> None:
    response = get(live_server, "/dav/docs/a.txt", BROWSER, auth=alice.auth)
    assert response.status_code == 200
    assert response.content == b"hello"
    assert get(live_server, "/dav/docs/a.txt", BROWSER).status_code == 401


@pytest.mark.parametrize("headers", CLIENTS, ids=lambda h: h.get("User-Agent", "")[:12])
def test_webdav_clients_keep_getting_webdav(
    live_server: LiveServer, alice: TestUser, headers: dict[str, str]
) -> None:
    for path in ("/dav/", "/dav/docs/", "/dav/docs"):
        response = get(live_server, path, headers, auth=alice.auth)
        assert response.status_code != 303, path
        assert "Location" not in response.headers
    # (WsgiDAV refuses a GET with Depth, as it did before the app.)
    plain = {name: value for name, value in headers.items() if name != "Depth"}
    file = get(live_server, "/dav/docs/a.txt", plain, auth=alice.auth)
    assert file.status_code == 200 and file.content == b"hello"
    propfind = requests.request(
        "PROPFIND",
        live_server.url("/dav/docs/"),
        headers={**headers, "Depth": "1"},
        auth=alice.auth,
    )
    assert propfind.status_code == 207


def test_wsgidavs_directory_listing_is_off(live_server: LiveServer, alice: TestUser) -> None:
    """A client's GET of a folder still answers 200, as a check that address and credentials
    work, but lists nothing: the listing is the app's."""
    response = get(live_server, "/dav/docs/", {"Accept": "*/*"}, auth=alice.auth)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert "a.txt" not in response.text
    assert "/app/" in response.text
    head = requests.head(live_server.url("/dav/docs/"), auth=alice.auth)
    assert head.status_code == 200 and head.content == b""
    assert get(live_server, "/dav/docs/", {"Accept": "*/*"}).status_code == 401
    assert (
        get(live_server, "/dav/:dir_browser/", {"Accept": "*/*"}, auth=alice.auth).status_code
        == 404
    )


def test_other_methods_and_paths_are_never_redirected(
    live_server: LiveServer, alice: TestUser
) -> None:
    put = requests.put(
        live_server.url("/dav/docs/b.txt"), data=b"b", headers=BROWSER, auth=alice.auth
    )
    assert put.status_code == 201
    assert get(live_server, "/remote.php/webdav/docs/", BROWSER, auth=alice.auth).status_code != 303
    assert get(live_server, "/healthz", BROWSER).status_code == 200
