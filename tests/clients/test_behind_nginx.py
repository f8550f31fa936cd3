"""davfiles behind Debian's nginx, which terminates TLS and serves it under
``https://127.0.0.1:PORT/files/`` (the README's example configuration): rclone, litmus, REST
calls and WebDAV see the outside URLs, and throttling and the audit log see the client.

nginx runs with a config of its own in a temporary folder, on a free port, never the system
instance. The client connects to nginx from 127.0.0.5 (and .6); only nginx's own address,
127.0.0.1, is a trusted proxy, so a client's forged X-Forwarded-For cannot pass for it.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import shutil
import socket
import ssl
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from requests.adapters import HTTPAdapter

from davfiles.app import create_services
from davfiles.config import Settings
from davfiles.proxy import parse_networks
from tests.clients.litmus import INVENTORY, litmus_missing_reason, run_suite
from tests.harness import LiveServer
from tests.test_tls import self_signed

pytestmark = pytest.mark.skipif(
    shutil.which("nginx") is None,
    reason="nginx is not installed (the test command installs Debian's nginx-light when root)",
)

PREFIX = "/files"
HREF = re.compile(r"<D:href>([^<]*)</D:href>")
NGINX_CONFIG = """
daemon off;
{user}
worker_processes 1;
pid {root}/nginx.pid;
error_log {root}/error.log warn;
events {{ worker_connections 256; }}
http {{
    access_log {root}/access.log;
    client_body_temp_path {root}/body;
    proxy_temp_path {root}/proxy;
    fastcgi_temp_path {root}/fastcgi;
    uwsgi_temp_path {root}/uwsgi;
    scgi_temp_path {root}/scgi;
    server {{
        listen 127.0.0.1:{port} ssl;
        ssl_certificate {cert};
        ssl_certificate_key {key};
{location}
    }}
}}
"""
# The location block as the README gives it.
LOCATION = """
        location /files/ {{
            proxy_pass http://127.0.0.1:{backend}/;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_set_header X-Forwarded-Host $http_host;
            proxy_set_header X-Forwarded-Prefix /files;
            proxy_set_header Forwarded "";
            client_max_body_size 0;
            proxy_request_buffering off;
            proxy_buffering off;
            proxy_read_timeout 300s;
        }}
"""


@dataclass
class Proxied:
    server: LiveServer
    base: str  # https://127.0.0.1:PORT/files
    cert: Path
    root: Path

    def url(self, path: str) -> str:
        return self.base + path


class _SourceAddress(HTTPAdapter):
    def __init__(self, source: str) -> None:
        self._source = source
        super().__init__()

    def init_poolmanager(self, *args: object, **kwargs: object) -> None:
        kwargs["source_address"] = (self._source, 0)
        super().init_poolmanager(*args, **kwargs)  # type: ignore[arg-type]


def client(proxied: Proxied, source: str = "127.0.0.5") -> requests.Session:
    """A session reaching nginx from ``source``, trusting the test certificate."""
    session = requests.Session()
    session.mount("https://", _SourceAddress(source))
    session.verify = str(proxied.cert)
    session.trust_env = False  # REQUESTS_CA_BUNDLE would win over ``verify``
    return session


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_nginx(
    root: Path, backend: int, cert: Path, key: Path
) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    config = root / "nginx.conf"
    config.write_text(
        NGINX_CONFIG.format(
            user="user root;" if os.geteuid() == 0 else "",
            root=root,
            port=port,
            cert=cert,
            key=key,
            location=LOCATION.format(backend=backend),
        )
    )
    process = subprocess.Popen(
        ["nginx", "-p", str(root), "-e", str(root / "error.log"), "-c", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("nginx exited:\n" + (root / "error.log").read_text(errors="replace"))
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return process, port
        except OSError:
            time.sleep(0.05)
    process.kill()
    process.wait(timeout=10)
    raise RuntimeError("nginx did not listen in time")


@pytest.fixture(scope="module")
def proxied(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxied]:
    root = tmp_path_factory.mktemp("nginx")
    cert, key = self_signed(root)
    settings = Settings(
        data_dir=root / "data",
        trusted_proxies=parse_networks(["127.0.0.1"]),
        login_failures_per_address=3,
    )
    services = create_services(settings)
    server = LiveServer(services)
    nginx_root = root / "nginx"
    nginx_root.mkdir()
    try:
        process, port = start_nginx(nginx_root, server.port, cert, key)
        try:
            server.add_user("alice", "alice-pw")
            yield Proxied(server, f"https://127.0.0.1:{port}{PREFIX}", cert, nginx_root)
        finally:
            process.terminate()
            process.wait(timeout=20)
    finally:
        server.stop()
        services.close()


def test_health_through_nginx(proxied: Proxied) -> None:
    session = client(proxied)
    for path in ("/healthz", "/readyz"):
        response = session.get(proxied.url(path), timeout=30)
        assert (response.status_code, response.text) == (200, "ok\n")


def test_webdav_urls_carry_https_and_the_prefix(proxied: Proxied) -> None:
    session = client(proxied)
    session.auth = ("alice", "alice-pw")
    assert session.request("MKCOL", proxied.url("/dav/web"), timeout=30).status_code == 201
    assert session.put(proxied.url("/dav/web/a b.txt"), data=b"one", timeout=30).status_code == 201
    listing = session.request(
        "PROPFIND", proxied.url("/dav/web/"), headers={"Depth": "1"}, timeout=30
    )
    assert listing.status_code == 207
    assert HREF.findall(listing.text) == ["/files/dav/web/", "/files/dav/web/a%20b.txt"]
    moved = session.request(
        "MOVE",
        proxied.url("/dav/web/a%20b.txt"),
        headers={"Destination": proxied.url("/dav/web/c.txt")},
        timeout=30,
    )
    assert moved.status_code == 201, moved.text
    copied = session.request(
        "COPY",
        proxied.url("/remote.php/dav/files/alice/web/c.txt"),
        headers={"Destination": proxied.url("/remote.php/dav/files/alice/web/d.txt")},
        timeout=30,
    )
    assert copied.status_code == 201, copied.text
    assert session.get(proxied.url("/dav/web/d.txt"), timeout=30).content == b"one"


def test_rest_dialects_write_outside_urls(proxied: Proxied) -> None:
    session = client(proxied)
    _id, token = proxied.server.services.accounts.create_token("alice", "rest")
    molgenis = session.post(
        proxied.url("/molgenis/api/files"),
        headers={"x-molgenis-token": token, "x-molgenis-filename": "m.txt"},
        data=b"molgenis",
        timeout=30,
    )
    assert molgenis.status_code == 201, molgenis.text
    location = molgenis.headers["Location"]
    assert location == f"/files/molgenis/api/files/{molgenis.json()['id']}"
    fetched = session.get(
        proxied.base.removesuffix(PREFIX) + location,
        headers={"x-molgenis-token": token},
        params={"alt": "media"},
        timeout=30,
    )
    assert fetched.content == b"molgenis"
    spacedog = session.put(
        proxied.url("/1/file/dog/s.txt"), auth=("alice", "alice-pw"), data=b"dog", timeout=30
    )
    assert spacedog.status_code == 200, spacedog.text
    assert spacedog.json()["location"] == proxied.url("/1/file/dog/s.txt")
    assert session.get(spacedog.json()["location"], auth=("alice", "alice-pw")).content == b"dog"
    login = session.post(
        proxied.url("/defdrive/api/login"),
        json={"username": "alice", "password": "alice-pw"},
        timeout=30,
    )
    jwt = {"Authorization": f"Bearer {login.json()['token']}"}
    uploaded = session.post(
        proxied.url("/defdrive/api/upload"),
        headers=jwt,
        files={"file": ("public.txt", b"for everyone")},
        timeout=30,
    )
    assert uploaded.status_code in (200, 201), uploaded.text
    file_id = uploaded.json()["file"]["id"]
    shared = session.put(
        proxied.url(f"/defdrive/api/files/{file_id}/access"),
        headers=jwt,
        json={"public": True},
        timeout=30,
    )
    assert shared.status_code == 200, shared.text
    public = client(proxied, "127.0.0.6").get(proxied.url(f"/public/{file_id}"), timeout=30)
    assert public.content == b"for everyone"
    spec = session.get(proxied.url("/openapi.json"), timeout=30).json()
    assert spec["servers"] == [{"url": proxied.base}]


def test_throttling_and_audit_see_the_client_not_its_forgery(proxied: Proxied) -> None:
    guesser = client(proxied, "127.0.0.5")
    statuses = [
        guesser.get(
            proxied.url("/dav/"),
            headers={"X-Forwarded-For": f"198.51.100.{n}"},
            auth=(f"guess{n}", "wrong"),
            timeout=30,
        ).status_code
        for n in range(4)
    ]
    assert statuses == [401, 401, 401, 429]
    lines = proxied.server.services.settings.effective_audit_log.read_text().splitlines()
    events = [json.loads(line) for line in lines]
    guesses = [e["client"] for e in events if str(e["user"]).startswith("guess")]
    assert guesses == ["127.0.0.5"] * 4
    neighbour = client(proxied, "127.0.0.6").get(
        proxied.url("/dav/"), auth=("alice", "alice-pw"), timeout=30
    )
    assert neighbour.status_code == 200


def test_rclone_through_nginx(proxied: Proxied, tmp_path: Path) -> None:
    if shutil.which("rclone") is None:
        pytest.skip("rclone is not installed")
    source = tmp_path / "source"
    for index in range(12):
        folder = source / f"folder {index % 3}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{index} #n%{index}+é.txt").write_bytes(b"x" * (index * 1000))
    (source / "big.bin").write_bytes(os.urandom(3 * 1024 * 1024))
    obscured = subprocess.run(
        ["rclone", "obscure", "alice-pw"], capture_output=True, text=True, check=True, timeout=60
    ).stdout.strip()
    url = proxied.url("/remote.php/dav/files/alice/")
    target = f":webdav,url='{url}',vendor=nextcloud,user=alice,pass={obscured}:synced"

    def rclone(*args: str) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            ["rclone", "--config", str(tmp_path / "rclone.conf"), "--ca-cert", str(proxied.cert)]
            + ["--retries", "1", "--low-level-retries", "1", *args],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert result.returncode == 0, result.stderr[-3000:]
        return result

    first = rclone("copy", str(source), target, "-v")
    assert first.stderr.count(": Copied (") == 13
    assert "0 differences found" in rclone("check", str(source), target).stderr
    (source / "folder 1" / "4 #n%4+é.txt").unlink()
    again = rclone("sync", str(source), target, "-v")
    assert ": Copied (" not in again.stderr
    assert "Deleted" in again.stderr
    alice = requests.Session()
    alice.auth = ("alice", "alice-pw")
    direct = alice.get(proxied.server.url("/dav/synced/big.bin"), timeout=30)
    assert direct.content == (source / "big.bin").read_bytes()


LITMUS_SUITES = ("basic", "copymove", "locks")


@pytest.mark.litmus
@pytest.mark.parametrize("suite", LITMUS_SUITES)
def test_litmus_through_nginx(proxied: Proxied, suite: str, tmp_path: Path) -> None:
    reason = litmus_missing_reason()
    if reason:
        pytest.skip(reason)
    name = f"lit{suite}"
    proxied.server.add_user(name, "litmus-pw")
    output, results = run_suite(suite, proxied.url("/dav/"), name, "litmus-pw", tmp_path)
    assert tuple(results) == INVENTORY[suite], output
    failed = {test: result.outcome for test, result in results.items() if result.outcome != "pass"}
    # nginx drops a fragment of the request target ("DELETE /coll/#frag") as a fragment is
    # meant to be dropped, so davfiles sees "DELETE /coll/" and litmus warns; directly, the
    # target reaches davfiles whole and the test passes (tests/clients/test_litmus.py).
    expected = {"9-delete_fragment": "WARNING"} if suite == "basic" else {}
    assert failed == expected, output


def test_raw_request_line_reaches_davfiles_unchanged(proxied: Proxied) -> None:
    """nginx re-encodes the path it forwards; names with '%', '#', '+' and spaces survive."""
    port = int(proxied.base.removesuffix(PREFIX).rsplit(":", 1)[1])
    context = ssl.create_default_context(cafile=str(proxied.cert))
    connection = http.client.HTTPSConnection("127.0.0.1", port, context=context, timeout=30)
    try:
        auth = "Basic YWxpY2U6YWxpY2UtcHc="  # alice:alice-pw
        connection.request("PUT", "/files/dav/p%25q%23r+s%20t.txt", b"odd", {"Authorization": auth})
        assert connection.getresponse().read() is not None
        connection.request("GET", "/files/dav/p%25q%23r+s%20t.txt", headers={"Authorization": auth})
        response = connection.getresponse()
        assert (response.status, response.read()) == (200, b"odd")
    finally:
        connection.close()
    alice = requests.Session()
    alice.auth = ("alice", "alice-pw")
    assert alice.get(proxied.server.url("/dav/p%25q%23r+s t.txt"), timeout=30).content == b"odd"


URL_ATTRIBUTE = re.compile(r'\b(?:href|action|src|formaction)="([^"]*)"')


def _app_urls_outside_prefix(page: str) -> list[str]:
    """The page's own URLs that a browser would send past the proxy's prefix."""
    return [
        url
        for url in URL_ATTRIBUTE.findall(page)
        if not url.startswith(("#", PREFIX + "/", "https://"))
    ]


def test_the_web_app_keeps_the_prefix_in_links_redirects_and_cookies(proxied: Proxied) -> None:
    browser = client(proxied)
    browser.headers["Accept"] = "text/html,*/*;q=0.8"
    browser.headers["User-Agent"] = "Mozilla/5.0 (X11; Linux x86_64) test browser"
    origin = proxied.base.removesuffix(PREFIX)
    login = browser.get(proxied.url("/"), timeout=30)
    assert login.status_code == 200
    assert [r.headers["Location"] for r in login.history] == [
        "/files/app/files/",
        "/files/app/login?next=%2Fapp%2Ffiles%2F",
    ]
    assert _app_urls_outside_prefix(login.text) == []
    csrf = re.search(r'name="csrf" value="([^"]+)"', login.text)
    assert csrf is not None
    answer = browser.post(
        proxied.url("/app/login"),
        data={"csrf": csrf[1], "next": "/app/files/", "user": "alice", "password": "alice-pw"},
        headers={"Origin": origin},
        timeout=30,
    )
    assert answer.status_code == 200, answer.text[:300]
    assert answer.history[0].headers["Location"] == "/files/app/files/"
    cookie = next(c for c in browser.cookies if c.name == "davfiles_session")
    assert (cookie.path, cookie.secure) == ("/files/app/", True)
    assert _app_urls_outside_prefix(answer.text) == []
    folder_csrf = re.search(r'name="csrf" value="([^"]+)"', answer.text)
    assert folder_csrf is not None
    made = browser.post(
        proxied.url("/app/do/mkdir"),
        data={"csrf": folder_csrf[1], "folder": "", "name": "from the web"},
        headers={"Origin": origin},
        allow_redirects=False,
        timeout=30,
    )
    assert (made.status_code, made.headers["Location"]) == (
        303,
        "/files/app/files/?note=created",
    )
    info = browser.get(proxied.url("/app/info/from%20the%20web"), timeout=30)
    assert info.status_code == 200
    assert _app_urls_outside_prefix(info.text) == []
    assert f"{proxied.base}/dav/from%20the%20web/" in info.text
    assert 'data-root="/files"' in info.text
