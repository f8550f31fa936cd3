"""Authentication hardening: malformed credentials, equal failures, throttling, revocation, audit.

Requests go through http.client with explicit bytes, so no client library cleans up the
headers; a few use requests for its Digest handshake. Different client addresses are
different loopback addresses (127.0.0.x), which Linux routes without configuration.
"""

from __future__ import annotations

import base64
import http.client
import json
import logging
import re
import time
from dataclasses import dataclass, replace

import pytest
import requests
from requests.auth import HTTPDigestAuth

from davfiles.app import Services, create_services
from davfiles.auth.throttle import LoginThrottle, LoginThrottled, ThrottleLimits, client_network
from davfiles.config import Settings
from tests.harness import LiveServer

PASSWORD = "right-pw"
WRONG = "wrong-pw"
DAV_PATH = "/dav/"
# One authenticated route per REST dialect (aptly, okeanos, spacedog, molgenis, defdrive).
REST_PATHS = (
    "/api/files",
    "/backend/user_files",
    "/1/file/",
    "/molgenis/api/files/1",
    "/defdrive/api/files",
)
MAX_ATTEMPTS = 60
# Where WebDAV answers alice: its three mounts and the chunked-upload area.
WEBDAV_DOORS = (
    "/dav/",
    "/remote.php/webdav/",
    "/remote.php/dav/files/alice/",
    "/remote.php/dav/uploads/alice/",
)
DIGEST_CHALLENGE = re.compile(
    r'Digest realm="davfiles", nonce="[A-Za-z0-9_-]{54}", algorithm=MD5, qop="auth"'
)
BASIC_CHALLENGE = 'Basic realm="davfiles"'


@dataclass(frozen=True)
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes
    # Every WWW-Authenticate field, in order (``headers`` keeps only the last).
    challenges: list[str]


def send(
    server: LiveServer,
    path: str,
    authorization: str | None = None,
    *,
    method: str = "GET",
    source: str = "127.0.0.1",
    headers: dict[str, str] | None = None,
    body: bytes | None = None,
) -> Reply:
    """One request from ``source``; header values go out as latin-1 bytes, unchanged."""
    connection = http.client.HTTPConnection(
        "127.0.0.1", server.port, timeout=30, source_address=(source, 0)
    )
    try:
        connection.putrequest(method, path, skip_accept_encoding=True)
        all_headers = dict(headers or {})
        if authorization is not None:
            all_headers["Authorization"] = authorization
        if body is not None:
            all_headers["Content-Length"] = str(len(body))
        for name, value in all_headers.items():
            connection.putheader(name, value.encode("latin-1"))
        connection.endheaders(body)
        response = connection.getresponse()
        fields = response.getheaders()
        return Reply(
            response.status,
            {name.lower(): value for name, value in fields},
            response.read(),
            [value for name, value in fields if name.lower() == "www-authenticate"],
        )
    finally:
        connection.close()


def basic(raw: bytes | str) -> str:
    raw = raw.encode() if isinstance(raw, str) else raw
    return "Basic " + base64.b64encode(raw).decode("ascii")


def fail_until_throttled(server: LiveServer, name: str, source: str) -> tuple[int, Reply]:
    """Send wrong passwords for ``name`` until refused; (failures answered 401, the 429)."""
    for failures in range(MAX_ATTEMPTS):
        reply = send(server, DAV_PATH, basic(f"{name}:{WRONG}"), source=source)
        if reply.status == 429:
            return failures, reply
        assert reply.status == 401
    pytest.fail(f"no 429 after {MAX_ATTEMPTS} failed logins")


def audit_lines(server: LiveServer) -> list[dict[str, object]]:
    text = server.services.settings.effective_audit_log.read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines()]


def assert_challenge(reply: Reply) -> None:
    assert reply.status == 401, reply.body
    assert reply.headers.get("www-authenticate")
    assert b"Traceback" not in reply.body


def assert_both_challenges(reply: Reply) -> None:
    """A 401 offering Digest (first: Windows' choice over plain HTTP) and Basic."""
    assert reply.status == 401, reply.body
    assert len(reply.challenges) == 2, reply.challenges
    assert DIGEST_CHALLENGE.fullmatch(reply.challenges[0]), reply.challenges
    assert reply.challenges[1] == BASIC_CHALLENGE
    assert b"Traceback" not in reply.body


MALFORMED_BASIC = {
    "not-base64": "Basic !!!not-base64!!!",
    "bad-padding": "Basic YWxpY2U6cH",
    "no-colon": basic("alice"),
    # Cut at the NUL, these would be alice's valid credentials.
    "nul-in-user": basic(f"alice\0junk:{PASSWORD}"),
    "nul-in-password": basic(f"alice:{PASSWORD}\0junk"),
    "non-utf8": basic(b"alice:\xff\xfe\xfd"),
    "empty": "Basic",
    "only-spaces": "Basic    ",
    "empty-user": basic(f":{PASSWORD}"),
    "comma-for-space": "Basic," + basic(f"alice:{PASSWORD}")[6:],
    "non-ascii": "Basic \xe9\xe9\xe9",
    "space-inside": "Basic YWxp Y2U6",
}

MALFORMED_DIGEST = {
    "bare": "Digest",
    "junk": "Digest ,,,===,,,",
    "no-username": 'Digest realm="davfiles", nonce="n", uri="/dav/", response="00"',
    "unparsable-uri": (
        'Digest username="alice", realm="davfiles", nonce="n", uri="http://[x/dav/", response="00"'
    ),
    "non-ascii-response": (
        'Digest username="alice", realm="davfiles", nonce="n", uri="/dav/", response="\xe9\xe9"'
    ),
    "nul-in-user": (
        'Digest username="alice\x00junk", realm="davfiles", nonce="n", uri="/dav/", response="00"'
    ),
    "qop-without-cnonce": (
        'Digest username="alice", realm="davfiles", nonce="n", uri="/dav/", qop=auth, response="0"'
    ),
    "other-algorithm": (
        'Digest username="alice", realm="davfiles", nonce="n", uri="/dav/", '
        'algorithm=SHA-256, response="00"'
    ),
    "huge-username": 'Digest username="' + "a" * 20000 + '", nonce="n", uri="/dav/"',
}

UNKNOWN_SCHEMES = {
    "bearer-junk": "Bearer not-a-token",
    "negotiate": "Negotiate YIIBhgYGKwYBBQUCoIIBejCCAXagMDAu",
    "ntlm": "NTLM TlRMTVNTUAABAAAAB4IIogAAAAAAAAAAAAAAAAAAAAAGAbEdAAAADw==",
    "word-only": "Foo",
    "empty": "",
    "non-ascii": "\xe4\xf6\xfc abc",
}


@pytest.mark.parametrize("header", MALFORMED_BASIC.values(), ids=MALFORMED_BASIC.keys())
def test_malformed_basic_gets_401_with_challenge(live_server: LiveServer, header: str) -> None:
    live_server.add_user("alice", PASSWORD)
    for path in (DAV_PATH, *REST_PATHS):
        assert_challenge(send(live_server, path, header))


@pytest.mark.parametrize("header", MALFORMED_DIGEST.values(), ids=MALFORMED_DIGEST.keys())
def test_malformed_digest_gets_401_with_challenge(live_server: LiveServer, header: str) -> None:
    live_server.add_user("alice", PASSWORD)
    for path in (DAV_PATH, *REST_PATHS):
        assert_challenge(send(live_server, path, header))


@pytest.mark.parametrize("header", UNKNOWN_SCHEMES.values(), ids=UNKNOWN_SCHEMES.keys())
def test_unknown_scheme_gets_401_with_challenge(live_server: LiveServer, header: str) -> None:
    for path in (DAV_PATH, *REST_PATHS):
        assert_challenge(send(live_server, path, header))


@pytest.mark.parametrize(
    "method",
    ["GET", "HEAD", "PUT", "DELETE", "MKCOL", "COPY", "MOVE", "PROPFIND", "PROPPATCH"]
    + ["LOCK", "UNLOCK", "POST"],
)
def test_every_method_but_options_needs_credentials(live_server: LiveServer, method: str) -> None:
    user = live_server.add_user("alice", PASSWORD)
    requests.put(live_server.url("/dav/file.txt"), data=b"x", auth=user.auth, timeout=30)
    reply = send(live_server, "/dav/file.txt", method=method, body=b"")
    assert reply.status == 401
    assert reply.headers.get("www-authenticate")


def test_anonymous_options_answers_the_same_for_every_path(live_server: LiveServer) -> None:
    user = live_server.add_user("alice", PASSWORD)
    requests.put(live_server.url("/dav/file.txt"), data=b"x", auth=user.auth, timeout=30)
    existing = send(live_server, "/dav/file.txt", method="OPTIONS")
    missing = send(live_server, "/dav/missing.txt", method="OPTIONS")
    assert existing.status == missing.status == 200
    assert existing.body == missing.body
    assert existing.headers.get("allow") == missing.headers.get("allow")


def test_unknown_user_and_wrong_password_get_the_same_401(in_process_server: LiveServer) -> None:
    in_process_server.add_user("alice", PASSWORD)
    authenticator = in_process_server.services.authenticator
    for path in (DAV_PATH, *REST_PATHS):
        answers = []
        for name in ("alice", "nobody"):
            before = authenticator.hash_verifications
            reply = send(in_process_server, path, basic(f"{name}:{WRONG}"))
            headers = {key: value for key, value in reply.headers.items() if key != "date"}
            # The same work (one argon2 verification) stands in for the same time.
            answers.append(
                (reply.status, headers, reply.body, authenticator.hash_verifications - before)
            )
        assert answers[0] == answers[1], path
        assert answers[0][0] == 401
        assert answers[0][3] == 1


def test_failed_logins_are_throttled_per_user(in_process_server: LiveServer) -> None:
    in_process_server.add_user("alice", PASSWORD)
    in_process_server.add_user("bob", PASSWORD)
    failures, refused = fail_until_throttled(in_process_server, "alice", "127.0.0.2")
    assert failures >= in_process_server.services.settings.login_failures_per_user
    assert 1 <= int(refused.headers["retry-after"]) <= 120
    # The user is refused from any address, even with the right password, without a check.
    authenticator = in_process_server.services.authenticator
    before = authenticator.hash_verifications
    assert (
        send(in_process_server, DAV_PATH, basic(f"alice:{PASSWORD}"), source="127.0.0.3").status
        == 429
    )
    assert authenticator.hash_verifications == before
    # Another user from the same address is not.
    assert (
        send(in_process_server, DAV_PATH, basic(f"bob:{PASSWORD}"), source="127.0.0.2").status
        == 200
    )
    throttled = [
        line for line in audit_lines(in_process_server) if line["event"] == "login.throttled"
    ]
    assert [(line["user"], line["target"]) for line in throttled] == [("alice", "user")]


def test_failed_logins_are_throttled_per_address(live_server: LiveServer) -> None:
    live_server.add_user("bob", PASSWORD)
    limit = live_server.services.settings.login_failures_per_address
    for failures in range(MAX_ATTEMPTS):
        reply = send(live_server, DAV_PATH, basic(f"guess{failures}:{WRONG}"), source="127.0.0.4")
        if reply.status == 429:
            break
        assert reply.status == 401
    assert failures >= limit
    assert int(reply.headers["retry-after"]) >= 1
    assert send(live_server, DAV_PATH, basic(f"bob:{PASSWORD}"), source="127.0.0.4").status == 429
    assert send(live_server, DAV_PATH, basic(f"bob:{PASSWORD}"), source="127.0.0.5").status == 200


def test_throttled_user_gets_in_after_retry_after(live_server: LiveServer) -> None:
    live_server.add_user("alice", PASSWORD)
    _failures, refused = fail_until_throttled(live_server, "alice", "127.0.0.6")
    deadline = time.monotonic() + int(refused.headers["retry-after"]) + 10
    while True:
        reply = send(live_server, DAV_PATH, basic(f"alice:{PASSWORD}"), source="127.0.0.7")
        if reply.status != 429 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert reply.status == 200
    # Once in, the session goes on: the next requests are not refused.
    for _ in range(5):
        assert (
            send(live_server, DAV_PATH, basic(f"alice:{PASSWORD}"), source="127.0.0.7").status
            == 200
        )


def test_failures_elsewhere_do_not_lock_a_user_out_of_their_usual_address(
    live_server: LiveServer,
) -> None:
    live_server.add_user("alice", PASSWORD)
    assert send(live_server, DAV_PATH, basic(f"alice:{PASSWORD}"), source="127.0.0.8").status == 200
    fail_until_throttled(live_server, "alice", "127.0.0.9")
    assert (
        send(live_server, DAV_PATH, basic(f"alice:{PASSWORD}"), source="127.0.0.10").status == 429
    )
    assert send(live_server, DAV_PATH, basic(f"alice:{PASSWORD}"), source="127.0.0.8").status == 200


def test_digest_failures_are_throttled_too(live_server: LiveServer) -> None:
    live_server.add_user("alice", PASSWORD)
    wrong = HTTPDigestAuth("alice", WRONG)
    statuses = []
    for _ in range(MAX_ATTEMPTS):
        statuses.append(requests.get(live_server.url(), auth=wrong, timeout=30).status_code)
        if statuses[-1] == 429:
            break
    assert statuses[-1] == 429
    failures = [line for line in audit_lines(live_server) if line["event"] == "login.fail"]
    assert len(failures) >= live_server.services.settings.login_failures_per_user
    assert {line["target"] for line in failures} == {"digest"}
    right = HTTPDigestAuth("alice", PASSWORD)
    assert requests.get(live_server.url(), auth=right, timeout=30).status_code == 429


def test_rest_answers_throttled_logins_with_429(live_server: LiveServer) -> None:
    live_server.add_user("alice", PASSWORD)
    fail_until_throttled(live_server, "alice", "127.0.0.11")
    for path in REST_PATHS:
        reply = send(live_server, path, basic(f"alice:{PASSWORD}"), source="127.0.0.12")
        assert reply.status == 429, path
        assert int(reply.headers["retry-after"]) >= 1
        assert json.loads(reply.body)["error"]
    # Also a dialect's own login route, which checks the password itself.
    login = requests.post(
        live_server.url("/defdrive/api/login"),
        json={"username": "alice", "password": PASSWORD},
        timeout=30,
    )
    assert login.status_code == 429
    assert int(login.headers["Retry-After"]) >= 1


def test_waits_stay_short_however_long_the_attack(services: Services) -> None:
    now = [0.0]
    limits = ThrottleLimits(per_user=5, per_address=0, max_delay=60)
    throttle = LoginThrottle(services.db, limits, clock=lambda: now[0])
    refusals = 0
    for attempt in range(500):
        try:
            ticket = throttle.begin("alice", f"192.0.2.{attempt % 250}")
        except LoginThrottled as exc:
            assert 1 <= exc.retry_after <= limits.max_delay
            now[0] += exc.retry_after
            refusals += 1
            continue
        throttle.finish(ticket, None)
    assert refusals > 200
    # The attack stops; at most max_delay later the user gets in from a new address.
    now[0] += limits.max_delay
    ticket = throttle.begin("alice", "198.51.100.1")
    throttle.finish(ticket, "alice")


def test_throttle_memory_is_bounded(services: Services) -> None:
    throttle = LoginThrottle(services.db, ThrottleLimits(), max_keys=100)
    for number in range(5000):
        ticket = throttle.begin(f"user{number}", f"10.{number // 256 % 256}.{number % 256}.1")
        throttle.finish(ticket, None if number % 2 else f"user{number}")
    assert throttle.tracked_keys <= 300


def test_an_ipv6_client_counts_by_its_64() -> None:
    assert client_network("2001:db8:1:2::1") == client_network("2001:db8:1:2:ffff::9")
    assert client_network("2001:db8:1:2::1") != client_network("2001:db8:1:3::1")
    assert client_network("::ffff:192.0.2.1") == client_network("192.0.2.1") == "192.0.2.1"


def test_revoked_token_is_refused_at_once(live_server: LiveServer) -> None:
    live_server.add_user("alice", PASSWORD)
    accounts = live_server.services.accounts
    token_id, secret = accounts.create_token("alice", "sync")
    forms = [
        (DAV_PATH, {"Authorization": basic(f"alice:{secret}")}),
        ("/backend/user_files", {"Authorization": f"Token {secret}"}),
        ("/api/files", {"Authorization": f"Bearer {secret}"}),
        ("/molgenis/api/files/1", {"x-molgenis-token": secret}),
    ]
    for path, headers in forms:
        for _ in range(2):  # the second success comes from the verification cache
            assert send(live_server, path, headers=headers).status in (200, 404), path
    accounts.revoke_token(token_id)
    for path, headers in forms:
        assert send(live_server, path, headers=headers).status == 401, path
    assert send(live_server, DAV_PATH, basic(f"alice:{PASSWORD}")).status == 200


def test_deleted_user_is_refused_at_once(live_server: LiveServer) -> None:
    live_server.add_user("alice", PASSWORD)
    login = requests.post(
        live_server.url("/defdrive/api/login"),
        json={"username": "alice", "password": PASSWORD},
        timeout=30,
    )
    jwt = login.json()["token"]
    _token_id, secret = live_server.services.accounts.create_token("alice")
    forms = [
        (DAV_PATH, {"Authorization": basic(f"alice:{PASSWORD}")}),
        (DAV_PATH, {"Authorization": basic(f"alice:{secret}")}),
        ("/defdrive/api/files", {"Authorization": f"Bearer {jwt}"}),
        ("/backend/user_files", {"Authorization": f"Token {secret}"}),
    ]
    digest = HTTPDigestAuth("alice", PASSWORD)
    for path, headers in forms:
        for _ in range(2):
            assert send(live_server, path, headers=headers).status == 200, path
    assert requests.get(live_server.url(), auth=digest, timeout=30).status_code == 200
    live_server.services.accounts.delete_user("alice")
    for path, headers in forms:
        assert send(live_server, path, headers=headers).status == 401, path
    assert requests.get(live_server.url(), auth=digest, timeout=30).status_code == 401


def test_a_new_user_of_a_deleted_name_does_not_inherit_its_credentials(
    live_server: LiveServer,
) -> None:
    live_server.add_user("alice", PASSWORD)
    for _ in range(2):
        assert send(live_server, DAV_PATH, basic(f"alice:{PASSWORD}")).status == 200
    jwt = requests.post(
        live_server.url("/defdrive/api/login"),
        json={"username": "alice", "password": PASSWORD},
        timeout=30,
    ).json()["token"]
    live_server.services.accounts.delete_user("alice")
    # SQLite gives the new row the deleted row's id; the cache and JWTs must tell them apart.
    live_server.add_user("alice", "another-pw")
    assert send(live_server, DAV_PATH, basic(f"alice:{PASSWORD}")).status == 401
    assert send(live_server, "/defdrive/api/files", f"Bearer {jwt}").status == 401
    assert send(live_server, DAV_PATH, basic("alice:another-pw")).status == 200


AUDIT_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def test_audit_log_records_logins_without_secrets(
    live_server: LiveServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    live_server.add_user("alice", PASSWORD)
    _token_id, secret = live_server.services.accounts.create_token("alice")
    headers_sent = [
        basic(f"alice:{WRONG}"),
        basic(f"nobody:{WRONG}"),
        basic(f"alice:{PASSWORD}"),
        basic(f"alice:{PASSWORD}"),
    ]
    statuses = [send(live_server, DAV_PATH, header).status for header in headers_sent]
    assert statuses == [401, 401, 200, 200]
    token_header = f"Token {secret}"
    assert send(live_server, "/backend/user_files", token_header, source="127.0.0.13").status == 200
    wrong_digest = HTTPDigestAuth("alice", WRONG)
    assert requests.get(live_server.url(), auth=wrong_digest, timeout=30).status_code == 401

    lines = audit_lines(live_server)
    for line in lines:
        assert list(line) == ["time", "event", "user", "client", "target"]
        assert AUDIT_TIME.match(str(line["time"]))
    logins = [line for line in lines if str(line["event"]).startswith("login.")]
    events = [(line["event"], line["user"], line["client"], line["target"]) for line in logins]
    assert events == [
        ("login.fail", "alice", "127.0.0.1", "password"),
        ("login.fail", "nobody", "127.0.0.1", "password"),
        # Two requests, one session: one line.
        ("login.ok", "alice", "127.0.0.1", "password"),
        ("login.ok", "alice", "127.0.0.13", "token"),
        ("login.fail", "alice", "127.0.0.1", "digest"),
    ]
    audit_text = live_server.services.settings.effective_audit_log.read_text(encoding="utf-8")
    secrets = [PASSWORD, WRONG, secret, *headers_sent, token_header, "Authorization"]
    for text in (audit_text, caplog.text):
        for value in secrets:
            assert value not in text


def test_every_webdav_401_offers_digest_and_basic(live_server: LiveServer) -> None:
    live_server.add_user("alice", PASSWORD)
    refused = [
        None,
        basic(f"alice:{WRONG}"),
        basic(f"nobody:{WRONG}"),
        MALFORMED_BASIC["not-base64"],
        MALFORMED_BASIC["no-colon"],
        MALFORMED_DIGEST["junk"],
        MALFORMED_DIGEST["unparsable-uri"],
        "Bearer dvf_not-a-token",
        "Bearer not-a-jwt",
        "Bearer",
        UNKNOWN_SCHEMES["negotiate"],
        "",
    ]
    methods = ("PROPFIND", "GET", "PUT")
    for number, door in enumerate(WEBDAV_DOORS):
        for index, header in enumerate(refused):
            method = methods[(number + index) % len(methods)]
            reply = send(live_server, door + "x.txt", header, method=method, body=b"")
            assert_both_challenges(reply)
    # Two challenges, two fresh nonces: each 401 makes its own.
    first, second = (send(live_server, DAV_PATH).challenges[0] for _ in range(2))
    assert first != second


def test_without_digest_a_401_offers_basic_only(settings: Settings) -> None:
    services = create_services(replace(settings, accept_digest=False))
    server = LiveServer(services)
    try:
        server.add_user("alice", PASSWORD)
        for header in (None, basic(f"alice:{WRONG}"), MALFORMED_DIGEST["junk"], "Bearer x"):
            reply = send(server, DAV_PATH, header)
            assert reply.status == 401
            assert reply.challenges == [BASIC_CHALLENGE]
        assert send(server, DAV_PATH, basic(f"alice:{PASSWORD}")).status == 200
    finally:
        server.stop()
        services.close()


def test_bearer_token_and_login_jwt_work_at_every_webdav_door(live_server: LiveServer) -> None:
    live_server.add_user("alice", PASSWORD)
    live_server.add_user("bob", "bob-pw")
    token_id, token = live_server.services.accounts.create_token("alice", "sync")
    jwt = live_server.services.authenticator.login("alice", PASSWORD)
    for door in WEBDAV_DOORS:
        for credential in (token, jwt):
            reply = send(
                live_server, door, f"Bearer {credential}", method="PROPFIND", headers={"Depth": "0"}
            )
            assert reply.status == 207, (door, reply.body)
    # Writes land in alice's home, whatever the door and credential.
    for name, door in (("token", "/dav/"), ("jwt", "/remote.php/dav/files/alice/")):
        credential = token if name == "token" else jwt
        put = send(
            live_server, f"{door}{name}.txt", f"Bearer {credential}", method="PUT", body=b"b"
        )
        assert put.status == 201, put.body
        assert send(live_server, f"/dav/{name}.txt", basic(f"alice:{PASSWORD}")).body == b"b"
    # The chunk area: an upload folder made with a bearer credential is alice's.
    made = send(live_server, WEBDAV_DOORS[3] + "up/", f"Bearer {token}", method="MKCOL")
    assert made.status == 201
    # Alice's bearer does not open bob's doors.
    bobs = send(live_server, "/remote.php/dav/files/bob/", f"Bearer {jwt}", method="PROPFIND")
    assert bobs.status in (403, 404)
    live_server.services.accounts.revoke_token(token_id)
    live_server.services.accounts.set_password("alice", "new-pw")
    for door in WEBDAV_DOORS:
        for credential in (token, jwt):
            assert_both_challenges(send(live_server, door, f"Bearer {credential}"))


def test_bad_bearers_at_webdav_are_throttled_and_audited(live_server: LiveServer) -> None:
    live_server.add_user("alice", PASSWORD)
    _token_id, token = live_server.services.accounts.create_token("alice")
    source = "127.0.0.30"
    for attempt in range(MAX_ATTEMPTS):
        guess = "dvf_guess" if attempt % 2 else "guessed.jwt.value"
        reply = send(live_server, WEBDAV_DOORS[attempt % 4], f"Bearer {guess}", source=source)
        if reply.status == 429:
            break
        assert_both_challenges(reply)
    assert reply.status == 429
    assert int(reply.headers["retry-after"]) >= 1
    assert attempt >= live_server.services.settings.login_failures_per_address
    # The address waits, whatever it sends; another address gets in with the token.
    assert send(live_server, DAV_PATH, f"Bearer {token}", source=source).status == 429
    assert send(live_server, DAV_PATH, f"Bearer {token}", source="127.0.0.31").status == 200
    failures = [line for line in audit_lines(live_server) if line["event"] == "login.fail"]
    assert {line["target"] for line in failures} == {"token", "jwt"}
    assert {line["client"] for line in failures} == {source}
    assert all(line["user"] is None for line in failures)
