"""Digest nonces are the server's own: signed, dated, and each nonce-count accepted once.

The Authorization headers are computed here (RFC 7616, MD5, qop=auth) so a test can send
exactly the nonce and ``nc`` it means, replays included; client libraries would count up.
"""

from __future__ import annotations

import base64
import hashlib
import re
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import func, select

from davfiles.app import create_services
from davfiles.config import Settings
from davfiles.db.models import DigestNonce
from tests.harness import CliServer, LiveServer
from tests.security.test_auth import (
    DAV_PATH,
    PASSWORD,
    WEBDAV_DOORS,
    Reply,
    assert_both_challenges,
    audit_lines,
    send,
)

STALE_LIFETIME = 2
# ``send`` needs only the port.
Server = LiveServer | CliServer
NONCE = re.compile(r'nonce="([^"]*)"')


def _md5(text: str) -> str:
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


def digest(
    user: str,
    password: str,
    nonce: str,
    nc: int | None,
    *,
    method: str = "PROPFIND",
    uri: str = DAV_PATH,
    realm: str = "davfiles",
) -> str:
    """An Authorization header with a right response for ``nonce`` (no qop if ``nc`` is None)."""
    ha1 = _md5(f"{user}:{realm}:{password}")
    ha2 = _md5(f"{method}:{uri}")
    fields = f'username="{user}", realm="{realm}", nonce="{nonce}", uri="{uri}", algorithm=MD5'
    if nc is None:
        return f'Digest {fields}, response="{_md5(f"{ha1}:{nonce}:{ha2}")}"'
    count, cnonce = f"{nc:08x}", "0a4f113b"
    response = _md5(f"{ha1}:{nonce}:{count}:{cnonce}:auth:{ha2}")
    return f'Digest {fields}, qop=auth, nc={count}, cnonce="{cnonce}", response="{response}"'


def nonce_of(reply: Reply) -> str:
    is_stale(reply)
    found = NONCE.search(reply.challenges[0])
    assert found
    return found.group(1)


def is_stale(reply: Reply) -> bool:
    """True for a 401 whose Digest challenge says stale=true (both challenges checked)."""
    assert reply.challenges, reply.status
    digest_challenge = reply.challenges[0].removesuffix(", stale=true")
    assert_both_challenges(replace(reply, challenges=[digest_challenge, *reply.challenges[1:]]))
    return digest_challenge != reply.challenges[0]


def new_nonce(server: Server, path: str = DAV_PATH) -> str:
    return nonce_of(send(server, path))


def propfind(server: Server, header: str, path: str = DAV_PATH) -> Reply:
    return send(server, path, header, method="PROPFIND", headers={"Depth": "0"})


def digest_failures(server: LiveServer) -> int:
    lines = audit_lines(server)
    return sum(1 for line in lines if line["event"] == "login.fail" and line["target"] == "digest")


def test_a_nonce_counts_up_at_every_door(live_server: LiveServer) -> None:
    live_server.add_user("alice", PASSWORD)
    for door in WEBDAV_DOORS:
        nonce = new_nonce(live_server, door)
        for nc in range(1, 4):
            header = digest("alice", PASSWORD, nonce, nc, uri=door)
            assert propfind(live_server, header, door).status == 207, (door, nc)
    assert digest_failures(live_server) == 0


def test_a_replayed_nonce_count_is_refused(live_server: LiveServer) -> None:
    live_server.add_user("alice", PASSWORD)
    nonce = new_nonce(live_server)
    first = digest("alice", PASSWORD, nonce, 1)
    assert propfind(live_server, first).status == 207
    # The captured header, sent again: refused, with stale=true (an honest client whose
    # requests overtook each other retries with a new nonce without asking anyone).
    replayed = propfind(live_server, first)
    assert replayed.status == 401
    assert is_stale(replayed)
    assert propfind(live_server, digest("alice", PASSWORD, nonce, 3)).status == 207
    for nc in (1, 2, 3):
        assert propfind(live_server, digest("alice", PASSWORD, nonce, nc)).status == 401
    get = digest("alice", PASSWORD, nonce, 2, method="GET")
    assert send(live_server, DAV_PATH, get).status == 401
    assert propfind(live_server, digest("alice", PASSWORD, nonce, 4)).status == 207
    # Each replay is a failed login in the audit log (and the throttle).
    assert digest_failures(live_server) == 5
    retry = propfind(live_server, digest("alice", PASSWORD, nonce_of(replayed), 1))
    assert retry.status == 207


def test_a_nonce_the_server_did_not_make_is_refused(live_server: LiveServer) -> None:
    live_server.add_user("alice", PASSWORD)
    real = new_nonce(live_server)
    raw = base64.urlsafe_b64decode(real + "==")
    # Its time moved a day back would make it look fresh for longer: the tag no longer fits.
    earlier = (int.from_bytes(raw[:8], "big") - 86_400_000).to_bytes(8, "big") + raw[8:]
    wsgidav_style = base64.b64encode(f"{time.time()}{'0' * 32}".encode()).decode()
    forged = {
        "random": base64.urlsafe_b64encode(bytes(40)).decode().rstrip("="),
        "tag-changed": real[:-2] + ("AA" if real[-2:] != "AA" else "BA"),
        "time-changed": base64.urlsafe_b64encode(earlier).decode().rstrip("="),
        "wsgidav-style": wsgidav_style,
        "empty": "",
    }
    for name, nonce in forged.items():
        reply = propfind(live_server, digest("alice", PASSWORD, nonce, 1))
        assert reply.status == 401, name
        assert not is_stale(reply), name
    assert digest_failures(live_server) == len(forged)
    assert propfind(live_server, digest("alice", PASSWORD, real, 1)).status == 207


def test_digest_without_a_nonce_count_is_refused(live_server: LiveServer) -> None:
    live_server.add_user("alice", PASSWORD)
    nonce = new_nonce(live_server)
    # RFC 2069's form (no qop, no nc) could be replayed unnoticed; RFC 7616 requires qop.
    reply = propfind(live_server, digest("alice", PASSWORD, nonce, None))
    assert reply.status == 401
    assert not is_stale(reply)
    for bad_count in ("00000000", "1", "0000000g"):
        header = digest("alice", PASSWORD, nonce, 1).replace("nc=00000001", f"nc={bad_count}")
        assert propfind(live_server, header).status == 401, bad_count
    assert propfind(live_server, digest("alice", PASSWORD, nonce, 1)).status == 207


@pytest.fixture
def short_lived(settings: Settings) -> Iterator[LiveServer]:
    """A server whose Digest nonces go stale after STALE_LIFETIME seconds."""
    services = create_services(replace(settings, digest_nonce_lifetime=STALE_LIFETIME))
    server = LiveServer(services)
    yield server
    server.stop()
    services.close()


def test_a_stale_nonce_gets_stale_true_and_a_new_one_works(short_lived: LiveServer) -> None:
    short_lived.add_user("alice", PASSWORD)
    nonce = new_nonce(short_lived)
    assert propfind(short_lived, digest("alice", PASSWORD, nonce, 1)).status == 207
    time.sleep(STALE_LIFETIME + 0.2)
    stale = propfind(short_lived, digest("alice", PASSWORD, nonce, 2))
    assert stale.status == 401
    assert is_stale(stale)
    # The right password on an old nonce is not a failed login.
    assert digest_failures(short_lived) == 0
    fresh = propfind(short_lived, digest("alice", PASSWORD, nonce_of(stale), 1))
    assert fresh.status == 207
    # The old nonce's row went with the first check after it expired.
    with short_lived.services.db.read() as session:
        assert session.scalar(select(func.count()).select_from(DigestNonce)) == 1
    # A wrong password on a stale nonce is not told it only needs a new nonce.
    wrong = propfind(short_lived, digest("alice", "wrong-pw", nonce, 3))
    assert wrong.status == 401
    assert not is_stale(wrong)


def test_a_count_used_by_one_serve_process_is_refused_by_another(tmp_path: Path) -> None:
    """Two ``davfiles serve`` processes on one data dir: no memory in common, only the data."""
    data = tmp_path / "data"
    first = CliServer(data, tmp_path / "first.log")
    try:
        second = CliServer(data, tmp_path / "second.log")
        try:
            password = first.admin_password
            nonce = new_nonce(second)
            assert propfind(first, digest("admin", password, nonce, 1)).status == 207
            for server in (second, first):
                assert propfind(server, digest("admin", password, nonce, 1)).status == 401
            assert propfind(second, digest("admin", password, nonce, 2)).status == 207
            assert propfind(first, digest("admin", password, nonce, 2)).status == 401
        finally:
            second.stop()
    finally:
        first.stop()
