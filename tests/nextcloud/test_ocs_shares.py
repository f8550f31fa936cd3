"""The OCS share API subset Nextcloud's apps use for public links: create (form or JSON),
list by path, read, update and delete; v1 and v2 envelopes; only link shares."""

from __future__ import annotations

import time

import pytest
import requests
from defusedxml import ElementTree

from davfiles.store import parse_user_path
from tests.harness import LiveServer, TestUser

SHARES = "/apps/files_sharing/api/v1/shares"
HEADERS = {"OCS-APIRequest": "true"}


def ocs(
    server: LiveServer, user: TestUser, method: str, path: str = "", version: int = 2, **kw: object
) -> requests.Response:
    url = server.url(f"/ocs/v{version}.php{SHARES}{path}")
    params = {"format": "json", **kw.pop("params", {})}  # type: ignore[dict-item]
    return server.session(user).request(
        method,
        url,
        params=params,
        headers=HEADERS,
        timeout=30,
        **kw,  # type: ignore[arg-type]
    )


def test_a_link_share_is_created_listed_updated_and_deleted(live_server: LiveServer) -> None:
    alice = live_server.add_user("alice")
    dav = live_server.session(alice)
    assert dav.request("MKCOL", live_server.url("/dav/Photos")).status_code == 201
    assert dav.put(live_server.url("/dav/Photos/a.jpg"), data=b"jpg").status_code == 201
    created = ocs(
        live_server,
        alice,
        "POST",
        data={
            "path": "/Photos",
            "shareType": "3",
            "permissions": "1",
            "password": "pw",
            "expireDate": "2099-12-31",
            "label": "Family",
        },
    )
    assert created.status_code == 200, created.text
    meta = created.json()["ocs"]["meta"]
    assert (meta["status"], meta["statuscode"]) == ("ok", 200)
    share = created.json()["ocs"]["data"]
    assert share["share_type"] == 3 and share["permissions"] == 1
    assert share["path"] == "/Photos" and share["item_type"] == "folder"
    assert share["expiration"] == "2099-12-31 00:00:00" and share["label"] == "Family"
    assert share["url"] == live_server.url(f"/s/{share['token']}")
    assert share["password"] == "***redacted***"
    page = requests.get(share["url"], timeout=30)
    assert page.status_code == 401  # the password guards it

    listed = ocs(live_server, alice, "GET", params={"path": "/Photos", "reshares": "true"})
    assert [entry["id"] for entry in listed.json()["ocs"]["data"]] == [share["id"]]
    assert dav.put(live_server.url("/dav/Photos/b.jpg"), data=b"b").status_code == 201
    inner = ocs(live_server, alice, "POST", data={"path": "/Photos/b.jpg", "shareType": "3"})
    inner_id = inner.json()["ocs"]["data"]["id"]
    subfiles = ocs(live_server, alice, "GET", params={"path": "/Photos", "subfiles": "true"})
    assert [entry["id"] for entry in subfiles.json()["ocs"]["data"]] == [inner_id]
    with_me = ocs(live_server, alice, "GET", params={"shared_with_me": "true"})
    assert with_me.json()["ocs"]["data"] == []
    assert ocs(live_server, alice, "DELETE", f"/{inner_id}").status_code == 200
    one = ocs(live_server, alice, "GET", f"/{share['id']}").json()["ocs"]["data"]
    assert one[0]["token"] == share["token"]

    updated = ocs(
        live_server, alice, "PUT", f"/{share['id']}", data={"permissions": "15", "password": ""}
    )
    assert updated.status_code == 200, updated.text
    assert updated.json()["ocs"]["data"]["permissions"] == 15
    assert updated.json()["ocs"]["data"]["password"] is None
    assert requests.get(share["url"], timeout=30).status_code == 200

    drop = ocs(
        live_server, alice, "POST", json={"path": "/Photos", "shareType": 3, "permissions": 4}
    )
    assert drop.json()["ocs"]["data"]["permissions"] == 4
    assert len(ocs(live_server, alice, "GET").json()["ocs"]["data"]) == 2

    assert dav.delete(live_server.url("/dav/Photos")).status_code == 204
    assert ocs(live_server, alice, "GET").json()["ocs"]["data"] == []
    [item] = live_server.services.store.trash_list(alice.owner)
    live_server.services.store.trash_restore(alice.owner, item.id)
    assert len(ocs(live_server, alice, "GET").json()["ocs"]["data"]) == 2
    assert ocs(live_server, alice, "DELETE", f"/{share['id']}").status_code == 200
    assert requests.get(share["url"], timeout=30).status_code == 404
    missing = ocs(live_server, alice, "GET", f"/{share['id']}")
    assert missing.status_code == 404


@pytest.mark.parametrize(("version", "http"), [(1, 200), (2, 404)])
def test_errors_in_ocs_shape(live_server: LiveServer, version: int, http: int) -> None:
    alice = live_server.add_user("alice")
    bob = live_server.add_user("bob")
    missing = ocs(
        live_server, alice, "POST", version=version, data={"path": "/nope", "shareType": 3}
    )
    assert missing.status_code == http
    assert missing.json()["ocs"]["meta"]["statuscode"] == 404
    assert live_server.session(alice).put(live_server.url("/dav/f.txt"), data=b"f").ok
    user_share = ocs(
        live_server,
        alice,
        "POST",
        version=version,
        data={"path": "/f.txt", "shareType": 0, "shareWith": "bob"},
    )
    assert user_share.json()["ocs"]["meta"]["statuscode"] == 403
    made = ocs(live_server, alice, "POST", data={"path": "/f.txt", "shareType": 3}).json()
    share_id = made["ocs"]["data"]["id"]
    stolen = ocs(live_server, bob, "DELETE", f"/{share_id}", version=version)
    assert stolen.json()["ocs"]["meta"]["statuscode"] == 404
    unauthenticated = requests.get(live_server.url(f"/ocs/v{version}.php{SHARES}"), timeout=30)
    assert unauthenticated.status_code == 401
    in_the_url = ocs(
        live_server,
        alice,
        "POST",
        version=version,
        params={"password": "seen-by-every-proxy"},
        data={"path": "/f.txt", "shareType": 3},
    )
    assert in_the_url.json()["ocs"]["meta"]["statuscode"] == 400
    assert "query string" in in_the_url.json()["ocs"]["meta"]["message"]
    listed = ocs(live_server, alice, "GET", params={"path": "/f.txt"}).json()["ocs"]["data"]
    assert [share["id"] for share in listed] == [share_id]


def test_xml_answers(live_server: LiveServer) -> None:
    alice = live_server.add_user("alice")
    assert live_server.session(alice).put(live_server.url("/dav/f.txt"), data=b"f").ok
    answer = live_server.session(alice).post(
        live_server.url(f"/ocs/v1.php{SHARES}"),
        data={"path": "/f.txt", "shareType": "3"},
        headers=HEADERS,
        timeout=30,
    )
    root = ElementTree.fromstring(answer.content)
    assert root.findtext("meta/statuscode") == "100"
    assert root.findtext("data/share_type") == "3" and root.findtext("data/item_type") == "file"


def test_the_download_limit_api_sets_reads_and_removes_the_limit(live_server: LiveServer) -> None:
    alice = live_server.add_user("alice")
    bob = live_server.add_user("bob")
    assert live_server.session(alice).put(live_server.url("/dav/f.txt"), data=b"f").ok
    made = ocs(live_server, alice, "POST", data={"path": "/f.txt", "shareType": "3"})
    token = made.json()["ocs"]["data"]["token"]
    url = live_server.url(f"/ocs/v2.php/apps/files_downloadlimit/api/v1/{token}/limit")
    session = live_server.session(alice)
    session.headers.update({**HEADERS, "Accept": "application/json"})
    assert session.get(url, timeout=30).json()["ocs"]["data"] == {"limit": None, "count": 0}
    assert session.put(url, json={"limit": 1}, timeout=30).status_code == 200
    assert requests.get(live_server.url(f"/s/{token}/download"), timeout=30).content == b"f"
    deadline = time.monotonic() + 10
    while session.get(url, timeout=30).json()["ocs"]["data"] != {"limit": 1, "count": 1}:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    assert requests.get(live_server.url(f"/s/{token}/download"), timeout=30).status_code == 410
    assert session.put(url, json={"limit": -1}, timeout=30).status_code == 400
    assert session.delete(url, timeout=30).status_code == 200
    assert requests.get(live_server.url(f"/s/{token}/download"), timeout=30).content == b"f"
    foreign = live_server.session(bob).get(url, headers=HEADERS, params={"format": "json"})
    assert foreign.status_code == 404


def test_bad_ids_dates_and_permissions_are_answered_not_failed(live_server: LiveServer) -> None:
    """Ids beyond any record (PostgreSQL's INTEGER), digits ``int`` refuses, the last
    representable day and a JSON null are the client's mistakes: 404 or 400, never 500."""
    alice = live_server.add_user("alice")
    assert live_server.session(alice).put(live_server.url("/dav/f.txt"), data=b"f").ok
    for share_id in ("3000000000", "%C2%B2", "9" * 5000):
        answer = ocs(live_server, alice, "GET", f"/{share_id}")
        assert answer.status_code == 404, share_id[:20]
    for data in (
        {"path": "/f.txt", "shareType": 3, "expireDate": "9999-12-31"},
        {"path": "/f.txt", "shareType": 3, "permissions": "\u00b2"},
    ):
        answer = ocs(live_server, alice, "POST", data=data)
        assert answer.json()["ocs"]["meta"]["statuscode"] == 400, data
    as_json = ocs(
        live_server,
        alice,
        "POST",
        json={"path": "/f.txt", "shareType": 3, "permissions": None},
    )
    assert as_json.json()["ocs"]["meta"]["statuscode"] == 400


def test_the_expiry_date_sent_back_as_shown_is_no_change(live_server: LiveServer) -> None:
    """OCS shows an expiry as a date; a client resending it with another change must not
    move an expiry set to the hour elsewhere (the web app, the JSON API)."""
    alice = live_server.add_user("alice")
    assert live_server.session(alice).put(live_server.url("/dav/f.txt"), data=b"f").ok
    links = live_server.services.store.links
    evening = 1_896_112_800.0  # 2030-01-31 18:00 UTC
    link = links.create(alice.owner, parse_user_path("/f.txt"), "view", {"expires_at": evening})
    shown = ocs(live_server, alice, "GET", f"/{link.id}").json()["ocs"]["data"][0]["expiration"]
    assert shown == "2030-01-30 00:00:00"
    resent = ocs(
        live_server,
        alice,
        "PUT",
        f"/{link.id}",
        data={"expireDate": shown[:10], "label": "renamed"},
    )
    assert resent.json()["ocs"]["meta"]["statuscode"] == 200
    after = links.get(alice.owner, link.id).link
    assert (after.label, after.expires_at) == ("renamed", evening)
    moved = ocs(live_server, alice, "PUT", f"/{link.id}", data={"expireDate": "2030-01-20"})
    assert moved.json()["ocs"]["meta"]["statuscode"] == 200
    assert links.get(alice.owner, link.id).link.expires_at == 1_895_184_000.0  # 2030-01-21
