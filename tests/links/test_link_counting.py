"""Download limits count completed transfers: an aborted download counts nothing, its resume
counts once, partial ranges and HEAD count nothing, and a zip counts once."""

from __future__ import annotations

import os

import requests

from davfiles.store.links import LinkInfo
from tests.harness import LiveServer, TestUser
from tests.links.helpers import make_link, wait_for

BIG = 32 * 1024 * 1024


def shared_big_file(server: LiveServer, **settings: object) -> tuple[TestUser, LinkInfo, bytes]:
    alice = server.add_user("alice")
    data = os.urandom(BIG)
    assert server.session(alice).put(server.url("/dav/big.bin"), data=data).status_code == 201
    return alice, make_link(server, alice, "big.bin", **settings), data


def link_now(server: LiveServer, user: TestUser, link: LinkInfo) -> LinkInfo:
    return server.services.store.links.get(user.owner, link.id).link


def test_an_aborted_download_counts_nothing_and_its_resume_counts_once(
    live_server: LiveServer,
) -> None:
    alice, link, data = shared_big_file(live_server, max_downloads=1)
    url = live_server.url(f"/s/{link.token}/download")
    received = bytearray()
    with requests.get(url, stream=True, timeout=30) as answer:
        assert answer.status_code == 200
        for block in answer.iter_content(64 * 1024):
            received.extend(block)
            if len(received) >= 1024 * 1024:
                break
    # The server notes what it sent when it sees the connection go.
    wait_for(lambda: link_now(live_server, alice, link).last_access_at is not None)
    assert link_now(live_server, alice, link).downloads == 0

    rest = requests.get(url, headers={"Range": f"bytes={len(received)}-"}, timeout=60)
    assert rest.status_code == 206
    assert bytes(received) + rest.content == data
    wait_for(lambda: link_now(live_server, alice, link).downloads == 1)
    # The limit (1) is reached: the link serves nothing more.
    assert requests.get(url, timeout=30).status_code == 410
    assert link_now(live_server, alice, link).state().value == "exhausted"


def test_partial_ranges_and_head_count_nothing_until_the_file_is_complete(
    live_server: LiveServer,
) -> None:
    alice = live_server.add_user("alice")
    data = b"0123456789" * 100
    assert live_server.session(alice).put(live_server.url("/dav/f.txt"), data=data).ok
    link = make_link(live_server, alice, "f.txt")
    url = live_server.url(f"/s/{link.token}/download")
    assert requests.head(url, timeout=30).status_code == 200
    first = requests.get(url, headers={"Range": "bytes=0-499"}, timeout=30)
    assert first.status_code == 206 and first.content == data[:500]
    wait_for(lambda: link_now(live_server, alice, link).last_access_at is not None)
    assert link_now(live_server, alice, link).downloads == 0
    second = requests.get(url, headers={"Range": "bytes=500-"}, timeout=30)
    assert first.content + second.content == data
    wait_for(lambda: link_now(live_server, alice, link).downloads == 1)
    # The same client asking for a tail again has not downloaded the file again.
    requests.get(url, headers={"Range": "bytes=990-"}, timeout=30)
    assert requests.get(url, timeout=30).content == data
    wait_for(lambda: link_now(live_server, alice, link).downloads == 2)
    assert link_now(live_server, alice, link).downloads == 2


def test_a_zip_counts_once(live_server: LiveServer) -> None:
    alice = live_server.add_user("alice")
    dav = live_server.session(alice)
    assert dav.request("MKCOL", live_server.url("/dav/box")).status_code == 201
    for name in ("a", "b", "c"):
        assert dav.put(live_server.url(f"/dav/box/{name}.txt"), data=name.encode()).ok
    link = make_link(live_server, alice, "box", max_downloads=1)
    assert requests.get(live_server.url(f"/s/{link.token}/download"), timeout=30).ok
    wait_for(lambda: link_now(live_server, alice, link).downloads == 1)
    answer = requests.get(live_server.url(f"/s/{link.token}/download/a.txt"), timeout=30)
    assert answer.status_code == 410
