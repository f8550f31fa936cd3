"""Login throttling, revocation and Digest nonce-counts hold across server processes sharing
one database.

Two Services built on the same settings stand for two worker processes: each has its own
Authenticator, throttle object and verification cache, and only the database in common.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests
from sqlalchemy import event

from davfiles.app import Services, create_services
from davfiles.auth.throttle import BUSY_LEASE, LoginThrottle, LoginThrottled, ThrottleLimits
from davfiles.config import Settings
from tests.harness import LiveServer
from tests.security.test_auth import DAV_PATH, MAX_ATTEMPTS, PASSWORD, WRONG, basic, send
from tests.security.test_digest_nonces import digest, new_nonce, propfind

WRITES = ("INSERT", "UPDATE", "DELETE")


@pytest.fixture
def other(settings: Settings) -> Iterator[LiveServer]:
    """A second server with services of its own on the same database."""
    services = create_services(settings)
    server = LiveServer(services)
    yield server
    server.stop()
    services.close()


def test_failures_on_two_servers_count_together(live_server: LiveServer, other: LiveServer) -> None:
    live_server.add_user("alice", PASSWORD)
    limit = live_server.services.settings.login_failures_per_user
    servers = (live_server, other)
    for failures in range(MAX_ATTEMPTS):
        reply = send(servers[failures % 2], DAV_PATH, basic(f"alice:{WRONG}"), source="127.0.0.20")
        if reply.status == 429:
            break
        assert reply.status == 401
    assert reply.status == 429
    # Each server alone saw about half: only a shared count reaches the limit this soon.
    assert limit <= failures < 2 * limit
    for server in servers:
        right = send(server, DAV_PATH, basic(f"alice:{PASSWORD}"), source="127.0.0.21")
        assert right.status == 429
        assert int(right.headers["retry-after"]) >= 1


def test_a_usual_address_learnt_on_one_server_counts_on_the_other(
    live_server: LiveServer, other: LiveServer
) -> None:
    live_server.add_user("alice", PASSWORD)
    assert (
        send(live_server, DAV_PATH, basic(f"alice:{PASSWORD}"), source="127.0.0.22").status == 200
    )
    for _ in range(MAX_ATTEMPTS):
        if send(other, DAV_PATH, basic(f"alice:{WRONG}"), source="127.0.0.23").status == 429:
            break
    assert send(other, DAV_PATH, basic(f"alice:{PASSWORD}"), source="127.0.0.24").status == 429
    assert send(other, DAV_PATH, basic(f"alice:{PASSWORD}"), source="127.0.0.22").status == 200


def test_a_throttle_object_per_process_shares_one_count(services: Services) -> None:
    now = [1000.0]
    limits = ThrottleLimits(per_user=4, per_address=0, max_delay=60)
    first, second = (LoginThrottle(services.db, limits, clock=lambda: now[0]) for _ in range(2))
    for attempt in range(4):
        throttle = first if attempt % 2 else second
        throttle.finish(throttle.begin("alice", "192.0.2.1"), None)
    reported = []
    for throttle in (first, second):
        with pytest.raises(LoginThrottled) as refused:
            throttle.begin("alice", "192.0.2.2")
        assert refused.value.scope == "user"
        reported.append(refused.value.first)
    # Only one of the two processes reports the start of the wait to the audit log.
    assert reported == [True, False]


def test_a_check_left_unfinished_by_a_killed_process_holds_its_key_only_briefly(
    services: Services,
) -> None:
    now = [1000.0]
    limits = ThrottleLimits(per_user=3, per_address=0, max_delay=60)
    dead, living = (LoginThrottle(services.db, limits, clock=lambda: now[0]) for _ in range(2))
    for _ in range(3):
        living.finish(living.begin("alice", "192.0.2.1"), None)
    now[0] += 1  # the first wait is over
    dead.begin("alice", "192.0.2.1")  # over the limit: one check at a time, never finished
    with pytest.raises(LoginThrottled):
        living.begin("alice", "192.0.2.1")
    now[0] += BUSY_LEASE
    living.finish(living.begin("alice", "192.0.2.1"), "alice")


def test_a_cached_login_writes_nothing(in_process_server: LiveServer) -> None:
    user = in_process_server.add_user("alice", PASSWORD)
    url = in_process_server.url("/dav/")
    assert requests.request("PROPFIND", url, auth=user.auth, headers={"Depth": "0"}).ok
    writes: list[str] = []

    def record(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        if statement.lstrip().upper().startswith(WRITES):
            writes.append(statement)

    engine = in_process_server.services.db.engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        for _ in range(20):
            reply = requests.request(
                "PROPFIND", url, auth=user.auth, headers={"Depth": "0"}, timeout=30
            )
            assert reply.status_code == 207
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert writes == []
    assert in_process_server.services.authenticator.hash_verifications == 1


def test_revocation_on_one_server_is_refused_at_once_by_the_other(
    live_server: LiveServer, other: LiveServer
) -> None:
    live_server.add_user("alice", PASSWORD)
    live_server.add_user("bob", PASSWORD)
    token_id, secret = live_server.services.accounts.create_token("alice", "sync")
    forms = [
        (DAV_PATH, {"Authorization": basic(f"alice:{secret}")}),
        ("/backend/user_files", {"Authorization": f"Token {secret}"}),
    ]
    for path, headers in forms:
        for _ in range(2):  # the second success comes from the verification cache
            assert send(live_server, path, headers=headers).status == 200, path
    other.services.accounts.revoke_token(token_id)
    for path, headers in forms:
        assert send(live_server, path, headers=headers).status == 401, path
    # A password change and a deletion made elsewhere count at once too.
    for _ in range(2):
        assert send(live_server, DAV_PATH, basic(f"alice:{PASSWORD}")).status == 200
        assert send(live_server, DAV_PATH, basic(f"bob:{PASSWORD}")).status == 200
    other.services.accounts.set_password("alice", "new-pw")
    assert send(live_server, DAV_PATH, basic(f"alice:{PASSWORD}")).status == 401
    assert send(live_server, DAV_PATH, basic("alice:new-pw")).status == 200
    other.services.accounts.delete_user("bob")
    assert send(live_server, DAV_PATH, basic(f"bob:{PASSWORD}")).status == 401


def test_a_count_used_on_one_server_is_refused_by_the_other(
    live_server: LiveServer, other: LiveServer
) -> None:
    live_server.add_user("alice", PASSWORD)
    nonce = new_nonce(live_server)
    assert propfind(live_server, digest("alice", PASSWORD, nonce, 1)).status == 207
    assert propfind(other, digest("alice", PASSWORD, nonce, 1)).status == 401
    assert propfind(other, digest("alice", PASSWORD, nonce, 2)).status == 207
    assert propfind(live_server, digest("alice", PASSWORD, nonce, 2)).status == 401
