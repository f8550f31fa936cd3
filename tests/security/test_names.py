"""Names the file system cannot hold are a 400 in the door's own shape, at every door.

The limits live in davfiles.store.paths: a name at most MAX_NAME_BYTES of UTF-8, a path in a
home at most MAX_PATH_BYTES (whatever the data dir). Each door that takes a name is probed
just past a limit (in ASCII and in two-byte characters, and with a 5,000-byte name that is
also past the multipart parser's header limit) and at the limit, over raw sockets; a refusal
must store nothing and count nothing.
"""

from __future__ import annotations

import errno
import json
import os
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

import pytest

from davfiles.db.engine import Database, make_engine
from davfiles.errors import ConfigError, InvalidName
from davfiles.store import ROOT, Store, blobs
from davfiles.store.paths import (
    MAX_DATA_DIR_BYTES,
    MAX_NAME_BYTES,
    MAX_PATH_BYTES,
    check_data_dir,
)
from tests.harness import LiveServer, TestUser
from tests.security.rawhttp import basic, raw_request

BOUNDARY = "NaMeS"
TOO_LONG = {
    "ascii-256": "n" * (MAX_NAME_BYTES + 1),
    "two-byte-256": "é" * ((MAX_NAME_BYTES + 1) // 2),
    "ascii-5000": "n" * 5000,
}
AT_LIMIT = "m" * MAX_NAME_BYTES
CHUNKS = "/remote.php/dav/uploads/alice/"
DAV_MOUNTS = ("/dav/", "/remote.php/webdav/", "/remote.php/dav/files/alice/")


def deep_path(total: int) -> str:
    """A relative path of exactly ``total`` bytes, in names of at most MAX_NAME_BYTES."""
    count = -(-(total + 1) // (MAX_NAME_BYTES + 1))
    size, extra = divmod(total - (count - 1), count)
    parts = [chr(ord("a") + i % 26) * (size + (i < extra)) for i in range(count)]
    path = "/".join(parts)
    assert len(path.encode()) == total and max(map(len, parts)) <= MAX_NAME_BYTES
    return path


@pytest.fixture
def alice(live_server: LiveServer) -> TestUser:
    user = live_server.add_user("alice", "alice-pw")
    status, _ = request(live_server, user, "PUT", "/dav/f.txt", body=b"content")
    assert status == 201
    return user


def request(
    server: LiveServer,
    user: TestUser,
    method: str,
    path: str,
    headers: dict[str, str] | None = None,
    body: bytes = b"",
) -> tuple[int, bytes]:
    """``path`` is percent-encoded here, so the bytes on the wire are the name's UTF-8."""
    all_headers = {"Authorization": basic(user), "Content-Length": str(len(body))}
    all_headers.update(headers or {})
    status, response = raw_request(server.port, method, quote(path).encode(), all_headers, body)
    return status, response.partition(b"\r\n\r\n")[2]


def multipart(filename: str, field: str = "file") -> tuple[dict[str, str], bytes]:
    head = (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{field}"; '
        f'filename="{filename}"\r\nContent-Type: text/plain\r\n\r\n'
    ).encode()
    body = head + b"part" + f"\r\n--{BOUNDARY}--\r\n".encode()
    return {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}, body


def stored(server: LiveServer, user: TestUser) -> list[str]:
    return sorted(info.path.text for info in server.services.store.list_tree(user.owner, ROOT))


def usage(server: LiveServer, user: TestUser) -> tuple[int, int]:
    figures = server.services.store.usage(user.owner)
    return figures.used_bytes, figures.used_files


def message_in_door_shape(door: str, body: bytes) -> str:
    """The error message, read from the body shape the door documents."""
    if door == "webdav":
        assert b"<title>400 Bad Request</title>" in body, body[:300]
        return body.decode()
    data = json.loads(body)
    if door == "okeanos":
        assert data["result"] == "failure"
        return str(data["error"])
    if door == "spacedog":
        assert data["success"] is False and data["status"] == 400
        return str(data["error"]["message"])
    if door == "molgenis":
        return str(data["errors"][0]["message"])
    return str(data["error"])


Door = Callable[[LiveServer, TestUser, str], tuple[str, int, bytes]]


def webdav_put(server: LiveServer, user: TestUser, name: str) -> tuple[str, int, bytes]:
    return "webdav", *request(server, user, "PUT", "/dav/" + name, body=b"x")


def webdav_mkcol(server: LiveServer, user: TestUser, name: str) -> tuple[str, int, bytes]:
    return "webdav", *request(server, user, "MKCOL", "/remote.php/webdav/" + name)


def webdav_copy(server: LiveServer, user: TestUser, name: str) -> tuple[str, int, bytes]:
    destination = "/dav/" + quote(name)
    return "webdav", *request(server, user, "COPY", "/dav/f.txt", {"Destination": destination})


def webdav_move(server: LiveServer, user: TestUser, name: str) -> tuple[str, int, bytes]:
    headers = {"Destination": "/remote.php/dav/files/alice/" + quote(name)}
    return "webdav", *request(server, user, "MOVE", "/remote.php/dav/files/alice/f.txt", headers)


def chunk_folder(server: LiveServer, user: TestUser, name: str) -> tuple[str, int, bytes]:
    return "webdav", *request(server, user, "MKCOL", CHUNKS + name)


def chunk_name(server: LiveServer, user: TestUser, name: str) -> tuple[str, int, bytes]:
    request(server, user, "MKCOL", CHUNKS + "up")
    return "webdav", *request(server, user, "PUT", CHUNKS + "up/" + name, body=b"x")


def chunk_final_move(server: LiveServer, user: TestUser, name: str) -> tuple[str, int, bytes]:
    request(server, user, "MKCOL", CHUNKS + "final")
    assert request(server, user, "PUT", CHUNKS + "final/00001", body=b"x")[0] == 201
    destination = "/remote.php/dav/files/alice/" + quote(name)
    reply = request(server, user, "MOVE", CHUNKS + "final/.file", {"Destination": destination})
    request(server, user, "DELETE", CHUNKS + "final")
    return "webdav", *reply


def okeanos(server: LiveServer, user: TestUser, name: str) -> tuple[str, int, bytes]:
    headers, body = multipart(name)
    return "okeanos", *request(server, user, "PUT", "/backend/user_files", headers, body)


def defdrive(server: LiveServer, user: TestUser, name: str) -> tuple[str, int, bytes]:
    headers, body = multipart(name)
    return "defdrive", *request(server, user, "POST", "/defdrive/api/upload", headers, body)


def aptly_file(server: LiveServer, user: TestUser, name: str) -> tuple[str, int, bytes]:
    headers, body = multipart(name, "f")
    return "aptly", *request(server, user, "POST", "/api/files/up", headers, body)


def aptly_dir(server: LiveServer, user: TestUser, name: str) -> tuple[str, int, bytes]:
    headers, body = multipart("a.txt", "f")
    return "aptly", *request(server, user, "POST", "/api/files/" + name, headers, body)


def spacedog_file(server: LiveServer, user: TestUser, name: str) -> tuple[str, int, bytes]:
    return "spacedog", *request(server, user, "PUT", "/1/file/" + name, body=b"x")


def spacedog_folder(server: LiveServer, user: TestUser, name: str) -> tuple[str, int, bytes]:
    return "spacedog", *request(server, user, "PUT", f"/1/file/{name}/a.txt", body=b"x")


def molgenis(server: LiveServer, user: TestUser, name: str) -> tuple[str, int, bytes]:
    # A header value is Latin-1 on the wire: the name's UTF-8 bytes, as clients send them.
    headers = {"x-molgenis-filename": name.encode().decode("latin-1")}
    return "molgenis", *request(server, user, "POST", "/molgenis/api/files", headers, b"x")


DOORS: dict[str, Door] = {
    "webdav-put": webdav_put,
    "webdav-mkcol": webdav_mkcol,
    "webdav-copy-destination": webdav_copy,
    "webdav-move-destination": webdav_move,
    "chunk-folder": chunk_folder,
    "chunk-name": chunk_name,
    "chunk-final-move": chunk_final_move,
    "okeanos": okeanos,
    "defdrive": defdrive,
    "aptly-file": aptly_file,
    "aptly-dir": aptly_dir,
    "spacedog-file": spacedog_file,
    "spacedog-folder": spacedog_folder,
    "molgenis": molgenis,
}


@pytest.mark.parametrize("door", DOORS)
def test_a_name_over_the_limit_is_400_in_the_doors_shape(
    live_server: LiveServer, alice: TestUser, door: str
) -> None:
    before = (stored(live_server, alice), usage(live_server, alice))
    for label, name in TOO_LONG.items():
        shape, status, body = DOORS[door](live_server, alice, name)
        assert status == 400, (label, body[:300])
        message = message_in_door_shape(shape, body)
        assert "limited to" in message, (label, message)
        assert "Traceback" not in message and str(live_server.services.settings.data_dir) not in (
            message
        )
    after = stored(live_server, alice)
    if door == "aptly-file":
        # aptly creates the upload directory before it reads the parts (test_aptly.py).
        after.remove("up")
    assert (after, usage(live_server, alice)) == before
    assert not list(live_server.services.settings.data_dir.joinpath("tmp").iterdir())


@pytest.mark.parametrize(
    "door", [door for door in DOORS if door not in ("chunk-folder", "chunk-name")]
)
def test_a_name_at_the_limit_is_stored(live_server: LiveServer, alice: TestUser, door: str) -> None:
    _shape, status, body = DOORS[door](live_server, alice, AT_LIMIT)
    assert 200 <= status < 300, body[:300]
    names = {part for path in stored(live_server, alice) for part in path.split("/")}
    assert AT_LIMIT in names


def test_chunk_names_at_the_limit_are_accepted(live_server: LiveServer, alice: TestUser) -> None:
    assert request(live_server, alice, "MKCOL", CHUNKS + AT_LIMIT)[0] == 201
    assert (
        request(live_server, alice, "PUT", CHUNKS + f"{AT_LIMIT}/{AT_LIMIT}", body=b"x")[0] == 201
    )


@pytest.mark.parametrize("mount", DAV_MOUNTS)
def test_a_path_over_the_limit_is_400_and_one_at_it_is_stored(
    live_server: LiveServer, alice: TestUser, mount: str
) -> None:
    fits = deep_path(MAX_PATH_BYTES)
    folders = fits.split("/")[:-1]
    for depth in range(1, len(folders) + 1):
        status, body = request(live_server, alice, "MKCOL", mount + "/".join(folders[:depth]))
        assert status in (201, 405), body[:300]
    assert request(live_server, alice, "PUT", mount + fits, body=b"x")[0] in (201, 204)
    over = "/".join(folders) + "/" + "z" * (len(fits.split("/")[-1]) + 1)
    status, body = request(live_server, alice, "PUT", mount + over, body=b"x")
    assert status == 400 and b"a path is limited to" in body, body[:300]
    destination = {"Destination": mount + quote(over)}
    status, body = request(live_server, alice, "COPY", mount + "f.txt", destination)
    assert status == 400 and b"a path is limited to" in body, body[:300]
    assert over not in stored(live_server, alice)


def test_spacedog_paths_over_the_limit_are_400(live_server: LiveServer, alice: TestUser) -> None:
    fits = deep_path(MAX_PATH_BYTES)
    assert request(live_server, alice, "PUT", "/1/file/" + fits, body=b"x")[0] == 200
    status, body = request(live_server, alice, "PUT", "/1/file/" + fits + "z", body=b"x")
    assert status == 400
    assert message_in_door_shape("spacedog", body) == f"a path is limited to {MAX_PATH_BYTES} bytes"


def test_the_limit_does_not_depend_on_the_data_dir(tmp_path: Path) -> None:
    """The longest data dir allowed still holds the longest path; a longer one is refused at
    start-up, not by failing names later."""
    longest = tmp_path / deep_path(MAX_DATA_DIR_BYTES - len(os.fsencode(tmp_path)) - 1)
    assert len(os.fsencode(longest)) == MAX_DATA_DIR_BYTES
    check_data_dir(longest)
    home = longest / "users" / ("u" * 64)
    deepest = home / deep_path(MAX_PATH_BYTES)
    deepest.parent.mkdir(parents=True)
    deepest.write_bytes(b"fits")
    assert len(os.fsencode(deepest)) == 4095
    with pytest.raises(ConfigError, match="data_dir is"):
        check_data_dir(longest / "x")
    database = Database(make_engine(f"sqlite:///{tmp_path / 'names.sqlite'}"))
    try:
        with pytest.raises(ConfigError):
            Store(database, longest / "x")
    finally:
        database.dispose()


def test_a_name_the_file_system_refuses_is_invalid_not_a_crash(tmp_path: Path) -> None:
    """A file system with shorter names than Linux's (eCryptfs) answers ENAMETOOLONG below
    the name rules: that is the name's fault, InvalidName, never an unexpected OSError."""
    too_long = "x" * (os.pathconf(tmp_path, "PC_NAME_MAX") + 1)
    with pytest.raises(OSError) as raw:
        (tmp_path / too_long).mkdir()
    assert raw.value.errno == errno.ENAMETOOLONG
    with pytest.raises(InvalidName):
        blobs.make_dir(tmp_path / too_long)
    staged = blobs.StagedBlob(tmp_path)
    staged.write(b"bytes")
    with pytest.raises(InvalidName):
        staged.install(tmp_path / too_long, 0.0)
    staged.discard()
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("method", ["MOVE", "COPY"])
def test_a_folder_whose_contents_would_pass_the_limit_is_not_moved(
    live_server: LiveServer, alice: TestUser, method: str
) -> None:
    """The Destination itself fits, but what lies below the folder would not: 400, as if the
    whole tree had been named one by one."""
    inner = deep_path(MAX_PATH_BYTES - 2)
    base = "/remote.php/dav/files/alice/"
    assert request(live_server, alice, "PUT", "/1/file/t/" + inner, body=b"deep")[0] == 200
    assert request(live_server, alice, "MKCOL", base + "sub")[0] == 201
    before = stored(live_server, alice)
    status, body = request(live_server, alice, method, base + "t", {"Destination": base + "sub/t"})
    assert status == 400 and b"a path is limited to" in body, body[:300]
    assert stored(live_server, alice) == before
    status, body = request(live_server, alice, method, base + "t", {"Destination": base + "u"})
    assert status == 201, body[:300]


@pytest.mark.parametrize(
    "name", [AT_LIMIT, "m" * 250 + ".txt", "é" * 125 + ".txt", "a." + "e" * 253]
)
def test_a_taken_name_at_the_limit_gets_a_numbered_name_that_fits(
    live_server: LiveServer, alice: TestUser, name: str
) -> None:
    """molgenis stores a second file of a taken name as ``name (1).ext``: cut to fit."""
    for _ in range(3):
        _shape, status, body = molgenis(live_server, alice, name)
        assert status == 201, body[:300]
    names = [path for path in stored(live_server, alice) if path != "f.txt"]
    assert len(names) == 3 and name in names
    assert all(len(stored_name.encode()) <= MAX_NAME_BYTES for stored_name in names)
    assert {
        stored_name.rpartition(" (")[2][:2] for stored_name in names if stored_name != name
    } == {
        "1)",
        "2)",
    }
