"""Crash-safe writes: whatever happens to a PUT, readers see a file's old or new complete content.

A SIGKILL mid-body, a client that hangs up, writers racing for one path and readers during an
overwrite are each driven over real sockets against a real server; afterwards the store must be
consistent (``fsck`` clean, usage equal to what is stored, no staging file left).
"""

from __future__ import annotations

import hashlib
import http.client
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests
from requests.auth import _basic_auth_str

from tests.dav.helpers import propfind
from tests.harness import CliServer, LiveServer, TestUser
from tests.kept import live_usage
from tests.test_cli import davfiles

MIB = 1024 * 1024
WAIT_TIMEOUT = 60.0


def blocks(size: int, seed: bytes) -> Iterator[bytes]:
    """``size`` bytes as 1 MiB blocks that all differ, so a torn or shifted file cannot match."""
    for index in range(size // MIB):
        yield hashlib.sha256(seed + index.to_bytes(8, "big")).digest() * (MIB // 32)


def sha256_of(size: int, seed: bytes) -> str:
    digest = hashlib.sha256()
    for block in blocks(size, seed):
        digest.update(block)
    return digest.hexdigest()


def wait_for(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT_TIMEOUT
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def staged_bytes(staging_dir: Path) -> list[int]:
    """Sizes of the staging files, i.e. of the uploads the server is receiving."""
    sizes = []
    for entry in staging_dir.iterdir():
        try:
            sizes.append(entry.stat().st_size)
        except FileNotFoundError:
            continue
    return sizes


def start_put(
    port: int, auth: tuple[str, str], path: str, length: int | None
) -> http.client.HTTPConnection:
    """Send a PUT's headers; the body follows with ``send`` (chunk frames when ``length`` is
    None)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=WAIT_TIMEOUT)
    connection.putrequest("PUT", path)
    connection.putheader("Authorization", _basic_auth_str(*auth))
    if length is None:
        connection.putheader("Transfer-Encoding", "chunked")
    else:
        connection.putheader("Content-Length", str(length))
    connection.endheaders()
    return connection


def chunk_frame(data: bytes) -> bytes:
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


def put_blocks(port: int, auth: tuple[str, str], path: str, size: int, seed: bytes) -> int:
    connection = start_put(port, auth, path, size)
    for block in blocks(size, seed):
        connection.send(block)
    response = connection.getresponse()
    response.read()
    connection.close()
    return response.status


def download_sha256(url: str, auth: tuple[str, str]) -> str:
    digest = hashlib.sha256()
    with requests.get(url, auth=auth, stream=True, timeout=WAIT_TIMEOUT) as response:
        assert response.status_code == 200
        for block in response.iter_content(MIB):
            digest.update(block)
    return digest.hexdigest()


def assert_consistent(live_server: LiveServer, user: TestUser, used_bytes: int) -> None:
    # Replaced contents are kept as versions beside the live file.
    assert live_usage(live_server.services, user.owner) == (used_bytes, 1)
    report = live_server.services.store.fsck(hashes=True)
    assert report.findings == []
    assert list(live_server.services.store.staging_dir.iterdir()) == []


def test_sigkill_during_a_200_mb_overwrite_keeps_the_old_content(tmp_path: Path) -> None:
    old_size, new_size = 20 * MIB, 200 * MIB
    data = tmp_path / "data"
    server = CliServer(data, tmp_path / "first.log")
    auth = ("admin", server.admin_password)
    try:
        assert put_blocks(server.port, auth, "/dav/big.bin", old_size, b"old") == 201
        overwrite = start_put(server.port, auth, "/dav/big.bin", new_size)
        for index, block in enumerate(blocks(new_size, b"new")):
            if index == 120:
                break
            overwrite.send(block)
        wait_for(lambda: sum(staged_bytes(data / "tmp")) >= 100 * MIB, "100 MiB staged")
        server.kill()
        overwrite.close()
    finally:
        server.stop()

    assert hashlib.sha256((data / "users/admin/big.bin").read_bytes()).hexdigest() == sha256_of(
        old_size, b"old"
    )
    # The killed upload's reservation is still counted, and its staging file is still there.
    before_restart = davfiles(data, "fsck")
    assert before_restart.returncode == 1
    assert before_restart.stdout.splitlines()[0] == (
        f"admin: usage: the counters say {new_size} bytes in 1 files, the records hold "
        f"{old_size} bytes in 1 files; left as they are while 1 staging entries exist "
        "(uploads in flight, or leftovers the next start sweeps)"
    )

    restarted = CliServer(data, tmp_path / "second.log")
    try:
        log = restarted.output()
        assert "removed 1 staging leftovers" in log
        assert (
            f"start-up check: admin: usage: the counters say {new_size} bytes in 1 files, "
            f"the records hold {old_size} bytes in 1 files (repaired)"
        ) in log
        url = f"{restarted.base}/dav/big.bin"
        assert download_sha256(url, auth) == sha256_of(old_size, b"old")
        listing = davfiles(data, "user", "list").stdout.splitlines()
        assert listing[1].split()[:4] == ["admin", str(old_size), "unlimited", "1"]
        check = davfiles(data, "fsck", "--hashes")
        assert check.returncode == 0, check.stdout
        assert list((data / "tmp").iterdir()) == []
    finally:
        restarted.stop()


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
def test_a_client_abort_mid_put_keeps_the_old_content(
    live_server: LiveServer, framing: str
) -> None:
    user = live_server.add_user("alice")
    old = b"".join(blocks(4 * MIB, b"old"))
    assert live_server.session(user).put(live_server.url("/dav/f.bin"), data=old).status_code == 201
    staging_dir = live_server.services.store.staging_dir

    chunked = framing == "chunked"
    overwrite = start_put(live_server.port, user.auth, "/dav/f.bin", None if chunked else 8 * MIB)
    for block in blocks(4 * MIB, b"new"):
        overwrite.send(chunk_frame(block) if chunked else block)
    wait_for(lambda: sum(staged_bytes(staging_dir)) >= 2 * MIB, "the body to be staged")
    # The bytes in flight live outside the home: neither the disk nor a listing shows them.
    assert [entry.name for entry in live_server.services.store.home(user.owner).iterdir()] == [
        "f.bin"
    ]
    listing = propfind(live_server.session(user), live_server.url("/dav/"), depth="1")
    assert sorted(listing) == ["/dav/", "/dav/f.bin"]
    overwrite.sock.shutdown(socket.SHUT_RDWR)
    overwrite.close()
    wait_for(lambda: not staged_bytes(staging_dir), "the aborted upload to be cleaned up")

    assert live_server.session(user).get(live_server.url("/dav/f.bin")).content == old
    assert_consistent(live_server, user, len(old))


def test_concurrent_puts_to_one_path_end_with_one_complete_version(
    live_server: LiveServer,
) -> None:
    """Every body is half-sent before any is finished, so all the uploads overlap."""
    user = live_server.add_user("alice")
    size = 8 * MIB
    seeds = [f"writer {index}".encode() for index in range(4)]
    bodies = {seed: b"".join(blocks(size, seed)) for seed in seeds}
    half_sent = threading.Barrier(len(seeds), timeout=WAIT_TIMEOUT)
    statuses: list[int] = []

    def write(seed: bytes) -> None:
        connection = start_put(live_server.port, user.auth, "/dav/shared.bin", size)
        connection.send(bodies[seed][: size // 2])
        half_sent.wait()
        connection.send(bodies[seed][size // 2 :])
        response = connection.getresponse()
        response.read()
        connection.close()
        statuses.append(response.status)

    writers = [threading.Thread(target=write, args=(seed,)) for seed in seeds]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join(timeout=WAIT_TIMEOUT)
    assert len(statuses) == len(seeds) and set(statuses) <= {201, 204}

    content = live_server.session(user).get(live_server.url("/dav/shared.bin")).content
    assert content in bodies.values()
    assert_consistent(live_server, user, size)


def test_a_download_begun_before_an_overwrite_gets_the_old_content_whole(
    live_server: LiveServer,
) -> None:
    user = live_server.add_user("alice")
    size = 32 * MIB
    old, new = b"".join(blocks(size, b"old")), b"".join(blocks(size, b"new"))
    session = live_server.session(user)
    url = live_server.url("/dav/f.bin")
    assert session.put(url, data=old).status_code == 201

    # A slow reader: a small receive buffer keeps the server half-way through sending.
    reader = socket.socket()
    reader.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
    reader.settimeout(WAIT_TIMEOUT)
    reader.connect(("127.0.0.1", live_server.port))
    reader.sendall(
        b"GET /dav/f.bin HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
        + f"Authorization: {_basic_auth_str(*user.auth)}\r\n\r\n".encode()
    )
    download = http.client.HTTPResponse(reader)
    download.begin()
    first = download.read(MIB)

    overwrite = start_put(live_server.port, user.auth, "/dav/f.bin", size)
    overwrite.send(new[: size // 2])
    assert session.get(url).content == old
    overwrite.send(new[size // 2 :])
    response = overwrite.getresponse()
    assert response.status == 204
    overwrite.close()

    assert first + download.read() == old
    reader.close()
    assert session.get(url).content == new
    assert_consistent(live_server, user, size)


def test_readers_racing_overwrites_see_only_complete_versions(live_server: LiveServer) -> None:
    user = live_server.add_user("alice")
    size = 4 * MIB
    versions = [b"".join(blocks(size, seed)) for seed in (b"one", b"two")]
    url = live_server.url("/dav/f.bin")
    assert live_server.session(user).put(url, data=versions[0]).status_code == 201
    writing_done = threading.Event()

    def overwrite_repeatedly() -> None:
        session = live_server.session(user)
        for round_number in range(1, 21):
            session.put(url, data=versions[round_number % 2])
        writing_done.set()

    writer = threading.Thread(target=overwrite_repeatedly)
    writer.start()
    reader = live_server.session(user)
    reads = 0
    for _ in range(1000):
        if writing_done.is_set():
            break
        response = reader.get(url)
        assert response.status_code == 200
        assert response.content in versions, "a reader saw a mixture of two versions"
        reads += 1
    writer.join(timeout=WAIT_TIMEOUT)
    assert writing_done.is_set() and reads > 0
    assert reader.get(url).content == versions[0]
    assert_consistent(live_server, user, size)
