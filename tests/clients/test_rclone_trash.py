"""The mass delete issue #14 names: ``rclone sync`` run the wrong way round (from an empty
folder) wipes a tree on the server; one call to the JSON API, filtered by time range, door
and client, brings every file back with its name, bytes and file id, and leaves alone what
another client deleted meanwhile."""

from __future__ import annotations

import hashlib
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from davfiles.app import create_services
from davfiles.config import Settings
from davfiles.store import ROOT
from tests.clients.test_rclone import RcloneSetup, RequestCounter, rclone, remote
from tests.harness import LiveServer
from tests.shared_log import SharedLog

pytestmark = pytest.mark.skipif(
    shutil.which("rclone") is None,
    reason="rclone is not installed (the test command installs Debian's rclone when run as root)",
)


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[RcloneSetup]:
    services = create_services(Settings(data_dir=tmp_path / "data"))
    counter = RequestCounter(SharedLog(tmp_path / "requests.jsonl"))
    server = LiveServer(services, wrap=counter.wrap)
    try:
        server.add_user("rcloner", "rclone-pw")
        source = tmp_path / "source"
        for folder in ("photos/2025", "photos/2026", "docs"):
            (source / folder).mkdir(parents=True)
            for index in range(8):
                body = b"" if index == 0 else f"{folder} {index}\n".encode() * (index * 100)
                (source / folder / f"file {index}.bin").write_bytes(body)
        config = tmp_path / "rclone.conf"
        config.write_text("")
        yield RcloneSetup(server, counter, source, config, "rclone-pw")
    finally:
        server.stop()
        services.close()


def test_an_rclone_sync_from_an_empty_folder_is_undone_in_one_call(
    setup: RcloneSetup, tmp_path: Path
) -> None:
    server, services = setup.server, setup.server.services
    owner = services.accounts.owner("rcloner")
    _token_id, token = services.accounts.create_token("rcloner", "recovery")
    target = remote(setup, "nextcloud") + "tree"
    rclone(setup, "copy", str(setup.source), target)
    before = {info.path.text: (info.id, info.md5) for info in services.store.list_tree(owner, ROOT)}
    assert len(before) == 1 + 4 + 24  # tree, its folders, their files

    # Another client deletes a file in the same minutes: not rclone's, so it stays deleted.
    other = requests.Session()
    other.auth = ("rcloner", "rclone-pw")
    answer = other.delete(server.url("/dav/tree/docs/file 3.bin"))
    assert answer.status_code == 204
    started = time.time()
    empty = tmp_path / "empty"
    empty.mkdir()
    rclone(setup, "sync", str(empty), target)
    finished = time.time()
    assert [info.path.text for info in services.store.list_files(owner, ROOT)] == []

    api = server.url("/davfiles/api/trash")
    headers = {"Authorization": f"Bearer {token}"}
    who = {"door": "webdav", "agent": "rclone", "since": started - 1, "until": finished + 1}
    found = requests.get(api, params=who, headers=headers, timeout=30).json()["items"]
    assert found and {item["agent"].split("/")[0] for item in found} == {"rclone"}
    restored = requests.post(
        api + "/restore", json={"all": True, **who}, headers=headers, timeout=30
    )
    assert restored.status_code == 200, restored.text
    assert restored.json()["failed"] == []

    # Every file and folder is back under its name with its id (folders first, so no
    # "(restored)" copies), with its bytes.
    after = {info.path.text: (info.id, info.md5) for info in services.store.list_tree(owner, ROOT)}
    del before["tree/docs/file 3.bin"]
    assert after == before
    for info in services.store.list_files(owner, ROOT):
        data = (setup.source / info.path.text.removeprefix("tree/")).read_bytes()
        assert info.md5 == hashlib.md5(data).hexdigest(), info.path
    [left] = requests.get(api, headers=headers, timeout=30).json()["items"]
    assert (left["path"], left["door"]) == ("/tree/docs/file 3.bin", "webdav")
    assert left["agent"].startswith("python-requests/")
