"""davfs2: the home mounted as a Linux file system; df shows the user's quota."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from davfiles.store import ROOT
from tests.clients.davfs import davfs_mounted
from tests.harness import LiveServer, TestUser

QUOTA = 64 * 1024 * 1024


@pytest.fixture
def mounted(live_server: LiveServer, tmp_path: Path) -> Iterator[tuple[Path, TestUser]]:
    user = live_server.add_user("mounter", "mount-pw", max_bytes=QUOTA)
    with davfs_mounted(live_server.url("/dav/"), "mounter", "mount-pw", tmp_path) as mountpoint:
        yield mountpoint, user


def test_copy_list_stat_rename_delete_and_df(
    mounted: tuple[Path, TestUser], live_server: LiveServer
) -> None:
    mountpoint, user = mounted
    (mountpoint / "folder").mkdir()
    payload = os.urandom(300_000)
    (mountpoint / "folder" / "data.bin").write_bytes(payload)
    assert sorted(os.listdir(mountpoint / "folder")) == ["data.bin"]
    assert (mountpoint / "folder" / "data.bin").stat().st_size == len(payload)
    os.rename(mountpoint / "folder" / "data.bin", mountpoint / "folder" / "renamed.bin")
    assert (mountpoint / "folder" / "renamed.bin").read_bytes() == payload
    subprocess.run(["sync", "-f", str(mountpoint)], check=False, timeout=120)
    store = live_server.services.store
    stored = {info.path.text: info.size for info in store.list_files(user.owner)}
    assert stored == {"folder/renamed.bin": len(payload)}
    stats = os.statvfs(mountpoint)
    total = stats.f_blocks * stats.f_frsize
    assert abs(total - QUOTA) <= stats.f_frsize, (total, QUOTA)
    os.remove(mountpoint / "folder" / "renamed.bin")
    os.rmdir(mountpoint / "folder")
    subprocess.run(["sync", "-f", str(mountpoint)], check=False, timeout=120)
    assert store.list_dir(user.owner, ROOT) == []
