"""davfiles' JSON API for share links: create, list with state and counts, change, disable,
regenerate and delete; only one's own links; every answer matches /openapi.json (checked by
the live_server fixture)."""

from __future__ import annotations

import json
import time

import requests

from tests.rest.conftest import RestUser

API = "/davfiles/api/links"


def call(user: RestUser, method: str, path: str = "", status: int = 200, **kwargs: object) -> dict:
    answer = requests.request(
        method,
        user.server.url(API + path),
        headers={"Authorization": f"Bearer {user.token}"},
        timeout=30,
        **kwargs,  # type: ignore[arg-type]
    )
    assert answer.status_code == status, answer.text
    return answer.json()  # type: ignore[no-any-return]


def test_links_are_created_listed_changed_regenerated_and_deleted(
    alice: RestUser, bob: RestUser
) -> None:
    dav = alice.basic
    assert dav.request("MKCOL", alice.dav("share")).status_code == 201
    assert dav.put(alice.dav("share/a.txt"), data=b"a").status_code == 201
    created = call(
        alice,
        "POST",
        status=201,
        json={
            "path": "/share",
            "kind": "view",
            "password": "pw",
            "label": "Team",
            "max_downloads": 3,
        },
    )["link"]
    assert created["url"] == alice.server.url(f"/s/{created['token']}")
    assert len(created["token"]) == 22
    assert (created["state"], created["target"], created["path"]) == ("active", "present", "/share")
    assert created["has_password"] is True and "password" not in created
    assert (created["downloads"], created["max_downloads"], created["label"]) == (0, 3, "Team")

    download = requests.get(
        alice.server.url(f"/s/{created['token']}/download/a.txt"), auth=("", "pw"), timeout=30
    )
    assert download.content == b"a"
    deadline = time.monotonic() + 10
    while call(alice, "GET", f"/{created['id']}")["link"]["downloads"] != 1:
        assert time.monotonic() < deadline
        time.sleep(0.02)

    assert dav.request("MOVE", alice.dav("share"), headers={"Destination": alice.dav("moved")}).ok
    [listed] = call(alice, "GET")["links"]
    assert listed["path"] == "/moved" and listed["last_access_at"] is not None
    assert call(alice, "GET", params={"path": "/moved"})["links"][0]["id"] == created["id"]
    assert call(alice, "GET", params={"path": "/nothing"})["links"] == []

    changed = call(alice, "PATCH", f"/{created['id']}", json={"disabled": True, "password": None})
    assert changed["link"]["state"] == "disabled" and changed["link"]["has_password"] is False
    assert requests.get(alice.server.url(f"/s/{created['token']}"), timeout=30).status_code == 410
    call(alice, "PATCH", f"/{created['id']}", json={"disabled": False})
    renewed = call(alice, "POST", f"/{created['id']}/regenerate")["link"]
    assert renewed["token"] != created["token"] and renewed["label"] == "Team"
    assert requests.get(alice.server.url(f"/s/{created['token']}"), timeout=30).status_code == 404

    # Bob sees none of it and can touch none of it.
    assert call(bob, "GET")["links"] == []
    call(bob, "GET", f"/{created['id']}", 404)
    call(bob, "PATCH", f"/{created['id']}", 404, json={"disabled": True})
    call(bob, "DELETE", f"/{created['id']}", 404)

    assert call(alice, "DELETE", f"/{created['id']}") == {"deleted": created["id"]}
    assert call(alice, "GET")["links"] == []
    assert requests.get(alice.server.url(f"/s/{renewed['token']}"), timeout=30).status_code == 404


def test_bad_requests_are_400_and_missing_targets_404(alice: RestUser) -> None:
    assert alice.basic.put(alice.dav("f.txt"), data=b"f").status_code == 201
    call(alice, "POST", status=400, json={"kind": "view"})
    call(alice, "POST", status=400, json={"path": "/f.txt", "kind": "everything"})
    call(alice, "POST", status=400, json={"path": "/f.txt", "max_downloads": 0})
    call(alice, "POST", status=400, json={"path": "/f.txt", "expires_at": "tomorrow"})
    call(alice, "POST", status=400, json={"path": "/f.txt", "colour": "red"})
    call(alice, "POST", status=400, json={"path": "/"})
    call(alice, "POST", status=404, json={"path": "/missing.txt"})
    call(alice, "POST", status=409, json={"path": "/f.txt", "kind": "drop"})
    call(alice, "GET", "/abc", 400)
    call(alice, "GET", "/999", 404)
    anonymous = requests.get(alice.server.url(API), timeout=30)
    assert anonymous.status_code == 401


def test_link_changes_and_wrong_passwords_are_audited(alice: RestUser) -> None:
    assert alice.basic.put(alice.dav("f.txt"), data=b"f").status_code == 201
    link = call(alice, "POST", status=201, json={"path": "/f.txt", "password": "right"})["link"]
    call(alice, "PATCH", f"/{link['id']}", json={"label": "x", "max_downloads": 2})
    call(alice, "POST", f"/{link['id']}/regenerate")
    token = call(alice, "GET", f"/{link['id']}")["link"]["token"]
    wrong = requests.get(alice.server.url(f"/s/{token}/download"), auth=("", "guess"), timeout=30)
    assert wrong.status_code == 401
    call(alice, "DELETE", f"/{link['id']}")
    log = alice.server.services.settings.effective_audit_log.read_text(encoding="utf-8")
    lines = [json.loads(raw) for raw in log.splitlines()]
    links = [
        (line["event"], line["user"], line["target"])
        for line in lines
        if str(line["event"]).startswith("link.")
    ]
    number = link["id"]
    assert links == [
        ("link.create", "alice", f"link {number} view /f.txt"),
        ("link.change", "alice", f"link {number} label max_downloads"),
        ("link.regenerate", "alice", f"link {number}"),
        ("link.fail", "alice", f"link {number}"),
        ("link.delete", "alice", f"link {number}"),
    ]
    assert "right" not in log and token not in log and "guess" not in log
