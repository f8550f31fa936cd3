"""status.php and the OCS endpoints both sync clients call before syncing: their shapes in JSON
and XML, authentication, the errors in OCS shape, and what is (not) advertised."""

from __future__ import annotations

import dataclasses

import pytest
import requests
from defusedxml import ElementTree
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from davfiles.app import Services, create_app, create_services
from davfiles.config import DialectMount, Settings
from davfiles.errors import ConfigError
from davfiles.nextcloud.ocs import OcsStatus, ocs_response
from tests.harness import LiveServer

OCS = ("/ocs/v1.php", "/ocs/v2.php")


def test_status_php_answers_without_credentials(live_server: LiveServer) -> None:
    response = requests.get(live_server.url("/status.php"), timeout=10)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    status = response.json()
    assert status["installed"] is True
    assert status["maintenance"] is False
    assert status["needsDbUpgrade"] is False
    assert status["extendedSupport"] is False
    assert status["productname"] == "davfiles"
    major = int(status["version"].split(".")[0])
    assert major >= 20 and status["version"].startswith(status["versionstring"])


@pytest.mark.parametrize(("prefix", "code"), [("/ocs/v1.php", 100), ("/ocs/v2.php", 200)])
def test_capabilities_advertise_only_what_davfiles_does(
    live_server: LiveServer, prefix: str, code: int
) -> None:
    alice = live_server.add_user("alice")
    response = live_server.session(alice).get(
        live_server.url(f"{prefix}/cloud/capabilities?format=json"),
        headers={"OCS-APIRequest": "true"},
        timeout=10,
    )
    assert response.status_code == 200
    meta = response.json()["ocs"]["meta"]
    assert (meta["status"], meta["statuscode"], meta["message"]) == ("ok", code, "OK")
    data = response.json()["ocs"]["data"]
    capabilities = data["capabilities"]
    assert capabilities["dav"] == {"chunking": "1.0"}
    assert capabilities["checksums"]["supportedTypes"] == ["SHA1", "MD5"]
    assert capabilities["core"]["webdav-root"] == "remote.php/webdav"
    assert capabilities["core"]["status"]["version"].startswith(data["version"]["string"])
    assert set(capabilities) == {
        "core",
        "dav",
        "files",
        "checksums",
        "files_sharing",
        "downloadlimit",
    }
    # Public links only: no user, group, mail or federated shares.
    sharing = capabilities["files_sharing"]
    assert sharing["api_enabled"] is True and sharing["public"]["enabled"] is True
    assert sharing["resharing"] is False and sharing["group_sharing"] is False
    assert sharing["federation"] == {"outgoing": False, "incoming": False}
    assert "tus_support" not in capabilities["files"]
    assert "locking" not in capabilities["files"]


def test_the_checksums_advertised_are_verified_on_upload(live_server: LiveServer) -> None:
    alice = live_server.add_user("alice")
    session = live_server.session(alice)
    url = live_server.url("/remote.php/webdav/c.txt")
    for header in ("SHA1:" + "0" * 40, "MD5:" + "0" * 32):
        refused = session.put(url, data=b"body", headers={"OC-Checksum": header}, timeout=10)
        assert refused.status_code == 400
        assert session.get(url, timeout=10).status_code == 404


def test_xml_is_the_default_format(live_server: LiveServer) -> None:
    alice = live_server.add_user("alice")
    response = live_server.session(alice).get(
        live_server.url("/ocs/v1.php/cloud/capabilities"), timeout=10
    )
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/xml")
    root = ElementTree.fromstring(response.content)
    assert root.tag == "ocs"
    assert root.findtext("meta/statuscode") == "100"
    assert root.findtext("data/capabilities/dav/chunking") == "1.0"
    types = [element.text for element in root.findall("data/capabilities/checksums/*/element")]
    assert types == ["SHA1", "MD5"]
    assert root.findtext("data/capabilities/files/bigfilechunking") == "1"


def test_accept_json_selects_json(live_server: LiveServer) -> None:
    alice = live_server.add_user("alice")
    response = live_server.session(alice).get(
        live_server.url("/ocs/v2.php/cloud/user"),
        headers={"Accept": "application/json"},
        timeout=10,
    )
    assert response.json()["ocs"]["data"]["id"] == "alice"


@pytest.mark.parametrize("prefix", OCS)
def test_user_gives_the_dav_user_and_quota(live_server: LiveServer, prefix: str) -> None:
    alice = live_server.add_user("alice", max_bytes=1000)
    session = live_server.session(alice)
    assert session.put(live_server.url("/dav/a.bin"), data=b"x" * 300, timeout=10).ok
    response = session.get(live_server.url(f"{prefix}/cloud/user?format=json"), timeout=10)
    data = response.json()["ocs"]["data"]
    assert data["id"] == "alice" and data["display-name"] == "alice"
    assert data["quota"] == {
        "free": 700,
        "used": 300,
        "total": 1000,
        "relative": 30.0,
        "quota": 1000,
    }
    dav_home = session.request(
        "PROPFIND",
        live_server.url(f"/remote.php/dav/files/{data['id']}/"),
        headers={"Depth": "1"},
        timeout=10,
    )
    assert dav_home.status_code == 207


def test_user_without_a_limit_reports_nextclouds_unlimited(live_server: LiveServer) -> None:
    alice = live_server.add_user("alice")
    response = live_server.session(alice).get(
        live_server.url("/ocs/v1.php/cloud/user?format=json"), timeout=10
    )
    quota = response.json()["ocs"]["data"]["quota"]
    assert quota["quota"] == -3 and quota["free"] > 0 and quota["used"] == 0


@pytest.mark.parametrize(("prefix", "code"), [("/ocs/v1.php", 997), ("/ocs/v2.php", 401)])
@pytest.mark.parametrize("auth", [None, ("alice", "wrong"), ("nobody", "x")])
def test_missing_or_wrong_credentials_are_401_in_ocs_shape(
    live_server: LiveServer, prefix: str, code: int, auth: tuple[str, str] | None
) -> None:
    live_server.add_user("alice")
    for endpoint in ("capabilities", "user"):
        response = requests.get(
            live_server.url(f"{prefix}/cloud/{endpoint}?format=json"), auth=auth, timeout=10
        )
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"] == 'Basic realm="davfiles"'
        meta = response.json()["ocs"]["meta"]
        assert meta["status"] == "failure" and meta["statuscode"] == code
        assert response.json()["ocs"]["data"] == []


def test_api_tokens_work_as_basic_password_and_as_bearer(live_server: LiveServer) -> None:
    live_server.add_user("alice")
    _id, token = live_server.services.accounts.create_token("alice", "ocs")
    url = live_server.url("/ocs/v1.php/cloud/user?format=json")
    basic = requests.get(url, auth=("alice", token), timeout=10)
    bearer = requests.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert basic.json()["ocs"]["data"]["id"] == bearer.json()["ocs"]["data"]["id"] == "alice"


@pytest.mark.parametrize(("prefix", "http"), [("/ocs/v1.php", 200), ("/ocs/v2.php", 404)])
def test_an_unknown_ocs_call_is_not_found_in_ocs_shape(
    live_server: LiveServer, prefix: str, http: int
) -> None:
    alice = live_server.add_user("alice")
    response = live_server.session(alice).get(
        live_server.url(f"{prefix}/apps/files_sharing/api/v1/sharees?format=json"), timeout=10
    )
    assert response.status_code == http
    meta = response.json()["ocs"]["meta"]
    assert meta["status"] == "failure" and meta["statuscode"] == (998 if http == 200 else 404)


def test_a_wrong_method_is_405_with_allow(live_server: LiveServer) -> None:
    alice = live_server.add_user("alice")
    response = live_server.session(alice).post(
        live_server.url("/ocs/v2.php/cloud/capabilities?format=json"), timeout=10
    )
    assert response.status_code == 405
    assert "GET" in response.headers["Allow"]
    assert response.json()["ocs"]["meta"]["statuscode"] == 405


def test_guessing_through_ocs_is_throttled_like_webdav(strict_services: Services) -> None:
    server = LiveServer(strict_services)
    try:
        server.add_user("alice")
        url = server.url("/ocs/v1.php/cloud/user?format=json")
        statuses = [
            requests.get(url, auth=("alice", "wrong"), timeout=10).status_code for _ in range(2)
        ]
        assert statuses == [401, 401]
        throttled = requests.get(url, auth=("alice", "wrong"), timeout=10)
        assert throttled.status_code == 429
        assert int(throttled.headers["Retry-After"]) >= 1
        assert throttled.json()["ocs"]["meta"]["status"] == "failure"
        dav = requests.request(
            "PROPFIND", server.url("/remote.php/webdav/"), auth=("alice", "wrong"), timeout=10
        )
        assert dav.status_code == 429
    finally:
        server.stop()


def test_other_paths_are_left_to_webdav(live_server: LiveServer) -> None:
    alice = live_server.add_user("alice")
    session = live_server.session(alice)
    assert session.put(live_server.url("/dav/status.php"), data=b"mine", timeout=10).ok
    assert session.get(live_server.url("/dav/status.php"), timeout=10).content == b"mine"
    assert requests.get(live_server.url("/ocsx"), timeout=10).status_code != 200


def test_a_dialect_over_the_nextcloud_paths_is_refused(settings: Settings) -> None:
    clash = dataclasses.replace(settings, dialects={"aptly": DialectMount(prefix="/ocs")})
    services = create_services(clash)
    try:
        with pytest.raises(ConfigError, match="Nextcloud"):
            create_app(services)
    finally:
        services.close()


@pytest.mark.parametrize(("version", "code"), [(1, 996), (2, 500)])
def test_a_server_error_is_an_http_500_in_both_versions(version: int, code: int) -> None:
    """The clients read only the HTTP status of the capabilities: a 200 carrying a failure
    would look like a server without chunked uploads."""
    request = Request(
        EnvironBuilder(path="/ocs/v1.php/cloud/capabilities?format=json").get_environ()
    )
    response = ocs_response(request, version, [], OcsStatus.SERVER_ERROR, "internal server error")
    assert response.status_code == 500
    assert response.json is not None and response.json["ocs"]["meta"]["statuscode"] == code
