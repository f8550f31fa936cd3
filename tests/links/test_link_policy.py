"""The link policy, held by the store: every door's links get the default expiry, stay within
the maximum and carry a password where the policy asks for one; existing links are left as
they are. Through the JSON API and OCS the refusal is each door's own answer."""

from __future__ import annotations

import json
import time

import pytest
import requests

from davfiles.app import Services
from davfiles.errors import InvalidName, PermissionDenied
from davfiles.store import Owner, parse_user_path
from davfiles.store.link_policy import DAY, LinkPolicy
from davfiles.store.links import LinkKind
from tests.harness import LiveServer

STRICT = LinkPolicy(
    default_expiry_days=7, max_expiry_days=30, password_kinds=frozenset({LinkKind.EDIT})
)


@pytest.fixture
def owner(services: Services) -> Owner:
    owner = services.accounts.add_user("alice", "pw", max_bytes=None, max_files=None)
    services.store.mkdir(owner, parse_user_path("/shared"))
    services.store.write_bytes(owner, parse_user_path("/shared/a.txt"), b"a")
    return owner


def test_without_a_policy_links_never_expire_by_default(services: Services, owner: Owner) -> None:
    link = services.store.links.create(owner, parse_user_path("/shared"), "view")
    assert link.expires_at is None
    assert services.store.links.policy() == LinkPolicy()


def test_a_link_made_without_an_expiry_gets_the_default(services: Services, owner: Owner) -> None:
    links = services.store.links
    links.set_policy(STRICT, "root")
    before = time.time()
    link = links.create(owner, parse_user_path("/shared"), "view")
    assert link.expires_at is not None
    assert before + 7 * DAY <= link.expires_at <= time.time() + 7 * DAY
    explicit = links.create(
        owner, parse_user_path("/shared"), "view", {"expires_at": before + 2 * DAY}
    )
    assert explicit.expires_at == before + 2 * DAY
    assert links.policy() == STRICT


def test_the_maximum_alone_is_also_the_default(services: Services, owner: Owner) -> None:
    links = services.store.links
    links.set_policy(LinkPolicy(max_expiry_days=3), "root")
    link = links.create(owner, parse_user_path("/shared"), "view", {"expires_at": None})
    assert link.expires_at is not None and link.expires_at <= time.time() + 3 * DAY


def test_an_expiry_beyond_the_maximum_is_refused(services: Services, owner: Owner) -> None:
    links = services.store.links
    links.set_policy(STRICT, "root")
    now = time.time()
    with pytest.raises(PermissionDenied, match="30 days"):
        links.create(owner, parse_user_path("/shared"), "view", {"expires_at": now + 40 * DAY})
    # The last allowed day is the 30th from today, up to its end (a date picked in a calendar).
    last = now - now % DAY + 31 * DAY
    assert links.create(owner, parse_user_path("/shared"), "view", {"expires_at": last})
    assert len(links.listing(owner)) == 1


def test_a_kind_that_needs_a_password_is_refused_without_one(
    services: Services, owner: Owner
) -> None:
    links = services.store.links
    links.set_policy(STRICT, "root")
    with pytest.raises(PermissionDenied, match="password for edit links"):
        links.create(owner, parse_user_path("/shared"), "edit")
    link = links.create(owner, parse_user_path("/shared"), "edit", {"password": "s3cret"})
    assert link.has_password
    assert not links.create(owner, parse_user_path("/shared"), "drop").has_password


def test_update_follows_the_policy_for_what_it_changes(services: Services, owner: Owner) -> None:
    links = services.store.links
    old = links.create(owner, parse_user_path("/shared"), "edit")
    links.set_policy(STRICT, "root")
    # An existing link keeps its settings, and changes of other settings still work.
    assert links.get(owner, old.id).link.expires_at is None
    assert links.update(owner, old.id, {"label": "kept"}).label == "kept"
    # Settings sent again unchanged (as OCS clients do) are no change either.
    assert links.update(owner, old.id, {"kind": "edit", "expires_at": None}).kind == "edit"
    with pytest.raises(PermissionDenied):
        links.update(owner, old.id, {"expires_at": time.time() + 60 * DAY})
    soon = time.time() + DAY
    assert links.update(owner, old.id, {"expires_at": soon}).expires_at == soon
    with pytest.raises(PermissionDenied):
        links.update(owner, old.id, {"expires_at": None})
    assert links.get(owner, old.id).link.expires_at == soon
    with_password = links.update(owner, old.id, {"password": "pw"})
    assert with_password.has_password
    with pytest.raises(PermissionDenied):
        links.update(owner, old.id, {"password": None})
    assert links.get(owner, old.id).link.has_password
    view = links.create(owner, parse_user_path("/shared"), "view")
    with pytest.raises(PermissionDenied):
        links.update(owner, view.id, {"kind": "edit"})
    assert links.update(owner, view.id, {"kind": "edit", "password": "pw"}).kind == "edit"


def test_a_policy_that_contradicts_itself_is_refused() -> None:
    with pytest.raises(InvalidName):
        LinkPolicy(default_expiry_days=40, max_expiry_days=30)
    with pytest.raises(InvalidName):
        LinkPolicy(max_expiry_days=0)


def test_the_json_api_refuses_with_its_own_403(live_server: LiveServer) -> None:
    user = live_server.add_user("bob")
    live_server.services.store.mkdir(user.owner, parse_user_path("/docs"))
    live_server.services.store.links.set_policy(STRICT, "root")
    api = live_server.base.rstrip("/") + "/davfiles/api/links"
    refused = requests.post(api, json={"path": "/docs", "kind": "edit"}, auth=user.auth, timeout=10)
    assert refused.status_code == 403
    assert "password" in refused.json()["error"]
    made = requests.post(api, json={"path": "/docs", "kind": "view"}, auth=user.auth, timeout=10)
    assert made.status_code == 201
    assert made.json()["link"]["expires_at"] is not None


def test_ocs_refuses_as_nextcloud_does_and_announces_the_policy(live_server: LiveServer) -> None:
    user = live_server.add_user("carl")
    live_server.services.store.mkdir(user.owner, parse_user_path("/docs"))
    live_server.services.store.links.set_policy(
        LinkPolicy(max_expiry_days=10, password_kinds=frozenset(LinkKind)), "root"
    )
    base = live_server.base.rstrip("/")
    headers = {"OCS-APIRequest": "true"}
    shares = base + "/ocs/v2.php/apps/files_sharing/api/v1/shares?format=json"
    refused = requests.post(
        shares,
        data={"path": "/docs", "shareType": 3},
        auth=user.auth,
        headers=headers,
        timeout=10,
    )
    assert refused.status_code == 403
    meta = refused.json()["ocs"]["meta"]
    assert meta["statuscode"] == 403 and "password" in meta["message"]
    v1 = requests.post(
        shares.replace("/v2.php/", "/v1.php/"),
        data={"path": "/docs", "shareType": 3, "password": "pw", "expireDate": "2099-01-01"},
        auth=user.auth,
        headers=headers,
        timeout=10,
    )
    assert v1.status_code == 200 and v1.json()["ocs"]["meta"]["statuscode"] == 403
    made = requests.post(
        shares,
        data={"path": "/docs", "shareType": 3, "password": "pw"},
        auth=user.auth,
        headers=headers,
        timeout=10,
    )
    assert made.status_code == 200 and made.json()["ocs"]["data"]["expiration"] is not None
    capabilities = requests.get(
        base + "/ocs/v2.php/cloud/capabilities?format=json",
        auth=user.auth,
        headers=headers,
        timeout=10,
    ).json()["ocs"]["data"]["capabilities"]["files_sharing"]["public"]
    assert capabilities["password"]["enforced"] is True
    assert capabilities["expire_date"] == {"enabled": True, "enforced": True, "days": 10}


@pytest.mark.parametrize("expires_at", [float("nan"), float("inf"), 1e300, -1.0])
def test_an_expiry_no_clock_reaches_is_refused_at_every_door(
    live_server: LiveServer, expires_at: float
) -> None:
    """NaN passed every comparison with the maximum, and a time beyond year 9999 broke every
    page that shows it; the JSON API sends NaN and Infinity as Python writes them."""
    user = live_server.add_user("dora")
    store = live_server.services.store
    store.mkdir(user.owner, parse_user_path("/docs"))
    store.links.set_policy(LinkPolicy(max_expiry_days=3), "root")
    api = live_server.base.rstrip("/") + "/davfiles/api/links"
    as_json = {"Content-Type": "application/json"}
    body = {"path": "/docs", "kind": "view", "expires_at": expires_at}
    refused = requests.post(api, data=json.dumps(body), headers=as_json, auth=user.auth, timeout=10)
    assert refused.status_code == 400, refused.text
    made = requests.post(api, json={"path": "/docs", "kind": "view"}, auth=user.auth, timeout=10)
    link_id = made.json()["link"]["id"]
    patched = requests.patch(
        f"{api}/{link_id}",
        data=json.dumps({"expires_at": expires_at}),
        headers=as_json,
        auth=user.auth,
        timeout=10,
    )
    assert patched.status_code == 400, patched.text
    assert requests.get(api, auth=user.auth, timeout=10).status_code == 200


def test_a_policy_that_asks_for_passwords_or_expiry_keeps_files_from_going_public(
    services: Services, owner: Owner
) -> None:
    """A file public by id is a view link without password or end: what the policy forbids
    for links it forbids there; making a file private is always allowed."""
    store = services.store
    made_public = store.write_bytes(owner, parse_user_path("/shared/before.txt"), b"b")
    store.set_public(owner, made_public.id, True)
    target = store.stat(owner, parse_user_path("/shared/a.txt"))
    assert target is not None
    for policy in (
        LinkPolicy(password_kinds=frozenset({LinkKind.VIEW})),
        LinkPolicy(max_expiry_days=30),
    ):
        store.links.set_policy(policy, "root")
        with pytest.raises(PermissionDenied):
            store.set_public(owner, target.id, True)
    assert store.set_public(owner, made_public.id, True).public  # as it was: no change
    assert not store.set_public(owner, made_public.id, False).public
    store.links.set_policy(LinkPolicy(password_kinds=frozenset({LinkKind.EDIT})), "root")
    assert store.set_public(owner, target.id, True).public
