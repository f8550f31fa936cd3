"""Isolation across every door: bob reaches nothing of alice's, and cannot tell what exists.

Each probe is sent by bob twice: once naming something alice has (her file's id, her path
under the Nextcloud layout, her lock token) and once naming something that exists nowhere. The
two answers must be the same refusal, status and body (with the named id or name masked), and
afterwards alice's files, lock and public flags are as she left them.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
import requests

from davfiles.app import Services, create_services
from davfiles.config import Settings
from davfiles.rest.molgenis import id_text
from davfiles.store import FileInfo, parse_user_path
from tests.dav.helpers import LOCK_BODY
from tests.harness import LiveServer

MISSING_ID = 987_654
NC = "/remote.php/dav/files/"
UPLOADS = "/remote.php/dav/uploads/"


@dataclass
class World:
    server: LiveServer
    secret: FileInfo
    lock_token: str
    bob: requests.Session = field(default_factory=requests.Session)

    def url(self, path: str) -> str:
        return self.server.url(path)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    services: Services = create_services(
        Settings(data_dir=tmp_path_factory.mktemp("isolation") / "data")
    )
    server = LiveServer(services)
    alice = server.add_user("alice", "alice-pw")
    server.add_user("bob", "bob-pw")
    store = services.store
    secret = store.write_bytes(alice.owner, parse_user_path("/secret.txt"), b"alice's secret")
    store.mkdir(alice.owner, parse_user_path("/docs"))
    store.write_bytes(alice.owner, parse_user_path("/docs/locked.txt"), b"locked")
    store.chunked_uploads.create(alice.owner, "upload-1")
    alice_session = server.session(alice)
    locked = alice_session.request(
        "LOCK",
        server.url("/dav/docs/locked.txt"),
        data=LOCK_BODY,
        headers={"Timeout": "Second-600"},
    )
    assert locked.status_code == 200
    bob = requests.Session()
    bob.auth = ("bob", "bob-pw")
    bob.put(server.url("/dav/mine.txt"), data=b"bob's")
    yield World(server, secret, locked.headers["Lock-Token"], bob)
    server.stop()
    services.close()


@dataclass(frozen=True)
class Probe:
    method: str
    # ``{}`` is replaced by alice's id or name, or by one that exists nowhere.
    path: str
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None


def id_probes() -> dict[str, Probe]:
    """By id: every dialect that addresses files by id, and the public download."""
    return {
        "okeanos-delete": Probe("DELETE", "/backend/user_files?id={}"),
        "okeanos-delete-form": Probe(
            "DELETE",
            "/backend/user_files",
            {"Content-Type": "application/x-www-form-urlencoded"},
            b"id={}",
        ),
        "defdrive-public": Probe(
            "PUT",
            "/defdrive/api/files/{}/access",
            {"Content-Type": "application/json"},
            b'{"public": true}',
        ),
        "defdrive-delete": Probe("DELETE", "/defdrive/api/files/{}"),
        "molgenis-meta": Probe("GET", "/molgenis/api/files/{molgenis}"),
        "molgenis-media": Probe("GET", "/molgenis/api/files/{molgenis}?alt=media"),
        "molgenis-delete": Probe("DELETE", "/molgenis/api/files/{molgenis}"),
        "public-download": Probe("GET", "/public/{}"),
        "public-download-named": Probe("GET", "/public/{}/secret.txt"),
    }


def path_probes() -> dict[str, Probe]:
    """By path: alice's home and upload area under the Nextcloud layout, with bob's login."""
    nc_file = NC + "alice/{name}"
    return {
        "nc-get": Probe("GET", nc_file),
        "nc-propfind": Probe("PROPFIND", nc_file, {"Depth": "1"}),
        "nc-put": Probe("PUT", nc_file, body=b"bob's"),
        "nc-delete": Probe("DELETE", nc_file),
        "nc-mkcol": Probe("MKCOL", nc_file + "-dir"),
        "nc-proppatch": Probe(
            "PROPPATCH",
            nc_file,
            {"Content-Type": "application/xml"},
            b'<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:" xmlns:x="urn:x">'
            b"<D:set><D:prop><x:note>bob</x:note></D:prop></D:set></D:propertyupdate>",
        ),
        "nc-lock": Probe("LOCK", nc_file, {"Content-Type": "application/xml"}, LOCK_BODY.encode()),
        "nc-copy-from": Probe("COPY", nc_file, {"Destination": "/dav/stolen.txt"}),
        "nc-move-from": Probe("MOVE", nc_file, {"Destination": "/dav/stolen.txt"}),
        "nc-uploads-propfind": Probe("PROPFIND", UPLOADS + "alice/{upload}", {"Depth": "1"}),
        "nc-uploads-chunk": Probe("PUT", UPLOADS + "alice/{upload}/0001", body=b"bob's"),
        "nc-uploads-assemble": Probe(
            "MOVE", UPLOADS + "alice/{upload}/.file", {"Destination": NC + "bob/got.txt"}
        ),
        # Into alice's home from bob's own file.
        "copy-into": Probe("COPY", "/dav/mine.txt", {"Destination": NC + "alice/{name}"}),
        "move-into": Probe("MOVE", "/dav/mine.txt", {"Destination": NC + "alice/{name}"}),
        "copy-into-oc": Probe(
            "COPY", NC + "bob/mine.txt", {"Destination": NC + "alice/{name}", "Overwrite": "T"}
        ),
    }


def fill(text: str, world: World, *, real: bool) -> str:
    number = world.secret.id if real else MISSING_ID
    return (
        text.replace("{molgenis}", id_text(number))
        .replace("{name}", "secret.txt" if real else "nothing.txt")
        .replace("{upload}", "upload-1" if real else "upload-9")
        .replace("{}", str(number))
    )


def masked(body: bytes, world: World) -> bytes:
    """The body with the named id or name masked, and without digits (error pages show times)."""
    text = body.decode("utf-8", "replace")
    for real, missing in (
        (id_text(world.secret.id), id_text(MISSING_ID)),
        ("secret.txt", "nothing.txt"),
        ("upload-1", "upload-9"),
    ):
        text = text.replace(real, "X").replace(missing, "X")
    return re.sub(r"\d", "", text).encode()


def send(world: World, probe: Probe, *, real: bool) -> requests.Response:
    headers = {name: fill(value, world, real=real) for name, value in probe.headers.items()}
    if "Destination" in headers and headers["Destination"].startswith("/"):
        headers["Destination"] = world.url(headers["Destination"])
    body = fill(probe.body.decode(), world, real=real).encode() if probe.body else None
    return world.bob.request(
        probe.method, world.url(fill(probe.path, world, real=real)), headers=headers, data=body
    )


PROBES = {**id_probes(), **path_probes()}


@pytest.mark.parametrize("name", list(PROBES))
def test_bob_is_refused_the_same_whether_alices_thing_exists(world: World, name: str) -> None:
    probe = PROBES[name]
    for_real = send(world, probe, real=True)
    for_nothing = send(world, probe, real=False)
    # 502 is RFC 4918's answer to a Destination in another URL namespace (another mount).
    refused = 400 <= for_real.status_code < 500 or for_real.status_code == 502
    assert refused, (for_real.status_code, for_real.text[:300])
    assert for_real.status_code == for_nothing.status_code
    assert masked(for_real.content, world) == masked(for_nothing.content, world)
    assert b"alice's secret" not in for_real.content


def test_bob_cannot_use_alices_lock_token(world: World) -> None:
    headers = {"Lock-Token": world.lock_token}
    for path in ("/dav/docs/locked.txt", NC + "alice/docs/locked.txt", NC + "bob/docs/locked.txt"):
        unlock = world.bob.request("UNLOCK", world.url(path), headers=headers)
        assert 400 <= unlock.status_code < 500, (path, unlock.status_code)
        write = world.bob.put(
            world.url(path), data=b"bob's", headers={"If": f"({world.lock_token})"}
        )
        assert write.status_code != 204, path
    alice = world.server.services.accounts.owner("alice")
    locked = world.server.services.store.stat(alice, parse_user_path("/docs/locked.txt"))
    assert locked is not None and locked.size == len(b"locked")
    # alice's lock still holds: without the token, she cannot write either.
    session = requests.Session()
    session.auth = ("alice", "alice-pw")
    assert session.put(world.url("/dav/docs/locked.txt"), data=b"x").status_code == 423
    assert (
        session.put(
            world.url("/dav/docs/locked.txt"),
            data=b"x",
            headers={"If": f"({world.lock_token})"},
        ).status_code
        == 204
    )


def test_alices_home_is_untouched_after_every_probe(world: World) -> None:
    for probe in PROBES.values():
        send(world, probe, real=True)
    services = world.server.services
    alice = services.accounts.owner("alice")
    names = sorted(str(info.path) for info in services.store.list_tree(alice, parse_user_path("/")))
    assert names == ["/docs", "/docs/locked.txt", "/secret.txt"]
    secret = services.store.stat(alice, parse_user_path("/secret.txt"))
    assert secret is not None and secret.id == world.secret.id and not secret.public
    with services.store.open_read(alice, secret) as stream:
        assert stream.read() == b"alice's secret"
    assert services.store.dead_properties(alice, parse_user_path("/secret.txt")) == {}
    assert services.store.chunked_uploads.chunks(alice, "upload-1") == []
    bob = services.accounts.owner("bob")
    assert [info.name for info in services.store.list_files(bob)] == ["mine.txt"]
