"""GNOME's gio/GVfs (what Nautilus uses) in a private D-Bus session: copy, list, stat,
rename, delete, and the quota as the file system's size."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from davfiles.store import ROOT
from tests.harness import LiveServer

pytestmark = pytest.mark.skipif(
    shutil.which("gio") is None
    or shutil.which("dbus-run-session") is None
    or not Path("/usr/libexec/gvfsd-dav").exists(),
    reason="gio with the GVfs WebDAV backend is not installed "
    "(the test command installs gvfs-backends, libglib2.0-bin and dbus when run as root)",
)

QUOTA = 32 * 1024 * 1024


def test_gvfs_session(live_server: LiveServer, tmp_path: Path) -> None:
    user = live_server.add_user("gnome", "gnome-pw", max_bytes=QUOTA)
    base = f"dav://127.0.0.1:{live_server.port}/dav"
    source = tmp_path / "report.txt"
    source.write_bytes(b"written by gio\n")
    script = tmp_path / "session.sh"
    script.write_text(
        "set -e\n"
        f"printf 'gnome\\ngnome-pw\\n' | gio mount {base}/\n"
        f"gio mkdir {base}/Documents\n"
        f"gio copy {source} {base}/Documents/report.txt\n"
        f"gio info -a standard::size {base}/Documents/report.txt\n"
        f"gio rename {base}/Documents/report.txt renamed.txt\n"
        f"gio list {base}/Documents/\n"
        f"gio info -f -a filesystem::size {base}/\n"
        f"gio remove {base}/Documents/renamed.txt\n"
        f"gio list {base}/Documents/\n"
        f"gio mount -u {base}/\n"
    )
    result = subprocess.run(
        ["dbus-run-session", "--", "bash", str(script)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    output = result.stdout
    assert "standard::size: 15" in output
    assert "renamed.txt" in output
    assert f"filesystem::size: {QUOTA}" in output
    store = live_server.services.store
    assert store.list_files(user.owner) == []
    assert [info.name for info in store.list_tree(user.owner, ROOT)] == ["Documents"]
