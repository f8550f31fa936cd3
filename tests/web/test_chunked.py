"""The chunked uploads of the app's script over plain HTTP: CSRF on every request, resume
from the chunks the server holds, the conflict choice, the file's date, quota and limits."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator

import pytest
import requests

from davfiles.store import parse_user_path
from tests.harness import LiveServer, TestUser
from tests.web.helpers import Browser

UPLOAD = "/app/uploads/web-0123456789abcdef"


@pytest.fixture
def alice(live_server: LiveServer) -> Iterator[tuple[TestUser, Browser, dict[str, str]]]:
    user = live_server.add_user("alice", max_bytes=1_000_000)
    browser = Browser(live_server)
    browser.login(user)
    csrf = browser.page("/app/files/").form("/app/do/upload").value("csrf")
    yield user, browser, {"X-CSRF-Token": csrf, "Origin": live_server.base}


def call(
    browser: Browser, method: str, path: str, headers: dict[str, str], **kwargs: object
) -> requests.Response:
    return browser.http.request(method, browser.url(path), headers=headers, **kwargs)  # type: ignore[arg-type]


def test_an_upload_in_chunks_resumes_and_keeps_the_files_date(
    live_server: LiveServer, alice: tuple[TestUser, Browser, dict[str, str]]
) -> None:
    user, browser, headers = alice
    data = os.urandom(25_000)
    assert call(browser, "POST", UPLOAD, headers).status_code == 201
    assert call(browser, "PUT", UPLOAD + "/0", headers, data=data[:10_000]).status_code == 201
    # A reload later: the upload exists, the server says which chunks it holds.
    resumed = call(browser, "POST", UPLOAD, headers)
    assert resumed.status_code == 200 and resumed.json() == {"resumed": True}
    held = call(browser, "GET", UPLOAD, headers).json()["chunks"]
    assert held == [{"name": "000000", "size": 10_000}]
    assert call(browser, "PUT", UPLOAD + "/1", headers, data=data[10_000:20_000]).status_code == 201
    assert call(browser, "PUT", UPLOAD + "/2", headers, data=data[20_000:]).status_code == 201
    short = {"folder": "", "name": "big.bin", "size": 99, "mtime": 1_500_000_000}
    assert call(browser, "POST", UPLOAD + "/finish", headers, json=short).status_code == 400
    body = {**short, "size": len(data)}
    finished = call(browser, "POST", UPLOAD + "/finish", headers, json=body)
    assert finished.status_code == 201
    assert finished.json() == {"name": "big.bin", "size": len(data)}
    info = live_server.services.store.stat(user.owner, parse_user_path("big.bin"))
    assert info is not None and info.modified_at == 1_500_000_000
    with live_server.services.store.open_read(user.owner, info) as stream:
        assert stream.read() == data
    assert call(browser, "GET", UPLOAD, headers).status_code == 404


def test_the_check_names_taken_names_and_the_room_left(
    live_server: LiveServer, alice: tuple[TestUser, Browser, dict[str, str]]
) -> None:
    user, browser, headers = alice
    live_server.services.store.write_bytes(user.owner, parse_user_path("a.txt"), b"x" * 1000)
    answer = call(
        browser,
        "POST",
        "/app/uploads/check",
        headers,
        json={"folder": "", "names": ["a.txt", "b.txt"]},
    )
    assert answer.json() == {"taken": ["a.txt"], "available_bytes": 999_000}


@pytest.mark.parametrize(("conflict", "stored_as"), [("both", "a (1).txt"), ("replace", "a.txt")])
def test_the_conflict_choice_of_a_chunked_upload(
    live_server: LiveServer,
    alice: tuple[TestUser, Browser, dict[str, str]],
    conflict: str,
    stored_as: str,
) -> None:
    user, browser, headers = alice
    store = live_server.services.store
    store.write_bytes(user.owner, parse_user_path("a.txt"), b"old")
    call(browser, "POST", UPLOAD, headers)
    call(browser, "PUT", UPLOAD + "/0", headers, data=b"new")
    body = {"folder": "", "name": "a.txt", "size": 3, "conflict": conflict}
    answer = call(browser, "POST", UPLOAD + "/finish", headers, json=body)
    assert answer.json()["name"] == stored_as
    info = store.stat(user.owner, parse_user_path(stored_as))
    assert info is not None
    with store.open_read(user.owner, info) as stream:
        assert stream.read() == b"new"
    if conflict == "replace":
        assert [v.size for v in store.versions_of(user.owner, info.id)] == [3]


def test_every_chunked_request_needs_the_token_and_this_origin(
    live_server: LiveServer, alice: tuple[TestUser, Browser, dict[str, str]]
) -> None:
    _user, browser, headers = alice
    for bad in ({"X-CSRF-Token": "forged"}, {**headers, "Origin": "https://evil.example"}, {}):
        refused = call(browser, "POST", UPLOAD, bad)
        assert refused.status_code == 403
        assert "error" in refused.json()
    assert call(browser, "GET", UPLOAD, headers).status_code == 404
    call(browser, "POST", UPLOAD, headers)
    assert (
        call(browser, "PUT", UPLOAD + "/0", {"Origin": live_server.base}, data=b"x").status_code
        == 403
    )
    assert call(browser, "GET", UPLOAD, headers).json() == {"chunks": []}
    anonymous = requests.post(live_server.url(UPLOAD), headers=headers)
    assert anonymous.status_code == 401
    assert json.loads(anonymous.text)["error"]


def test_ids_chunk_names_and_the_quota_are_checked(
    live_server: LiveServer, alice: tuple[TestUser, Browser, dict[str, str]]
) -> None:
    _user, browser, headers = alice
    assert call(browser, "POST", "/app/uploads/..%2Fx", headers).status_code in (400, 404)
    assert call(browser, "POST", "/app/uploads/web-xyz", headers).status_code == 400
    call(browser, "POST", UPLOAD, headers)
    assert call(browser, "PUT", UPLOAD + "/a", headers, data=b"x").status_code == 400
    too_big = call(browser, "PUT", UPLOAD + "/0", headers, data=b"x" * 1_100_000)
    assert too_big.status_code == 507
    assert call(browser, "DELETE", UPLOAD, headers).status_code == 204
    assert call(browser, "GET", UPLOAD, headers).status_code == 404


def test_a_file_of_a_picked_folder_lands_in_its_folders(
    live_server: LiveServer, alice: tuple[TestUser, Browser, dict[str, str]]
) -> None:
    user, browser, headers = alice
    store = live_server.services.store
    store.write_bytes(user.owner, parse_user_path("a.txt"), b"x")
    names = {"folder": "", "names": ["trip/day 1/a.txt", "a.txt", "trip/b.txt"]}
    taken = call(browser, "POST", "/app/uploads/check", headers, json=names).json()["taken"]
    assert taken == ["a.txt"]
    call(browser, "POST", UPLOAD, headers)
    call(browser, "PUT", UPLOAD + "/0", headers, data=b"deep")
    body = {"folder": "", "name": "trip/day 1/a.txt", "size": 4}
    assert call(browser, "POST", UPLOAD + "/finish", headers, json=body).status_code == 201
    info = store.stat(user.owner, parse_user_path("trip/day 1/a.txt"))
    assert info is not None and info.size == 4
    for bad in ("../a.txt", "trip/../../x", "", "a\x00b"):
        call(browser, "POST", UPLOAD, headers)
        refused = call(browser, "POST", UPLOAD + "/finish", headers, json={**body, "name": bad})
        assert refused.status_code == 400, bad


@pytest.mark.parametrize("mtime", [1e12, float("inf"), float("nan"), 10**400])
def test_a_files_date_no_page_can_show_is_refused(
    live_server: LiveServer, alice: tuple[TestUser, Browser, dict[str, str]], mtime: float
) -> None:
    """A stored date past year 9999 broke every listing of its folder afterwards."""
    user, browser, headers = alice
    assert call(browser, "POST", UPLOAD, headers).status_code == 201
    assert call(browser, "PUT", UPLOAD + "/0", headers, data=b"dated").status_code == 201
    body = json.dumps({"folder": "", "name": "dated.txt", "size": 5, "mtime": mtime})
    finished = call(
        browser,
        "POST",
        UPLOAD + "/finish",
        {**headers, "Content-Type": "application/json"},
        data=body,
    )
    assert finished.status_code == 400, finished.text
    assert live_server.services.store.stat(user.owner, parse_user_path("dated.txt")) is None
