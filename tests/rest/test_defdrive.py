"""defdrive (seed 001): the document's curl examples, its shapes and quotas, over the shared store.

Every JSON answer is also checked against /openapi.json by the ``live_server`` fixture.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import select
import socket
import time
from pathlib import Path
from typing import Any

import jwt
import pytest
import requests

from davfiles.config import Settings
from davfiles.rest.defdrive import MAX_COUNTED_BYTES
from davfiles.store import parse_user_path
from davfiles.store.link_policy import LinkPolicy
from tests.curl import curl_json
from tests.dav.helpers import propfind
from tests.harness import LiveServer
from tests.kept import live_usage
from tests.rest.conftest import RestUser, make_rest_user
from tests.security.rawhttp import basic

PREFIX = "/defdrive"
RECORD_FIELDS = {"id", "name", "location", "user_id", "size", "public", "created_at", "updated_at"}
NOT_AUTHENTICATED = {"error": "User not authenticated"}
NOT_FOUND = {"error": "File not found"}
DUPLICATE = {"error": "A file with this name already exists in your folder"}
ISO_Z = "%Y-%m-%dT%H:%M:%SZ"


class Api:
    """Calls the dialect and checks each answer's status and JSON content type."""

    def __init__(self, server: LiveServer) -> None:
        self.server = server

    def url(self, template: str, **args: Any) -> str:
        return self.server.url(PREFIX + template.format(**args))

    def call(
        self,
        method: str,
        template: str,
        status: int,
        *,
        args: dict[str, Any] | None = None,
        **kw: Any,
    ) -> Any:
        response = requests.request(method, self.url(template, **(args or {})), **kw)
        assert response.status_code == status, response.text
        assert response.headers["Content-Type"] == "application/json"
        return response.json()

    def login(self, name: str, password: str) -> dict[str, str]:
        body = self.call("POST", "/api/login", 200, json={"username": name, "password": password})
        return {"Authorization": f"Bearer {body['token']}"}

    def upload(self, headers: dict[str, str], name: str, data: bytes, status: int = 200) -> Any:
        return self.call(
            "POST", "/api/upload", status, headers=headers, files={"file": (name, data)}
        )

    def files(self, headers: dict[str, str]) -> list[dict[str, Any]]:
        return self.call("GET", "/api/files", 200, headers=headers)["files"]


@pytest.fixture
def signup_enabled() -> bool:
    """Open sign-up is off, as by default; a test turns it on by parametrizing this name."""
    return False


@pytest.fixture
def settings(settings: Settings, signup_enabled: bool) -> Settings:
    if not signup_enabled:
        return settings
    return dataclasses.replace(settings, signup_enabled=True, default_max_files=2)


@pytest.fixture
def api(live_server: LiveServer) -> Api:
    return Api(live_server)


@pytest.fixture
def bearer(api: Api, alice: RestUser) -> dict[str, str]:
    return api.login(alice.user.name, alice.user.password)


def stored_names(server: LiveServer, user: RestUser) -> list[str]:
    return sorted(path.name for path in server.services.store.home(user.user.owner).iterdir())


def test_document_curl_examples(api: Api, alice: RestUser, tmp_path: Path) -> None:
    body, status = curl_json(
        "-X",
        "POST",
        api.url("/api/login"),
        "-H",
        "Content-Type: application/json",
        "-d",
        '{"username": "alice", "password": "alice-pw"}',
    )
    assert status == 200
    assert set(body) == {"message", "token", "expires_in", "user"}
    token = body["token"]
    # The document's first example as written: no credentials, a JSON body.
    playground = (
        "--request",
        "POST",
        "--url",
        api.url("/api/upload"),
        "--header",
        "Content-Type: application/json",
        "--data",
        "{}",
    )
    assert curl_json(*playground) == (NOT_AUTHENTICATED, 401)
    assert curl_json(*playground, "--header", f"Authorization: Bearer {token}") == (
        {"error": "No file provided"},
        400,
    )
    document = tmp_path / "document.pdf"
    document.write_bytes(b"%PDF-1.7 document bytes")
    example = (
        "-X",
        "POST",
        api.url("/api/upload"),
        "-H",
        f"Authorization: Bearer {token}",
        "-F",
        f"file=@{document}",
    )
    body, status = curl_json(*example)
    assert status == 200
    assert set(body) == {"message", "file"}
    assert body["message"] == "File uploaded successfully"
    record = body["file"]
    assert set(record) == RECORD_FIELDS
    assert record["name"] == "document.pdf"
    assert record["location"] == "alice/document.pdf"
    assert record["user_id"] == alice.user.owner.id
    assert record["size"] == document.stat().st_size
    assert record["public"] is False
    assert isinstance(record["id"], int)
    for stamp in ("created_at", "updated_at"):
        time.strptime(record[stamp], ISO_Z)
    assert curl_json(*example) == (DUPLICATE, 409)
    assert alice.basic.get(alice.dav("document.pdf")).content == document.read_bytes()


def test_login_gives_a_jwt_for_bearer(api: Api, live_server: LiveServer, alice: RestUser) -> None:
    url = api.url("/api/login")
    credentials = {"username": "alice", "password": "alice-pw"}
    as_json = api.call("POST", "/api/login", 200, json=credentials)
    as_form = api.call("POST", "/api/login", 200, data=credentials)
    as_multipart = api.call(
        "POST",
        "/api/login",
        200,
        files={name: (None, value) for name, value in credentials.items()},
    )
    for body in (as_json, as_form, as_multipart):
        assert body["user"] == {"id": alice.user.owner.id, "username": "alice"}
        claims = jwt.decode(body["token"], options={"verify_signature": False})
        assert claims["exp"] - claims["iat"] == body["expires_in"]
        assert body["expires_in"] == live_server.services.settings.jwt_lifetime
        headers = {"Authorization": f"Bearer {body['token']}"}
        assert api.files(headers) == []
    wrong = {"username": "alice", "password": "nope"}
    assert api.call("POST", "/api/login", 401, json=wrong) == {
        "error": "Invalid username or password"
    }
    unknown = {"username": "nobody", "password": "nope"}
    assert api.call("POST", "/api/login", 401, json=unknown) == {
        "error": "Invalid username or password"
    }
    for bad in ({"username": "alice"}, {"username": "alice", "password": 5}, ["alice"]):
        api.call("POST", "/api/login", 400, json=bad)
    api.call("POST", "/api/login", 400, data=b"not json", headers={"Content-Type": "text/plain"})
    api.call("POST", "/api/login", 400, data=b"[" * 70_000)
    assert requests.post(url, json={**credentials, "pad": "x" * 70_000}).status_code == 400
    # The API token works as a Bearer credential too.
    assert api.files({"Authorization": f"Bearer {alice.token}"}) == []


def test_expired_or_forged_jwt_is_401(api: Api, live_server: LiveServer, alice: RestUser) -> None:
    secret = (live_server.services.settings.data_dir / "jwt-secret").read_text().strip()
    now = int(time.time())
    claims = {"sub": str(alice.user.owner.id), "ver": 0, "iat": now - 100, "exp": now - 10}
    expired = jwt.encode(claims, secret, algorithm="HS256")
    forged = jwt.encode(
        {**claims, "exp": now + 100}, "not-the-server-secret-" * 3, algorithm="HS256"
    )
    for token in (expired, forged):
        headers = {"Authorization": f"Bearer {token}"}
        assert api.call("GET", "/api/files", 401, headers=headers) == NOT_AUTHENTICATED


def test_missing_or_bad_credentials_are_401(api: Api, alice: RestUser) -> None:
    attempts: list[dict[str, Any]] = [
        {},
        {"headers": {"Authorization": "Bearer not-a-jwt"}},
        {"headers": {"Authorization": "Bearer"}},
        {"auth": ("alice", "wrong-pw")},
    ]
    routes = [
        ("POST", "/api/upload", {}),
        ("GET", "/api/files", {}),
        ("PUT", "/api/files/{file_id}/access", {"file_id": 1}),
        ("DELETE", "/api/files/{file_id}", {"file_id": 1}),
    ]
    for method, template, args in routes:
        for attempt in attempts:
            response = requests.request(method, api.url(template, **args), **attempt)
            assert response.status_code == 401
            assert response.json() == NOT_AUTHENTICATED
            assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert api.files({"Authorization": f"Token {alice.token}"}) == []
    assert api.call("GET", "/api/files", 200, auth=alice.user.auth) == {"files": []}


def test_signup_is_off_by_default(api: Api) -> None:
    body = api.call("POST", "/api/signup", 403, json={"username": "eve", "password": "eve-pw"})
    assert "disabled" in body["error"]
    assert "administrator" in body["error"]
    api.call("POST", "/api/login", 401, json={"username": "eve", "password": "eve-pw"})


@pytest.mark.parametrize("signup_enabled", [True])
def test_signup_when_enabled(api: Api, signup_enabled: bool) -> None:
    credentials = {"username": "eve", "password": "eve-pw"}
    body = api.call("POST", "/api/signup", 200, json=credentials)
    assert body["message"] == "User created successfully"
    assert body["user"]["username"] == "eve"
    assert api.call("POST", "/api/signup", 409, json=credentials) == {
        "error": "Username already taken"
    }
    api.call("POST", "/api/signup", 400, json={"username": "../eve", "password": "pw"})
    api.call("POST", "/api/signup", 400, json={"username": "mallory", "password": ""})
    headers = api.login("eve", "eve-pw")
    api.upload(headers, "one.txt", b"1")
    api.upload(headers, "two.txt", b"2")
    # New accounts get the configured default quota (default_max_files=2 here).
    assert api.upload(headers, "three.txt", b"3", 403) == {
        "error": "File limit exceeded",
        "current_files": 2,
        "max_files": 2,
    }


def test_upload_and_webdav_share_one_store(
    api: Api, live_server: LiveServer, alice: RestUser, bearer: dict[str, str]
) -> None:
    record = api.upload(bearer, "from-rest.txt", b"rest bytes")["file"]
    assert alice.basic.get(alice.dav("from-rest.txt")).content == b"rest bytes"
    assert "/dav/from-rest.txt" in propfind(alice.basic, alice.dav(""), depth="1")
    alice.basic.request("MKCOL", alice.dav("sub/"))
    # The name of a folder made over WebDAV is taken too.
    assert api.upload(bearer, "sub", b"x", 409) == DUPLICATE
    assert alice.basic.put(alice.dav("sub/from-dav.txt"), data=b"dav!").status_code == 201
    by_name = {entry["name"]: entry for entry in api.files(bearer)}
    assert set(by_name) == {"from-rest.txt", "from-dav.txt"}
    assert by_name["from-dav.txt"]["location"] == "alice/sub/from-dav.txt"
    assert by_name["from-dav.txt"]["size"] == 4
    assert by_name["from-rest.txt"] == record
    usage = live_server.services.store.usage(alice.user.owner)
    assert (usage.used_bytes, usage.used_files) == (len(b"rest bytes") + 4, 2)
    assert usage.used_bytes == sum(entry["size"] for entry in api.files(bearer))
    # A folder is not a DefDrive file: deleting its id is a 404 and leaves it alone.
    folder = live_server.services.store.stat(alice.user.owner, parse_user_path("sub"))
    assert folder is not None
    gone = api.call(
        "DELETE", "/api/files/{file_id}", 404, args={"file_id": folder.id}, headers=bearer
    )
    assert gone == NOT_FOUND
    assert alice.basic.get(alice.dav("sub/from-dav.txt")).content == b"dav!"
    deleted = api.call(
        "DELETE", "/api/files/{file_id}", 200, args={"file_id": record["id"]}, headers=bearer
    )
    assert deleted == {"message": "File deleted successfully"}
    assert alice.basic.get(alice.dav("from-rest.txt")).status_code == 404
    assert "/dav/from-rest.txt" not in propfind(alice.basic, alice.dav(""), depth="1")
    assert alice.basic.delete(alice.dav("sub/from-dav.txt")).status_code == 204
    assert api.files(bearer) == []
    assert live_usage(live_server.services, alice.user.owner) == (0, 0)  # the rest is trash


def test_public_toggle_serves_the_file_at_public_id(
    api: Api, live_server: LiveServer, bearer: dict[str, str]
) -> None:
    data = bytes(range(256)) * 4
    record = api.upload(bearer, "shared.bin", data)["file"]
    public_url = live_server.url(f"/public/{record['id']}")
    assert requests.get(public_url).status_code == 404
    toggle = "/api/files/{file_id}/access"
    args = {"file_id": record["id"]}
    body = api.call("PUT", toggle, 200, args=args, headers=bearer, json={"public": True})
    assert body["message"] == "File access updated successfully"
    assert body["file"] == {**record, "public": True}
    assert [entry["public"] for entry in api.files(bearer)] == [True]
    download = requests.get(public_url)
    assert (download.status_code, download.content) == (200, data)
    part = requests.get(public_url, headers={"Range": "bytes=10-19"})
    assert (part.status_code, part.content) == (206, data[10:20])
    body = api.call("PUT", toggle, 200, args=args, headers=bearer, json={"public": False})
    assert body["file"]["public"] is False
    assert requests.get(public_url).status_code == 404
    for bad in ({}, {"public": "yes"}, {"public": 1}, [True], None):
        api.call("PUT", toggle, 400, args=args, headers=bearer, data=json.dumps(bad))
    api.call("PUT", toggle, 400, args=args, headers=bearer, data=b"{not json")
    api.call("PUT", toggle, 400, args={"file_id": "abc"}, headers=bearer, json={"public": True})
    api.call("PUT", toggle, 400, args={"file_id": "9" * 30}, headers=bearer, json={"public": True})
    missing = api.call(
        "PUT", toggle, 404, args={"file_id": 999_999}, headers=bearer, json={"public": True}
    )
    assert missing == NOT_FOUND


def test_the_link_policy_refuses_a_public_file_in_defdrives_shape(
    api: Api, live_server: LiveServer, bearer: dict[str, str]
) -> None:
    record = api.upload(bearer, "kept.bin", b"kept")["file"]
    live_server.services.store.links.set_policy(LinkPolicy(max_expiry_days=30), "root")
    toggle = "/api/files/{file_id}/access"
    body = api.call(
        "PUT", toggle, 403, args={"file_id": record["id"]}, headers=bearer, json={"public": True}
    )
    assert "link policy" in body["error"]
    assert [entry["public"] for entry in api.files(bearer)] == [False]
    assert requests.get(live_server.url(f"/public/{record['id']}")).status_code == 404


def test_bad_uploads_are_400_and_store_nothing(
    api: Api, live_server: LiveServer, alice: RestUser, bearer: dict[str, str]
) -> None:
    no_file = {"error": "No file provided"}
    for request in (
        {"data": b"raw"},
        {"files": {"other": (None, "x")}},
        {"files": {"file": ("", b"")}},  # a browser form with no file chosen
        {"files": {"file": (None, "typed")}},  # a text field, not a file
    ):
        assert api.call("POST", "/api/upload", 400, headers=bearer, **request) == no_file
    api.upload(bearer, "..", b"escape", 400)
    truncated = b'--xyz\r\nContent-Disposition: form-data; name="file"; filename="t.txt"\r\n\r\nab'
    headers = {**bearer, "Content-Type": "multipart/form-data; boundary=xyz"}
    api.call("POST", "/api/upload", 400, headers=headers, data=truncated)
    assert stored_names(live_server, alice) == []
    usage = live_server.services.store.usage(alice.user.owner)
    assert (usage.used_bytes, usage.used_files) == (0, 0)


def test_file_limit_exceeded(api: Api, live_server: LiveServer) -> None:
    carol = make_rest_user(live_server, "carol", max_files=1)
    headers = api.login("carol", "carol-pw")
    api.upload(headers, "first.txt", b"first")
    body = api.upload(headers, "second.txt", b"second", 403)
    assert body == {"error": "File limit exceeded", "current_files": 1, "max_files": 1}
    assert stored_names(live_server, carol) == ["first.txt"]
    usage = live_server.services.store.usage(carol.user.owner)
    assert (usage.used_bytes, usage.used_files) == (5, 1)


def test_storage_limit_exceeded_stores_nothing(api: Api, live_server: LiveServer) -> None:
    carol = make_rest_user(live_server, "carol", max_bytes=1000)
    headers = api.login("carol", "carol-pw")
    api.upload(headers, "kept.txt", b"k" * 400)
    expected = {"error": "Storage limit exceeded", "current_storage": 400, "max_storage": 1000}
    # Refused in the first block, the last of several blocks, and past the reservation step.
    for size in (601, 5000, 3 * 1024 * 1024 + 17, 20 * 1024 * 1024 + 5):
        response = requests.post(
            api.url("/api/upload"), headers=headers, files={"file": ("big.bin", b"x" * size)}
        )
        assert response.status_code == 403
        # file_size is the refused file's own size, not the request's with its framing.
        assert response.json() == {**expected, "file_size": size}, size
    # Chunked (no Content-Length), in pieces that do not line up with the part's end.
    for size in (700, 2 * 1024 * 1024 + 3):
        head = b'--xyz\r\nContent-Disposition: form-data; name="file"; filename="c.bin"\r\n\r\n'
        framed = head + b"z" * size + b"\r\n--xyz--\r\n"
        chunked = requests.post(
            api.url("/api/upload"),
            headers={**headers, "Content-Type": "multipart/form-data; boundary=xyz"},
            data=iter(framed[i : i + 333_333] for i in range(0, len(framed), 333_333)),
        )
        assert chunked.status_code == 403
        assert chunked.json() == {**expected, "file_size": size}, size
        assert chunked.headers.get("Connection") != "close"
    assert stored_names(live_server, carol) == ["kept.txt"]
    usage = live_server.services.store.usage(carol.user.owner)
    assert (usage.used_bytes, usage.used_files) == (400, 1)
    assert [entry["name"] for entry in api.files(headers)] == ["kept.txt"]


def test_storage_refusal_counts_at_most_a_bound_then_closes(
    api: Api, live_server: LiveServer
) -> None:
    """Past MAX_COUNTED_BYTES after the refusal the part is no longer read: file_size is what
    arrived so far (still over the limit) and the answer closes the connection."""
    carol = make_rest_user(live_server, "carol", max_bytes=1000)
    head = (
        "POST /defdrive/api/upload HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Authorization: {basic(carol.user)}\r\n"
        "Content-Type: multipart/form-data; boundary=xyz\r\nTransfer-Encoding: chunked\r\n\r\n"
    ).encode()
    part_head = b'--xyz\r\nContent-Disposition: form-data; name="file"; filename="c.bin"\r\n\r\n'
    block = b"z" * (1024 * 1024)
    framed_block = b"%x\r\n%s\r\n" % (len(block), block)
    sent = 0
    answer = b""
    with socket.create_connection(("127.0.0.1", live_server.port), timeout=10) as connection:
        connection.sendall(head + b"%x\r\n%s\r\n" % (len(part_head), part_head))
        for _ in range(MAX_COUNTED_BYTES // len(block) + 64):
            if select.select([connection], [], [], 0)[0]:
                break
            try:
                connection.sendall(framed_block)
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += len(block)
        with contextlib.suppress(ConnectionResetError, TimeoutError):
            for _ in range(100):
                data = connection.recv(65536)
                if not data:
                    break
                answer += data
    assert MAX_COUNTED_BYTES < sent < MAX_COUNTED_BYTES + 32 * len(block)
    assert answer.startswith(b"HTTP/1.1 403"), answer[:200]
    head_part, _, rest = answer.partition(b"\r\n\r\n")
    assert b"connection: close" in head_part.lower()
    length = int(head_part.lower().split(b"content-length:")[1].split(b"\r\n")[0])
    figures = json.loads(rest[:length])
    assert figures["error"] == "Storage limit exceeded"
    assert MAX_COUNTED_BYTES < figures["file_size"] <= sent


def test_other_users_files_are_out_of_reach(
    api: Api, alice: RestUser, bob: RestUser, bearer: dict[str, str]
) -> None:
    record = api.upload(bearer, "mine.txt", b"alice")["file"]
    bob_headers = api.login("bob", "bob-pw")
    assert api.files(bob_headers) == []
    args = {"file_id": record["id"]}
    assert (
        api.call(
            "PUT",
            "/api/files/{file_id}/access",
            404,
            args=args,
            headers=bob_headers,
            json={"public": True},
        )
        == NOT_FOUND
    )
    assert api.call("DELETE", "/api/files/{file_id}", 404, args=args, headers=bob_headers) == (
        NOT_FOUND
    )
    assert requests.get(api.server.url(f"/public/{record['id']}")).status_code == 404
    # Bob's same-named upload lands in his own home, not next to alice's.
    assert api.upload(bob_headers, "mine.txt", b"bob")["file"]["location"] == "bob/mine.txt"
    assert api.files(bearer) == [record]
    assert alice.basic.get(alice.dav("mine.txt")).content == b"alice"


def test_only_the_first_file_part_is_stored(
    api: Api, live_server: LiveServer, alice: RestUser, bearer: dict[str, str]
) -> None:
    parts = [("file", ("a.txt", b"first")), ("file", ("b.txt", b"second"))]
    body = api.call("POST", "/api/upload", 200, headers=bearer, files=parts)
    assert body["file"]["name"] == "a.txt"
    assert stored_names(live_server, alice) == ["a.txt"]
