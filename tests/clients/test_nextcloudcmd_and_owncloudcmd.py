"""nextcloudcmd and owncloudcmd (Debian's builds) syncing two-way against a live server.

Each test starts from a fresh user, a local tree and a first sync, then changes one side or both
and syncs again, checking the server's records, the local files and the server's request log.
Every run has a timeout (both clients can hang on states they do not expect) and every tree
keeps a file that never changes, so no sync is delete-only (nextcloudcmd 3.7.3 then waits
forever for a confirmation). owncloudcmd gets an exclude list with ``--exclude``: Debian ships
none for it and it aborts without one.
"""

from __future__ import annotations

import collections
import hashlib
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from davfiles.app import create_services
from davfiles.config import Settings
from davfiles.store import ROOT, FileInfo, parse_user_path
from tests.harness import LiveServer, TestUser, WSGIApp
from tests.nextcloud.test_login_flow import granted_flow, poll
from tests.shared_log import SharedLog

CLIENTS = ("nextcloudcmd", "owncloudcmd")
RUN_TIMEOUT = 90
MTIME_BASE = 1_600_000_000
# Over the clients' 10,000,000-byte limit, so it goes through chunked upload.
BIG = 10_500_000
# The clients' shortest wait before they retry a file whose upload failed.
BACK_OFF = 26
TRANSFERS = {"PUT", "GET", "MKCOL", "MOVE", "DELETE", "COPY"}
# What both clients must never upload (their journals and temporary files).
EXCLUDES = ["*~", ".~lock.*", "*.part", "*.filepart", ".sync_*.db*", "._sync_*.db*"]


def client_missing(name: str) -> Any:
    return pytest.mark.skipif(
        shutil.which(name) is None,
        reason=f"{name} is not installed (scripts/install-debian-tools.sh installs it as root)",
    )


CLIENT_PARAMS = [pytest.param(name, marks=client_missing(name)) for name in CLIENTS]


class RequestLog:
    """Method, path and status of every request, in a file every worker process appends to."""

    def __init__(self, log: SharedLog) -> None:
        self._log = log

    def wrap(self, app: WSGIApp) -> WSGIApp:
        def logging_app(environ: dict[str, Any], start_response: Any) -> Any:
            # Read now: WsgiDAV moves the mount from PATH_INFO to SCRIPT_NAME.
            method, path = environ["REQUEST_METHOD"], environ.get("PATH_INFO", "")

            def recording_start(status: str, headers: Any, *args: Any) -> Any:
                self._log.append(
                    {"method": method, "path": path, "status": int(status.split(" ", 1)[0])}
                )
                return start_response(status, headers, *args)

            return app(environ, recording_start)

        return logging_app

    def mark(self) -> int:
        return len(self._log.records())

    def since(self, mark: int) -> list[dict[str, Any]]:
        return self._log.records()[mark:]

    def transfers_since(self, mark: int) -> dict[str, int]:
        """File operations only (status.php and OCS are asked at every start)."""
        return dict(
            collections.Counter(
                r["method"]
                for r in self.since(mark)
                if r["method"] in TRANSFERS and r["path"].startswith("/remote.php/")
            )
        )


@dataclass
class Sync:
    client: str
    server: LiveServer
    user: TestUser
    local: Path
    home: Path
    log: RequestLog
    excludes: Path
    logs: Path
    runs: int = 0

    def run(self, *, expect_success: bool = True) -> subprocess.CompletedProcess[str]:
        """One sync run (restarts included), killed after RUN_TIMEOUT seconds."""
        self.runs += 1
        command = [
            self.client,
            "--non-interactive",
            "--exclude",
            str(self.excludes),
            "-u",
            self.user.name,
            "-p",
            self.user.password,
            str(self.local),
            self.server.base,
        ]
        environment = {
            **os.environ,
            "HOME": str(self.home),
            "XDG_CONFIG_HOME": str(self.home / ".config"),
            "QT_QPA_PLATFORM": "offscreen",
            # Several chunks for the big file, whatever the measured throughput.
            "OWNCLOUD_CHUNK_SIZE": "4000000",
            "OWNCLOUD_MIN_CHUNK_SIZE": "4000000",
            "OWNCLOUD_MAX_CHUNK_SIZE": "4000000",
            "OWNCLOUD_TARGET_CHUNK_UPLOAD_DURATION": "0",
        }
        output = self.logs / f"{self.client}-run{self.runs}.log"
        with output.open("w") as sink:
            try:
                result = subprocess.run(
                    command,
                    stdout=sink,
                    stderr=subprocess.STDOUT,
                    text=True,
                    env=environment,
                    timeout=RUN_TIMEOUT,
                    check=False,
                )
            except subprocess.TimeoutExpired:
                pytest.fail(f"{self.client} hung (killed after {RUN_TIMEOUT} s): see {output}")
        text = output.read_text(errors="replace")
        completed = subprocess.CompletedProcess(command, result.returncode, text, "")
        if expect_success:
            assert result.returncode == 0, (
                f"{self.client} exit {result.returncode}:\n{text[-3000:]}"
            )
        return completed

    def server_files(self) -> dict[str, FileInfo]:
        infos = self.server.services.store.list_tree(self.user.owner, ROOT)
        return {str(info.path).lstrip("/"): info for info in infos}

    def stat(self, path: str) -> FileInfo | None:
        return self.server.services.store.stat(self.user.owner, parse_user_path("/" + path))

    def dav(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        url = self.server.url(f"/remote.php/dav/files/{self.user.name}/{path}")
        return requests.request(method, url, auth=self.user.auth, timeout=30, **kwargs)

    def local_files(self) -> dict[str, Path]:
        """Files and folders of the local tree, without the client's own journal files."""
        found = {}
        for path in self.local.rglob("*"):
            relative = path.relative_to(self.local).as_posix()
            if not relative.startswith((".sync_", "._sync_")):
                found[relative] = path
        return found


TREE = {
    "sentinel.txt": b"never changes\n",
    "empty.bin": b"",
    "notes #1.txt": b"hash\n",
    "100% done.txt": b"percent\n",
    "literal%20name.txt": b"a literal %20\n",
    "Ünïcödé 日本.txt": "unicode ✓\n".encode(),
    "a/x.txt": b"x\n",
    "a/b/other file.txt": b"other\n",
    "a/b/c/deep.txt": b"deep\n",
    "a/b/c/keep.txt": b"keep\n",
    "d/e/moved.txt": b"moves around\n",
    "d/e/f/inner.txt": b"inner\n",
}


def write(path: Path, body: bytes, mtime: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(body)
    os.utime(path, (mtime, mtime))


def build_tree(root: Path, *, big: bool) -> None:
    for index, (name, body) in enumerate(TREE.items()):
        write(root / name, body, MTIME_BASE + index)
    if big:
        block = hashlib.sha256(b"davfiles").digest() * 4096
        with (root / "big.bin").open("wb") as handle:
            for _ in range(BIG // len(block)):
                handle.write(block)
            handle.write(block[: BIG % len(block)])
        os.utime(root / "big.bin", (MTIME_BASE, MTIME_BASE))


@pytest.fixture(params=CLIENT_PARAMS)
def sync(request: pytest.FixtureRequest, tmp_path: Path, settings: Settings) -> Iterator[Sync]:
    """A fresh server and user, the local tree, and its first sync done."""
    services = create_services(settings)
    log = RequestLog(SharedLog(tmp_path / "requests.jsonl"))
    server = LiveServer(services, wrap=log.wrap)
    try:
        user = server.add_user("syncer", "sync-pw")
        local = tmp_path / "local"
        build_tree(local, big=False)
        excludes = tmp_path / "exclude.lst"
        excludes.write_text("\n".join(EXCLUDES) + "\n")
        home = tmp_path / "home"
        home.mkdir()
        logs = tmp_path / "logs"
        logs.mkdir()
        state = Sync(request.param, server, user, local, home, log, excludes, logs)
        state.run()
        yield state
    finally:
        server.stop()
        services.close()


def assert_same_tree(sync: Sync) -> None:
    """Same names, bytes, sizes and mtimes on the server and locally."""
    local = sync.local_files()
    server = sync.server_files()
    assert sorted(server) == sorted(local)
    for name, path in local.items():
        info = server[name]
        assert info.is_dir == path.is_dir(), name
        if info.is_dir:
            continue
        body = path.read_bytes()
        assert info.size == len(body), name
        assert info.md5 == hashlib.md5(body, usedforsecurity=False).hexdigest(), name
        assert int(info.modified_at) == int(path.stat().st_mtime), name


def test_first_sync_uploads_everything_and_the_second_transfers_nothing(sync: Sync) -> None:
    build_tree(sync.local, big=True)
    mark = sync.log.mark()
    sync.run()
    assert_same_tree(sync)
    chunked = [r for r in sync.log.since(mark) if r["path"].startswith("/remote.php/dav/uploads/")]
    assert [r["method"] for r in chunked if r["method"] != "PUT"][:1] == ["MKCOL"]
    assert sum(r["method"] == "PUT" for r in chunked) >= 3
    assert chunked[-1]["method"] == "MOVE" and chunked[-1]["status"] in (201, 204)
    assert sync.stat("big.bin") is not None
    assert sync.stat("empty.bin").size == 0  # type: ignore[union-attr]

    mark = sync.log.mark()
    sync.run()
    assert sync.log.transfers_since(mark) == {}
    assert_same_tree(sync)


def test_changes_deep_on_either_side_reach_the_other(sync: Sync) -> None:
    changed = sync.dav(
        "PUT",
        "a/b/c/deep.txt",
        data=b"changed on the server\n",
        headers={"X-OC-Mtime": str(MTIME_BASE + 100)},
    )
    assert changed.status_code == 204
    sync.run()
    assert (sync.local / "a/b/c/deep.txt").read_bytes() == b"changed on the server\n"

    added = requests.put(
        sync.server.url("/1/file/d/e/f/from rest.txt"),
        data=b"through a REST dialect\n",
        auth=sync.user.auth,
        timeout=30,
    )
    assert added.status_code == 200
    sync.run()
    assert (sync.local / "d/e/f/from rest.txt").read_bytes() == b"through a REST dialect\n"

    write(sync.local / "a/b/c/keep.txt", b"changed locally\n", MTIME_BASE + 200)
    write(sync.local / "d/e/f/local new.txt", b"new locally\n", MTIME_BASE + 201)
    mark = sync.log.mark()
    sync.run()
    assert sync.log.transfers_since(mark) == {"PUT": 2}
    assert sync.dav("GET", "a/b/c/keep.txt").content == b"changed locally\n"
    assert sync.dav("GET", "d/e/f/local%20new.txt").content == b"new locally\n"
    assert_same_tree(sync)


def test_renames_and_moves_on_either_side_arrive_as_moves(sync: Sync) -> None:
    ids = {name: info.id for name, info in sync.server_files().items()}
    moved = sync.dav(
        "MOVE",
        "d/e/moved.txt",
        headers={"Destination": f"/remote.php/dav/files/{sync.user.name}/a/moved%20here.txt"},
    )
    assert moved.status_code == 201
    renamed = sync.dav(
        "MOVE",
        "d/e/f",
        headers={"Destination": f"/remote.php/dav/files/{sync.user.name}/a/b/f%20renamed"},
    )
    assert renamed.status_code == 201
    mark = sync.log.mark()
    sync.run()
    assert sync.log.transfers_since(mark) == {}
    assert (sync.local / "a/moved here.txt").read_bytes() == TREE["d/e/moved.txt"]
    assert (sync.local / "a/b/f renamed/inner.txt").read_bytes() == TREE["d/e/f/inner.txt"]
    assert not (sync.local / "d/e/moved.txt").exists()
    assert not (sync.local / "d/e/f").exists()

    (sync.local / "a/x.txt").rename(sync.local / "a/x renamed.txt")
    (sync.local / "a/b/c").rename(sync.local / "d/c moved")
    mark = sync.log.mark()
    sync.run()
    assert sync.log.transfers_since(mark) == {"MOVE": 2}
    assert all(r["status"] == 201 for r in sync.log.since(mark) if r["method"] == "MOVE")
    files = sync.server_files()
    assert files["a/x renamed.txt"].id == ids["a/x.txt"]
    assert files["d/c moved"].id == ids["a/b/c"]
    assert files["d/c moved/deep.txt"].id == ids["a/b/c/deep.txt"]
    assert files["a/moved here.txt"].id == ids["d/e/moved.txt"]
    assert_same_tree(sync)


def test_deletes_on_either_side_propagate(sync: Sync) -> None:
    assert sync.dav("DELETE", "notes%20%231.txt").status_code == 204
    assert sync.dav("DELETE", "d/e/f").status_code == 204
    sync.run()
    assert not (sync.local / "notes #1.txt").exists()
    assert not (sync.local / "d/e/f").exists()

    (sync.local / "100% done.txt").unlink()
    shutil.rmtree(sync.local / "a/b/c")
    mark = sync.log.mark()
    sync.run()
    assert sync.log.transfers_since(mark) == {"DELETE": 2}
    assert sync.stat("100% done.txt") is None
    assert sync.stat("a/b/c") is None
    assert sync.stat("sentinel.txt") is not None
    assert_same_tree(sync)


def test_an_edit_on_both_sides_keeps_a_conflict_copy(sync: Sync) -> None:
    server_version = b"edited on the server\n"
    local_version = b"edited locally, a different size\n"
    changed = sync.dav(
        "PUT",
        "a/b/other%20file.txt",
        data=server_version,
        headers={"X-OC-Mtime": str(MTIME_BASE + 300)},
    )
    assert changed.status_code == 204
    write(sync.local / "a/b/other file.txt", local_version, MTIME_BASE + 301)
    sync.run()
    assert (sync.local / "a/b/other file.txt").read_bytes() == server_version
    copies = list((sync.local / "a/b").glob("other file (conflicted copy *).txt"))
    assert len(copies) == 1
    assert copies[0].read_bytes() == local_version
    assert sync.dav("GET", "a/b/other%20file.txt").content == server_version


def test_a_sync_over_the_quota_stores_nothing_and_completes_once_there_is_room(
    sync: Sync,
) -> None:
    accounts = sync.server.services.accounts
    used = sync.server.services.store.usage(sync.user.owner).used_bytes
    accounts.set_quota(sync.user.name, max_bytes=used + BIG // 2)
    build_tree(sync.local, big=True)
    before = sync.server_files()

    refused = sync.run(expect_success=False)
    assert refused.returncode != 0
    assert "quota" in refused.stdout.lower()
    assert sync.server_files().keys() == before.keys()
    assert sync.server.services.store.usage(sync.user.owner).used_bytes == used
    assert not (sync.server.services.store.home(sync.user.owner) / "big.bin").exists()

    accounts.set_quota(sync.user.name, max_bytes=None)
    # The client retries a failed file only after its back-off (25 s at the first failure).
    time.sleep(BACK_OFF)
    sync.run()
    assert sync.stat("big.bin").size == BIG  # type: ignore[union-attr]
    assert_same_tree(sync)


def test_an_app_password_from_the_login_flow_syncs(sync: Sync) -> None:
    """What the GUI does after its browser login: sync with the app password it polled."""
    credentials = poll(granted_flow(sync.server, sync.user.name, sync.user.password)).json()
    sync.user = TestUser(credentials["loginName"], credentials["appPassword"], sync.user.owner)
    write(sync.local / "a/with app password.txt", b"app\n", MTIME_BASE + 400)
    sync.run()
    assert sync.dav("GET", "a/with%20app%20password.txt").content == b"app\n"
