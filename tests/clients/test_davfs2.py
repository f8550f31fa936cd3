"""davfs2: the home mounted as a Linux file system; df shows the user's quota."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from davfiles.store import ROOT
from tests.harness import LiveServer, TestUser

QUOTA = 64 * 1024 * 1024


def _cannot_mount_reason() -> str | None:
    if shutil.which("mount.davfs") is None:
        return "davfs2 is not installed (the test command installs it when run as root)"
    if os.geteuid() != 0:
        return "mounting davfs2 needs root"
    if not os.path.exists("/dev/fuse"):
        return "no /dev/fuse on this machine"
    return None


@pytest.fixture
def mounted(live_server: LiveServer, tmp_path: Path) -> Iterator[tuple[Path, TestUser]]:
    reason = _cannot_mount_reason()
    if reason:
        pytest.skip(reason)
    user = live_server.add_user("mounter", "mount-pw", max_bytes=QUOTA)
    url = live_server.url("/dav/")
    conf_dir = tmp_path / "davfs"
    conf_dir.mkdir()
    secrets = conf_dir / "secrets"
    secrets.write_text(f"{url} mounter mount-pw\n")
    secrets.chmod(0o600)
    conf = conf_dir / "davfs2.conf"
    # buf_size 64: kernels from 6.16 on need it (see shared/CLIENTS.md).
    conf.write_text(f"secrets {secrets}\nbuf_size 64\nuse_locks 1\ndelay_upload 0\n")
    mountpoint = tmp_path / "mnt"
    mountpoint.mkdir()
    result = subprocess.run(
        ["mount", "-t", "davfs", url, str(mountpoint), "-o", f"conf={conf}"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if result.returncode != 0:
        pytest.skip(f"this machine refuses the davfs2 mount: {result.stderr.strip()}")
    try:
        yield mountpoint, user
    finally:
        subprocess.run(["umount", str(mountpoint)], capture_output=True, timeout=120, check=False)


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
