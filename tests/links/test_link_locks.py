"""Locks taken through an edit link never outlive what the link may do: deleting, disabling,
regenerating the link or making it another kind drops them at once, so the owner can write;
and a lock taken through a link with an expiry ends no later than the link."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable

import pytest
import requests

from davfiles.db.models import Lock, ShareLink
from davfiles.errors import DavfilesError
from davfiles.links.davlocks import LinkLocks, ref_url
from davfiles.store import parse_user_path as p
from davfiles.store.links import LinkInfo, Visit
from davfiles.store.locks import SqlLockStorage
from tests.harness import LiveServer, TestUser
from tests.links.helpers import make_link
from tests.links.test_public_webdav_edit import LOCKINFO, prepared

Change = Callable[[LiveServer, LinkInfo], None]


def _delete(server: LiveServer, link: LinkInfo) -> None:
    server.services.store.links.delete(None, link.id)


def _disable(server: LiveServer, link: LinkInfo) -> None:
    server.services.store.links.update(None, link.id, {"disabled": True})


def _regenerate(server: LiveServer, link: LinkInfo) -> None:
    server.services.store.links.regenerate(None, link.id)


def _make_view(server: LiveServer, link: LinkInfo) -> None:
    server.services.store.links.update(None, link.id, {"kind": "view"})


def _lock(server: LiveServer, link: LinkInfo, sub: str, timeout: str) -> requests.Response:
    url = server.url(f"/public.php/dav/files/{link.token}/{sub}")
    return requests.request("LOCK", url, data=LOCKINFO, headers={"Timeout": timeout}, timeout=30)


def _owner_put(server: LiveServer, user: TestUser, path: str) -> int:
    return server.session(user).put(server.url(f"/dav/{path}"), data=b"mine").status_code


@pytest.mark.parametrize("change", [_delete, _disable, _regenerate, _make_view])
def test_a_links_locks_go_with_what_it_may_do(live_server: LiveServer, change: Change) -> None:
    alice = prepared(live_server)
    link = make_link(live_server, alice, "team", "edit")
    owner = live_server.session(alice)
    assert owner.request("MKCOL", live_server.url("/dav/else")).status_code == 201
    assert owner.put(live_server.url("/dav/else/in.txt"), data=b"other").status_code == 201
    other = make_link(live_server, alice, "else", "edit")
    # The shared folder itself, for a day, as a client may lock it.
    assert _lock(live_server, link, "", "Second-86400").status_code == 200
    assert _lock(live_server, other, "in.txt", "Second-600").status_code == 200
    assert _owner_put(live_server, alice, "team/doc.txt") == 423
    change(live_server, link)
    assert _owner_put(live_server, alice, "team/doc.txt") == 204
    assert _owner_put(live_server, alice, "team/new.txt") == 201
    # Another link's lock is its own, and still holds.
    assert _owner_put(live_server, alice, "else/in.txt") == 423


def test_other_changes_keep_a_links_locks(live_server: LiveServer) -> None:
    alice = prepared(live_server)
    link = make_link(live_server, alice, "team", "edit")
    assert _lock(live_server, link, "doc.txt", "Second-600").status_code == 200
    live_server.services.store.links.update(None, link.id, {"label": "renamed"})
    live_server.services.store.links.update(None, link.id, {"kind": "edit"})
    assert _owner_put(live_server, alice, "team/doc.txt") == 423


def test_a_lock_through_a_link_ends_with_the_link(live_server: LiveServer) -> None:
    alice = prepared(live_server)
    link = make_link(live_server, alice, "team", "edit", expires_at=time.time() + 120)
    answer = _lock(live_server, link, "doc.txt", "Second-86400")
    assert answer.status_code == 200, answer.text
    match = re.search(rb"<d:timeout>Second-(\d+)</d:timeout>", answer.content)
    assert match is not None, answer.text
    assert 0 < int(match.group(1)) <= 120


def test_an_earlier_expiry_ends_a_links_locks_by_then(live_server: LiveServer) -> None:
    alice = prepared(live_server)
    link = make_link(live_server, alice, "team", "edit", expires_at=time.time() + 3600)
    assert _lock(live_server, link, "doc.txt", "Second-600").status_code == 200
    assert _owner_put(live_server, alice, "team/doc.txt") == 423
    ends = time.time() + 1
    live_server.services.store.links.update(None, link.id, {"expires_at": ends})
    time.sleep(max(0.0, ends - time.time()) + 0.2)
    assert _owner_put(live_server, alice, "team/doc.txt") == 204


def _link_locks(server: LiveServer) -> LinkLocks:
    """The link door's lock manager over the server's lock table, to call in this process."""
    return LinkLocks(SqlLockStorage(server.services.db, 3600))


def _take(locks: LinkLocks, visit: Visit, timeout: float) -> dict[str, object]:
    return locks.acquire(
        {},
        visit,
        ref_url(visit, p("team/doc.txt"), False),
        scope="exclusive",
        depth="0",
        owner=b"<d:owner>racer</d:owner>",
        timeout=timeout,
    )


@pytest.mark.parametrize("change", [_delete, _disable, _regenerate, _make_view])
def test_a_lock_racing_the_owners_change_is_refused(
    live_server: LiveServer, change: Change
) -> None:
    """A LOCK whose visit was opened before the owner's change and written after it (the
    race, in order) is refused, and leaves nothing that blocks the owner."""
    alice = prepared(live_server)
    link = make_link(live_server, alice, "team", "edit")
    locks = _link_locks(live_server)
    visit = live_server.services.store.links.open(link.token)
    change(live_server, link)
    with pytest.raises(DavfilesError):
        _take(locks, visit, 600)
    assert _owner_put(live_server, alice, "team/doc.txt") == 204


@pytest.mark.parametrize("change", [_delete, _disable, _regenerate, _make_view])
def test_a_refresh_racing_the_owners_change_keeps_nothing(
    live_server: LiveServer, change: Change
) -> None:
    alice = prepared(live_server)
    link = make_link(live_server, alice, "team", "edit")
    locks = _link_locks(live_server)
    visit = live_server.services.store.links.open(link.token)
    lock = _take(locks, visit, 600)
    assert _owner_put(live_server, alice, "team/doc.txt") == 423
    change(live_server, link)
    environ = {"HTTP_IF": f"(<{lock['token']}>)"}
    url = ref_url(visit, p("team/doc.txt"), False)
    try:
        refreshed = locks.refresh(environ, visit, url, 600)
    except DavfilesError:
        refreshed = None
    assert refreshed is None
    assert _owner_put(live_server, alice, "team/doc.txt") == 204


def test_a_lock_racing_an_earlier_expiry_ends_by_it(live_server: LiveServer) -> None:
    alice = prepared(live_server)
    link = make_link(live_server, alice, "team", "edit", expires_at=time.time() + 3600)
    locks = _link_locks(live_server)
    visit = live_server.services.store.links.open(link.token)
    ends = time.time() + 30
    live_server.services.store.links.update(None, link.id, {"expires_at": ends})
    lock = _take(locks, visit, 600)
    assert isinstance(lock["expire"], float) and lock["expire"] <= ends
    assert isinstance(lock["timeout"], float) and lock["timeout"] <= 30


def test_a_refresh_of_a_dropped_lock_is_a_missing_lock(live_server: LiveServer) -> None:
    alice = prepared(live_server)
    link = make_link(live_server, alice, "team", "edit")
    answer = _lock(live_server, link, "doc.txt", "Second-600")
    assert answer.status_code == 200, answer.text
    token = answer.headers["Lock-Token"].strip("<>")
    links = live_server.services.store.links
    # Disabled and enabled again: the lock went with the first change.
    links.update(None, link.id, {"disabled": True})
    links.update(None, link.id, {"disabled": False})
    url = live_server.url(f"/public.php/dav/files/{link.token}/doc.txt")
    refresh = requests.request(
        "LOCK", url, headers={"If": f"(<{token}>)", "Timeout": "Second-600"}, timeout=30
    )
    assert refresh.status_code == 412, refresh.text
    links.delete(None, link.id)
    refresh = requests.request(
        "LOCK", url, headers={"If": f"(<{token}>)", "Timeout": "Second-600"}, timeout=30
    )
    assert refresh.status_code == 404, refresh.text


def test_an_earlier_expiry_shows_in_lock_discovery(live_server: LiveServer) -> None:
    alice = prepared(live_server)
    link = make_link(live_server, alice, "team", "edit", expires_at=time.time() + 3600)
    assert _lock(live_server, link, "doc.txt", "Second-600").status_code == 200
    live_server.services.store.links.update(None, link.id, {"expires_at": time.time() + 60})
    url = live_server.url(f"/public.php/dav/files/{link.token}/doc.txt")
    answer = requests.request("PROPFIND", url, headers={"Depth": "0"}, timeout=30)
    match = re.search(rb"<d:timeout>Second-(\d+)</d:timeout>", answer.content)
    assert match is not None, answer.text
    assert 0 < int(match.group(1)) <= 60


def test_a_refresh_racing_its_locks_removal_is_a_missing_lock(live_server: LiveServer) -> None:
    """A refresh that found its lock, then waits for the table while another request (a
    visitor's UNLOCK, here this test holding the link's row as the owner's change does)
    removes it: 412, never a 500."""
    alice = prepared(live_server)
    link = make_link(live_server, alice, "team", "edit")
    answer = _lock(live_server, link, "doc.txt", "Second-600")
    assert answer.status_code == 200, answer.text
    token = answer.headers["Lock-Token"].strip("<>")
    url = live_server.url(f"/public.php/dav/files/{link.token}/doc.txt")
    answers: list[requests.Response] = []

    def refresh() -> None:
        headers = {"If": f"(<{token}>)", "Timeout": "Second-600"}
        answers.append(requests.request("LOCK", url, headers=headers, timeout=60))

    with live_server.services.db.write() as session:
        session.get(ShareLink, link.id, with_for_update=True)
        session.delete(session.get(Lock, token))
        session.flush()
        racer = threading.Thread(target=refresh)
        racer.start()
        # Time for the refresh to read its lock and wait for the write this holds.
        time.sleep(1.0)
    racer.join(60)
    assert [a.status_code for a in answers] == [412], [a.text for a in answers]
