"""Two users on one server never see, read, write, lock or move into each other's files."""

from __future__ import annotations

import pytest
import requests

from tests.dav.helpers import lock, propfind
from tests.harness import LiveServer, TestUser


@pytest.fixture
def two_users(live_server: LiveServer) -> tuple[requests.Session, requests.Session]:
    alice: TestUser = live_server.add_user("alice")
    bob: TestUser = live_server.add_user("bob")
    return live_server.session(alice), live_server.session(bob)


def test_same_path_is_a_different_file_per_user(
    live_server: LiveServer, two_users: tuple[requests.Session, requests.Session]
) -> None:
    alice, bob = two_users
    url = live_server.url("/dav/private.txt")
    assert alice.put(url, data=b"alice's secret").status_code == 201
    assert bob.get(url).status_code == 404
    assert "/dav/private.txt" not in propfind(bob, live_server.url(), depth="1")
    assert bob.put(url, data=b"bob's").status_code == 201
    assert alice.get(url).content == b"alice's secret"
    assert bob.delete(url).status_code == 204
    assert alice.get(url).content == b"alice's secret"


def test_locks_are_per_user(
    live_server: LiveServer, two_users: tuple[requests.Session, requests.Session]
) -> None:
    alice, bob = two_users
    url = live_server.url("/dav/shared-name.txt")
    alice.put(url, data=b"a")
    bob.put(url, data=b"b")
    locked = lock(alice, url)
    assert locked.status_code == 200
    token = locked.headers["Lock-Token"]
    assert bob.put(url, data=b"bob can still write his own file").status_code == 204
    assert lock(bob, url).status_code == 200
    assert alice.put(url, data=b"no token").status_code == 423
    foreign_unlock = bob.request("UNLOCK", url, headers={"Lock-Token": token})
    assert foreign_unlock.status_code in (403, 409)
    assert alice.put(url, data=b"still locked").status_code == 423
    props = propfind(alice, url, props=("lockdiscovery",))
    assert props["/dav/shared-name.txt"]["lockdiscovery"] is not None


def test_dead_properties_are_per_user(
    live_server: LiveServer, two_users: tuple[requests.Session, requests.Session]
) -> None:
    alice, bob = two_users
    url = live_server.url("/dav/p.txt")
    alice.put(url, data=b"a")
    bob.put(url, data=b"b")
    body = (
        '<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:" xmlns:Z="urn:test">'
        "<D:set><D:prop><Z:color>red</Z:color></D:prop></D:set></D:propertyupdate>"
    )
    assert alice.request("PROPPATCH", url, data=body).status_code == 207
    query = (
        '<?xml version="1.0"?><D:propfind xmlns:D="DAV:" xmlns:Z="urn:test">'
        "<D:prop><Z:color/></D:prop></D:propfind>"
    )
    mine = alice.request("PROPFIND", url, data=query, headers={"Depth": "0"})
    theirs = bob.request("PROPFIND", url, data=query, headers={"Depth": "0"})
    assert b"red" in mine.content
    assert b"red" not in theirs.content


def test_copy_and_move_stay_inside_the_own_home(
    live_server: LiveServer, two_users: tuple[requests.Session, requests.Session]
) -> None:
    alice, bob = two_users
    alice.put(live_server.url("/dav/a.txt"), data=b"alice")
    bob.put(live_server.url("/dav/b.txt"), data=b"bob")
    moved = bob.request(
        "MOVE",
        live_server.url("/dav/b.txt"),
        headers={"Destination": live_server.url("/dav/a.txt")},
    )
    assert moved.status_code == 201
    assert alice.get(live_server.url("/dav/a.txt")).content == b"alice"
    assert bob.get(live_server.url("/dav/a.txt")).content == b"bob"
    elsewhere = bob.request(
        "COPY",
        live_server.url("/dav/a.txt"),
        headers={"Destination": "http://other.example/dav/x.txt"},
    )
    assert elsewhere.status_code == 502
    alice_home = live_server.services.store.home(live_server.services.accounts.owner("alice"))
    assert sorted(path.name for path in alice_home.iterdir()) == ["a.txt"]


def test_dot_dot_cannot_leave_the_home(
    live_server: LiveServer, two_users: tuple[requests.Session, requests.Session]
) -> None:
    alice, bob = two_users
    alice.put(live_server.url("/dav/target.txt"), data=b"alice")
    for path in ("/dav/../bob/target.txt", "/dav/%2e%2e/alice/target.txt", "/dav/a/../../alice"):
        response = bob.get(live_server.url(path))
        assert response.status_code in (400, 403, 404), path
        assert response.content != b"alice"
