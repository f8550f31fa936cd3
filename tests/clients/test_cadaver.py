"""A scripted cadaver session: the command-line WebDAV client people use from a terminal."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from davfiles.store import parse_user_path
from tests.harness import LiveServer

pytestmark = pytest.mark.skipif(
    shutil.which("cadaver") is None,
    reason="cadaver is not installed (the test command installs Debian's cadaver when run as root)",
)


def test_scripted_session(live_server: LiveServer, tmp_path: Path) -> None:
    user = live_server.add_user("cad", "cad-pw")
    home = tmp_path / "home"
    home.mkdir()
    netrc = home / ".netrc"
    netrc.write_text("machine 127.0.0.1\nlogin cad\npassword cad-pw\n")
    netrc.chmod(0o600)
    upload = tmp_path / "notes.txt"
    upload.write_bytes(b"hello from cadaver\n")
    download = tmp_path / "back.txt"
    script = "\n".join(
        [
            "mkcol docs",
            "cd docs",
            f"put {upload} notes.txt",
            "copy notes.txt copy.txt",
            "move copy.txt moved.txt",
            "propset notes.txt color red",
            "propget notes.txt color",
            "lock notes.txt",
            "unlock notes.txt",
            f"get moved.txt {download}",
            "delete notes.txt",
            "ls",
            "quit",
        ]
    )
    result = subprocess.run(
        ["cadaver", live_server.url("/dav/")],
        input=script,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "HOME": str(home)},
        cwd=tmp_path,
    )
    output = result.stdout + result.stderr
    assert output.count("succeeded") == 10, output
    assert "failed" not in output.lower(), output
    assert "Value of color is: red" in output
    assert download.read_bytes() == b"hello from cadaver\n"
    store = live_server.services.store
    assert [info.name for info in store.list_dir(user.owner, parse_user_path("/docs"))] == [
        "moved.txt"
    ]
