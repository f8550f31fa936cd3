"""trusted_proxies: forwarding headers from a trusted peer set the client, scheme, host and path
prefix of every URL davfiles writes; from any other peer they change nothing.

The test client is the peer (127.0.0.1): a server trusting 127.0.0.1 takes it for a proxy, a
server trusting only 10.0.0.0/8 does not.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
import requests

from davfiles.app import create_services
from davfiles.config import Settings, load_settings
from davfiles.errors import ConfigError
from davfiles.proxy import ForwardedHeaders, clean_prefix, parse_networks
from tests.harness import LiveServer, TestUser

OUTSIDE = {
    "X-Forwarded-Proto": "https",
    "X-Forwarded-Host": "files.example.org",
    "X-Forwarded-Prefix": "/files",
    "X-Forwarded-For": "203.0.113.7",
}
HREF = re.compile(r"<D:href>([^<]*)</D:href>")


def serve(settings: Settings, trusted: list[str], **changes: object) -> Iterator[LiveServer]:
    services = create_services(
        replace(settings, trusted_proxies=parse_networks(trusted), **changes)  # type: ignore[arg-type]
    )
    server = LiveServer(services)
    try:
        yield server
    finally:
        server.stop()
        services.close()


@pytest.fixture
def behind_proxy(settings: Settings) -> Iterator[LiveServer]:
    yield from serve(settings, ["127.0.0.1", "192.0.2.0/24"], login_failures_per_address=3)


@pytest.fixture
def untrusted(settings: Settings) -> Iterator[LiveServer]:
    yield from serve(settings, ["10.0.0.0/8"], login_failures_per_address=3)


def audit_clients(server: LiveServer, event: str) -> list[object]:
    log = server.services.settings.effective_audit_log
    lines = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    return [line["client"] for line in lines if line["event"] == event]


def populate(server: LiveServer) -> TestUser:
    alice = server.add_user("alice", "alice-pw")
    session = server.session(alice)
    assert session.request("MKCOL", server.url("/dav/docs")).status_code == 201
    assert session.put(server.url("/dav/docs/a b.txt"), data=b"hello").status_code == 201
    return alice


def hrefs(response: requests.Response) -> list[str]:
    assert response.status_code == 207, response.text
    return HREF.findall(response.text)


def test_propfind_hrefs_carry_the_prefix(behind_proxy: LiveServer) -> None:
    alice = populate(behind_proxy)
    session = behind_proxy.session(alice)
    listing = session.request(
        "PROPFIND", behind_proxy.url("/dav/docs/"), headers={**OUTSIDE, "Depth": "1"}
    )
    assert hrefs(listing) == ["/files/dav/docs/", "/files/dav/docs/a%20b.txt"]
    nextcloud = session.request(
        "PROPFIND",
        behind_proxy.url("/remote.php/dav/files/alice/docs/"),
        headers={**OUTSIDE, "Depth": "1"},
    )
    assert hrefs(nextcloud) == [
        "/files/remote.php/dav/files/alice/docs/",
        "/files/remote.php/dav/files/alice/docs/a%20b.txt",
    ]
    direct = session.request("PROPFIND", behind_proxy.url("/dav/docs/"), headers={"Depth": "1"})
    assert hrefs(direct) == ["/dav/docs/", "/dav/docs/a%20b.txt"]


def test_lock_discovery_href_carries_the_prefix(behind_proxy: LiveServer) -> None:
    alice = populate(behind_proxy)
    body = (
        '<?xml version="1.0"?><D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/>'
        "</D:lockscope><D:locktype><D:write/></D:locktype></D:lockinfo>"
    )
    locked = behind_proxy.session(alice).request(
        "LOCK", behind_proxy.url("/dav/docs/a%20b.txt"), headers=OUTSIDE, data=body
    )
    assert locked.status_code == 200, locked.text
    assert "<D:href>/files/dav/docs/a%20b.txt</D:href>" in locked.text


@pytest.mark.parametrize("method", ["COPY", "MOVE"])
def test_destination_with_the_outside_url(behind_proxy: LiveServer, method: str) -> None:
    alice = populate(behind_proxy)
    session = behind_proxy.session(alice)
    destination = "https://files.example.org/files/dav/docs/c%20d.txt"
    moved = session.request(
        method,
        behind_proxy.url("/dav/docs/a%20b.txt"),
        headers={**OUTSIDE, "Destination": destination},
    )
    assert moved.status_code == 201, moved.text
    assert session.get(behind_proxy.url("/dav/docs/c d.txt")).content == b"hello"
    expected = 200 if method == "COPY" else 404
    assert session.get(behind_proxy.url("/dav/docs/a b.txt")).status_code == expected


def test_rest_urls_and_openapi_servers(behind_proxy: LiveServer) -> None:
    alice = behind_proxy.add_user("alice", "alice-pw")
    _id, token = behind_proxy.services.accounts.create_token("alice", "t")
    molgenis = requests.post(
        behind_proxy.url("/molgenis/api/files"),
        headers={**OUTSIDE, "x-molgenis-token": token, "x-molgenis-filename": "m.txt"},
        data=b"molgenis",
    )
    assert molgenis.status_code == 201, molgenis.text
    assert molgenis.headers["Location"] == f"/files/molgenis/api/files/{molgenis.json()['id']}"
    spacedog = requests.put(
        behind_proxy.url("/1/file/dir/s.txt"), headers=OUTSIDE, auth=alice.auth, data=b"dog"
    )
    assert spacedog.status_code == 200, spacedog.text
    assert spacedog.json()["location"] == "https://files.example.org/files/1/file/dir/s.txt"
    spec = requests.get(behind_proxy.url("/openapi.json"), headers=OUTSIDE).json()
    assert spec["servers"] == [{"url": "https://files.example.org/files"}]
    plain = requests.get(behind_proxy.url("/openapi.json")).json()
    assert plain["servers"] == [{"url": behind_proxy.base}]


def test_login_flow_urls_carry_the_outside_url(behind_proxy: LiveServer) -> None:
    """The Nextcloud apps open the login page and poll at the URLs the flow hands out."""
    flow = requests.post(behind_proxy.url("/index.php/login/v2"), headers=OUTSIDE)
    assert flow.status_code == 200, flow.text
    outside = "https://files.example.org/files/index.php/login/v2"
    assert flow.json()["poll"]["endpoint"] == f"{outside}/poll"
    assert flow.json()["login"].startswith(f"{outside}/flow/")
    login_path = flow.json()["login"].removeprefix("https://files.example.org/files")
    page = requests.get(behind_proxy.url(login_path), headers=OUTSIDE)
    assert page.status_code == 200
    cookie = page.headers["Set-Cookie"]
    assert "Path=/files/index.php/login/v2/flow/" in cookie and "Secure" in cookie


def test_audit_and_throttle_see_the_forwarded_client(behind_proxy: LiveServer) -> None:
    behind_proxy.add_user("alice", "alice-pw")
    # The list is walked from the right; trusted proxies (127.0.0.1, 192.0.2.0/24) are skipped.
    chain = {"X-Forwarded-For": "198.51.100.1, 203.0.113.9, 192.0.2.5"}
    statuses = [
        requests.get(
            behind_proxy.url("/dav/"), headers=chain, auth=(f"user{n}", "wrong"), timeout=30
        ).status_code
        for n in range(4)
    ]
    assert statuses == [401, 401, 401, 429]
    assert audit_clients(behind_proxy, "login.fail") == ["203.0.113.9"] * 3
    assert audit_clients(behind_proxy, "login.throttled") == ["203.0.113.9"]
    # Another client behind the same proxy is not held back by the first one's failures.
    other = requests.get(
        behind_proxy.url("/dav/"),
        headers={"X-Forwarded-For": "203.0.113.10"},
        auth=("alice", "alice-pw"),
    )
    assert other.status_code == 200
    assert audit_clients(behind_proxy, "login.ok") == ["203.0.113.10"]


def test_rfc7239_forwarded(behind_proxy: LiveServer) -> None:
    behind_proxy.add_user("alice", "alice-pw")
    forwarded = 'for="[2001:db8::7]:4711";proto=https;host=fw.example, for=192.0.2.9;proto=http'
    spec = requests.get(
        behind_proxy.url("/openapi.json"),
        headers={"Forwarded": forwarded, "X-Forwarded-Prefix": "/drive"},
    ).json()
    # The element that named the client is the one the outermost trusted proxy wrote.
    assert spec["servers"] == [{"url": "https://fw.example/drive"}]
    failed = requests.get(
        behind_proxy.url("/dav/"), headers={"Forwarded": forwarded}, auth=("alice", "x")
    )
    assert failed.status_code == 401
    assert audit_clients(behind_proxy, "login.fail") == ["2001:db8::7"]
    # X-Forwarded-* win over Forwarded, field by field.
    mixed = requests.get(
        behind_proxy.url("/openapi.json"),
        headers={"Forwarded": forwarded, "X-Forwarded-Host": "x.example"},
    ).json()
    assert mixed["servers"] == [{"url": "https://x.example"}]


def test_headers_from_an_untrusted_peer_change_nothing(untrusted: LiveServer) -> None:
    alice = populate(untrusted)
    session = untrusted.session(alice)
    forged = {**OUTSIDE, "Forwarded": "for=198.51.100.1;proto=https;host=evil.example"}
    listing = session.request(
        "PROPFIND", untrusted.url("/dav/docs/"), headers={**forged, "Depth": "1"}
    )
    assert hrefs(listing) == ["/dav/docs/", "/dav/docs/a%20b.txt"]
    spec = requests.get(untrusted.url("/openapi.json"), headers=forged).json()
    assert spec["servers"] == [{"url": untrusted.base}]
    # WsgiDAV itself would accept a Destination naming X-Forwarded-Host; not from this peer.
    moved = session.request(
        "MOVE",
        untrusted.url("/dav/docs/a%20b.txt"),
        headers={**forged, "Destination": "https://files.example.org/files/dav/docs/x.txt"},
    )
    assert moved.status_code == 502
    statuses = [
        requests.get(
            untrusted.url("/dav/"),
            headers={"X-Forwarded-For": f"203.0.113.{n}"},
            auth=(f"user{n}", "wrong"),
        ).status_code
        for n in range(4)
    ]
    assert statuses == [401, 401, 401, 429]
    assert set(audit_clients(untrusted, "login.fail")) == {"127.0.0.1"}


@pytest.mark.parametrize(
    ("header", "client"),
    [
        ("203.0.113.1", "203.0.113.1"),
        ("203.0.113.1, 127.0.0.1", "203.0.113.1"),
        ("127.0.0.2, 127.0.0.1", "127.0.0.2"),  # all trusted: the leftmost
        ("203.0.113.1:5678", "203.0.113.1"),
        ("[2001:db8::1]:80", "2001:db8::1"),
        ("::ffff:203.0.113.4", "203.0.113.4"),
        ("garbage, 127.0.0.1", "127.0.0.9"),  # unparseable: the peer stays the client
        ("203.0.113.1, garbage", "127.0.0.9"),
    ],
)
def test_client_from_x_forwarded_for(header: str, client: str) -> None:
    seen: dict[str, object] = {}

    def app(environ: dict[str, object], start_response: object) -> list[bytes]:
        seen.update(environ)
        return []

    middleware = ForwardedHeaders(app, parse_networks(["127.0.0.0/8"]))
    middleware({"REMOTE_ADDR": "127.0.0.9", "HTTP_X_FORWARDED_FOR": header}, None)  # type: ignore[arg-type]
    assert seen["REMOTE_ADDR"] == client
    assert "HTTP_X_FORWARDED_FOR" not in seen


def test_unusable_values_are_ignored() -> None:
    seen: dict[str, object] = {}

    def app(environ: dict[str, object], start_response: object) -> list[bytes]:
        seen.update(environ)
        return []

    environ = {
        "REMOTE_ADDR": "127.0.0.1",
        "wsgi.url_scheme": "http",
        "HTTP_HOST": "inside:8080",
        "SCRIPT_NAME": "",
        "HTTP_X_FORWARDED_PROTO": "gopher",
        "HTTP_X_FORWARDED_HOST": "bad host/",
        "HTTP_X_FORWARDED_PREFIX": "/a/../b",
    }
    ForwardedHeaders(app, parse_networks(["127.0.0.1"]))(environ, None)  # type: ignore[arg-type]
    assert (seen["wsgi.url_scheme"], seen["HTTP_HOST"], seen["SCRIPT_NAME"]) == (
        "http",
        "inside:8080",
        "",
    )
    assert clean_prefix("/files/") == "/files"
    assert clean_prefix("/") == ""
    assert clean_prefix("files") is None
    assert clean_prefix("/f%2e%2e") is None


def test_trusted_proxies_setting(tmp_path: Path) -> None:
    config = tmp_path / "wsgidav.yaml"
    config.write_text("davfiles:\n  trusted_proxies: [127.0.0.1, 10.0.0.0/8, '::1']\n")
    settings = load_settings(config, environ={})
    assert [str(net) for net in settings.trusted_proxies] == [
        "127.0.0.1/32",
        "10.0.0.0/8",
        "::1/128",
    ]
    from_env = load_settings(environ={"DAVFILES_TRUSTED_PROXIES": "192.0.2.1, 2001:db8::/32"})
    assert [str(net) for net in from_env.trusted_proxies] == ["192.0.2.1/32", "2001:db8::/32"]
    assert load_settings(environ={}).trusted_proxies == ()
    with pytest.raises(
        ConfigError, match=r"DAVFILES_TRUSTED_PROXIES: not an address or network: 'proxy.lan'"
    ):
        load_settings(environ={"DAVFILES_TRUSTED_PROXIES": "proxy.lan"})
    with pytest.raises(ConfigError, match="host bits set"):
        load_settings(environ={"DAVFILES_TRUSTED_PROXIES": "10.0.0.1/8"})
    config.write_text("davfiles:\n  trusted_proxies: {a: 1}\n")
    with pytest.raises(ConfigError, match="davfiles.trusted_proxies: a list of addresses"):
        load_settings(config, environ={})
