"""davfs2 mounts for the tests: a WebDAV URL mounted as a Linux file system in a temporary
folder, with its own secrets and config file (never the system's), unmounted afterwards."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


def cannot_mount_reason() -> str | None:
    if shutil.which("mount.davfs") is None:
        return "davfs2 is not installed (the test command installs it when run as root)"
    if os.geteuid() != 0:
        return "mounting davfs2 needs root"
    if not os.path.exists("/dev/fuse"):
        return "no /dev/fuse on this machine"
    return None


@contextmanager
def davfs_mounted(url: str, user: str, password: str, folder: Path) -> Iterator[Path]:
    """``url`` mounted with davfs2's locks on, as ``user``; the test is skipped where this
    machine cannot mount."""
    reason = cannot_mount_reason()
    if reason:
        pytest.skip(reason)
    conf_dir = folder / "davfs"
    conf_dir.mkdir()
    secrets = conf_dir / "secrets"
    secrets.write_text(f"{url} {user} {password}\n")
    secrets.chmod(0o600)
    conf = conf_dir / "davfs2.conf"
    # buf_size 64: kernels from 6.16 on need it (see shared/CLIENTS.md).
    conf.write_text(f"secrets {secrets}\nbuf_size 64\nuse_locks 1\ndelay_upload 0\n")
    mountpoint = folder / "mnt"
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
        yield mountpoint
    finally:
        subprocess.run(["umount", str(mountpoint)], capture_output=True, timeout=120, check=False)
