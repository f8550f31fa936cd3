"""Containment: every client-supplied name stays inside the caller's home or is refused."""

from __future__ import annotations

import os

import pytest
import requests

from tests.harness import LiveServer, TestUser
from tests.security.rawhttp import basic, raw_request

MALFORMED_PATHS = [
    b"/dav/a%00b",
    b"/dav/a%0Ab",
    b"/dav/x%FF",
    b"/dav/%C0%AE%C0%AE/",
    b"/dav/a/..",
    b"/dav/a/.",
    b"/dav/%2e%2e/other",
    b"/dav/./file.txt",
    b"/remote.php/webdav/../dav/",
    b"/1/file/../../etc/passwd",
    b"/api/files/%2e%2e",
    b"/molgenis/api/files/%00",
    b"/backend/user_files/%C0%AF",
]


@pytest.fixture
def alice(live_server: LiveServer) -> TestUser:
    user = live_server.add_user("alice", "alice-pw")
    live_server.session(user).put(live_server.url("/dav/file.txt"), data=b"alice's")
    return user


@pytest.mark.parametrize("target", MALFORMED_PATHS, ids=lambda t: t.decode("latin-1"))
def test_malformed_paths_are_400(live_server: LiveServer, alice: TestUser, target: bytes) -> None:
    for method in ("GET", "PUT", "PROPFIND", "DELETE"):
        status, response = raw_request(
            live_server.port,
            method,
            target,
            {"Authorization": basic(alice), "Content-Length": "1"},
            b"x",
        )
        assert status == 400, (method, response[:300])
        assert b"Traceback" not in response and b"/tmp/" not in response


def test_malformed_content_length_is_400_and_stores_nothing(
    live_server: LiveServer, alice: TestUser
) -> None:
    for length in ("-5", "12abc", "1e3"):
        status, _ = raw_request(
            live_server.port,
            "PUT",
            b"/dav/neg.txt",
            {"Authorization": basic(alice), "Content-Length": length},
            b"x",
        )
        assert status == 400, length
    assert live_server.session(alice).get(live_server.url("/dav/neg.txt")).status_code == 404


@pytest.mark.parametrize("name", ["CON", "nul.txt", "COM1.log", "lpt9", "x" * 256])
def test_names_windows_or_the_disk_cannot_hold_are_400(
    live_server: LiveServer, alice: TestUser, name: str
) -> None:
    session = live_server.session(alice)
    assert session.put(live_server.url(f"/dav/{name}"), data=b"x").status_code == 400
    assert session.request("MKCOL", live_server.url(f"/dav/{name}")).status_code == 400
    moved = session.request(
        "MOVE",
        live_server.url("/dav/file.txt"),
        headers={"Destination": live_server.url(f"/dav/{name}")},
    )
    assert moved.status_code == 400
    home = live_server.services.store.home(alice.owner)
    assert sorted(os.listdir(home)) == ["file.txt"]


def test_symlinks_placed_in_a_home_are_never_followed(
    live_server: LiveServer, alice: TestUser
) -> None:
    home = live_server.services.store.home(alice.owner)
    os.symlink("/etc/passwd", home / "passwd-link")
    session = live_server.session(alice)
    assert session.get(live_server.url("/dav/passwd-link")).status_code == 404
    listing = session.request("PROPFIND", live_server.url("/dav/"), headers={"Depth": "1"})
    assert b"passwd-link" not in listing.content


def test_internal_state_has_no_url(live_server: LiveServer, alice: TestUser) -> None:
    session = live_server.session(alice)
    for path in (
        "/dav/davfiles.sqlite3",
        "/dav/jwt-secret",
        "/dav/tmp/",
        "/dav/users/",
        "/davfiles.sqlite3",
        "/data/davfiles.sqlite3",
        "/public/davfiles.sqlite3",
    ):
        response = session.get(live_server.url(path))
        assert response.status_code in (401, 404), path
        assert b"SQLite format" not in response.content


def test_destination_on_another_host_or_port_is_502(
    live_server: LiveServer, alice: TestUser
) -> None:
    session = live_server.session(alice)
    for destination in (
        "http://example.org/dav/copy.txt",
        f"http://127.0.0.1:{live_server.port + 1}/dav/copy.txt",
    ):
        for method in ("COPY", "MOVE"):
            response = session.request(
                method, live_server.url("/dav/file.txt"), headers={"Destination": destination}
            )
            assert response.status_code == 502, (method, destination)
    assert session.get(live_server.url("/dav/copy.txt")).status_code == 404
    assert session.get(live_server.url("/dav/file.txt")).content == b"alice's"


def test_rest_names_stay_inside_the_home(live_server: LiveServer, alice: TestUser) -> None:
    token = live_server.services.accounts.create_token("alice")[1]
    for name in ("../escape.txt", "..", "a/b.txt", "CON"):
        molgenis = requests.post(
            live_server.url("/molgenis/api/files"),
            data=b"x",
            headers={
                "x-molgenis-token": token,
                "x-molgenis-filename": name,
                "Content-Type": "application/octet-stream",
            },
        )
        assert molgenis.status_code == 400, name
        aptly = requests.post(
            live_server.url("/api/files/upload"), auth=alice.auth, files={"file": (name, b"x")}
        )
        assert aptly.status_code in (200, 400), name
    home = live_server.services.store.home(alice.owner)
    assert not (home.parent / "escape.txt").exists()
    stored = {info.path.text for info in live_server.services.store.list_files(alice.owner)}
    assert stored <= {"file.txt", "upload/b.txt"}
