"""okeanos (seed 000): the document's curl examples and its shapes, over the shared store."""

from __future__ import annotations

import requests

from tests.curl import run_curl
from tests.dav.helpers import propfind
from tests.harness import LiveServer
from tests.kept import live_usage
from tests.rest.conftest import RestUser, make_rest_user


def test_document_curl_examples(live_server: LiveServer, alice: RestUser, tmp_path) -> None:
    url = live_server.url("/backend/upload_file/")
    auth = f"Authorization: Token {alice.token}"
    jar = tmp_path / "project.jar"
    jar.write_bytes(b"PK\x03\x04 jar bytes")
    result = run_curl(
        "-X",
        "PUT",
        "-H",
        auth,
        "-F",
        f"file=@{jar}",
        "-F",
        "description=Science project executable",
        url,
    )
    assert (result.status, result.body) == (200, '{"result":"success"}')
    # The document's own example, `-F "file=project.jar"`, sends the name as a text part.
    result = run_curl(
        "-X", "PUT", "-H", auth, "-F", "file=notes.txt", "-F", "description=typed by hand", url
    )
    assert (result.status, result.body) == (200, '{"result":"success"}')
    result = run_curl("-X", "GET", "-H", auth, url)
    assert result.status == 200
    listing = result.json()
    assert listing["result"] == "success"
    by_name = {entry["name"]: entry for entry in listing["files"]}
    assert set(by_name) == {"project.jar", "notes.txt"}
    record = by_name["project.jar"]
    assert set(record) == {"id", "name", "path", "description", "size", "created_at", "updated_at"}
    assert record["description"] == "Science project executable"
    assert record["size"] == jar.stat().st_size
    result = run_curl("-X", "DELETE", "-H", auth, "-F", f"id={record['id']}", url)
    assert (result.status, result.body) == (200, '{"result":"success"}')
    assert alice.basic.get(alice.dav("project.jar")).status_code == 404


def test_bad_or_missing_token_is_401(live_server: LiveServer, alice: RestUser) -> None:
    url = live_server.url("/backend/user_files")
    bad = requests.get(url, headers={"Authorization": "Token not-a-token"})
    assert bad.status_code == 401
    assert bad.json() == {"detail": "Invalid token."}
    missing = requests.get(url)
    assert missing.status_code == 401
    assert missing.json() == {"detail": "Authentication credentials were not provided."}


def test_one_store_with_webdav(live_server: LiveServer, alice: RestUser) -> None:
    url = live_server.url("/backend/user_files")
    headers = {"Authorization": f"Token {alice.token}"}
    files = {"file": ("from-rest.txt", b"rest bytes", "text/plain")}
    assert requests.put(url, headers=headers, files=files).status_code == 200
    assert alice.basic.get(alice.dav("from-rest.txt")).content == b"rest bytes"
    assert "/dav/from-rest.txt" in propfind(alice.basic, alice.dav(""), depth="1")
    alice.basic.request("MKCOL", alice.dav("sub/"))
    alice.basic.put(alice.dav("sub/from-dav.txt"), data=b"dav")
    listing = requests.get(url, headers=headers).json()["files"]
    assert {entry["path"] for entry in listing} == {"from-rest.txt", "sub/from-dav.txt"}
    dav_id = next(entry["id"] for entry in listing if entry["name"] == "from-dav.txt")
    assert requests.delete(url, headers=headers, params={"id": dav_id}).status_code == 200
    assert alice.basic.get(alice.dav("sub/from-dav.txt")).status_code == 404
    assert live_usage(live_server.services, alice.user.owner)[0] == len(b"rest bytes")


def test_quota_exceeded_stores_nothing(live_server: LiveServer) -> None:
    carol = make_rest_user(live_server, "carol", max_bytes=100)
    url = live_server.url("/backend/user_files")
    response = requests.put(
        url,
        headers={"Authorization": f"Token {carol.token}"},
        files={"file": ("big.bin", b"x" * 500)},
    )
    assert response.status_code == 507
    assert response.json()["result"] == "failure"
    usage = live_server.services.store.usage(carol.user.owner)
    assert (usage.used_bytes, usage.used_files) == (0, 0)
    assert list(live_server.services.store.home(carol.user.owner).iterdir()) == []


def test_cross_user_delete_is_refused(
    live_server: LiveServer, alice: RestUser, bob: RestUser
) -> None:
    url = live_server.url("/backend/user_files")
    alice.basic.put(alice.dav("mine.txt"), data=b"alice")
    alice_id = requests.get(url, headers={"Authorization": f"Token {alice.token}"}).json()["files"][
        0
    ]["id"]
    refused = requests.delete(
        url, headers={"Authorization": f"Token {bob.token}"}, params={"id": alice_id}
    )
    assert refused.status_code == 404
    assert requests.get(url, headers={"Authorization": f"Token {bob.token}"}).json()["files"] == []
    assert alice.basic.get(alice.dav("mine.txt")).content == b"alice"
