"""Locks taken through an edit link never outlive what the link may do: deleting, disabling,
regenerating the link or making it another kind drops them at once, so the owner can write;
and a lock taken through a link with an expiry ends no later than the link."""

from __future__ import annotations

import re
import time
from collections.abc import Callable

import pytest
import requests

from davfiles.store.links import LinkInfo
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
