"""rclone (Debian's build) on a share link's public WebDAV: lists and copies a view link
with its password, uploads through an edit link, and is refused writes on a view link."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.harness import LiveServer
from tests.links.helpers import make_link

pytestmark = pytest.mark.skipif(
    shutil.which("rclone") is None,
    reason="rclone is not installed (the test command installs Debian's rclone when run as root)",
)


def rclone(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["rclone", "--config", "/dev/null", "--low-level-retries", "1", "--retries", "1", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def remote(
    server: LiveServer, token: str, password: str | None = None, vendor: str = "other"
) -> str:
    url = server.url(f"/public.php/dav/files/{token}/")
    spec = f":webdav,url='{url}',vendor={vendor}"
    if password is not None:
        obscured = rclone("obscure", password).stdout.strip()
        spec += f",user=visitor,pass='{obscured}'"
    return spec + ":"


def test_rclone_reads_a_view_link_and_writes_through_an_edit_link(
    live_server: LiveServer, tmp_path: Path
) -> None:
    alice = live_server.add_user("alice")
    dav = live_server.session(alice)
    assert dav.request("MKCOL", live_server.url("/dav/share")).status_code == 201
    assert dav.request("MKCOL", live_server.url("/dav/share/sub dir")).status_code == 201
    assert dav.put(live_server.url("/dav/share/a.txt"), data=b"alpha").ok
    assert dav.put(live_server.url("/dav/share/sub%20dir/b%23.txt"), data=b"beta").ok
    view = make_link(live_server, alice, "share", password="pw")

    listed = rclone("lsjson", "-R", remote(live_server, view.token, "pw"))
    assert listed.returncode == 0, listed.stderr
    files = {entry["Path"]: entry for entry in json.loads(listed.stdout)}
    assert sorted(files) == ["a.txt", "sub dir", "sub dir/b#.txt"]
    assert files["a.txt"]["Size"] == 5 and files["sub dir"]["IsDir"] is True

    copied = rclone("copy", remote(live_server, view.token, "pw"), str(tmp_path / "copy"))
    assert copied.returncode == 0, copied.stderr
    assert (tmp_path / "copy" / "sub dir" / "b#.txt").read_bytes() == b"beta"

    assert rclone("lsjson", remote(live_server, view.token, "wrong")).returncode != 0
    local = tmp_path / "new.txt"
    local.write_bytes(b"new content")
    refused = rclone("copyto", str(local), remote(live_server, view.token, "pw") + "new.txt")
    assert refused.returncode != 0

    edit = make_link(live_server, alice, "share", "edit")
    sent = rclone("copyto", str(local), remote(live_server, edit.token) + "sub dir/new.txt")
    assert sent.returncode == 0, sent.stderr
    stored = dav.get(live_server.url("/dav/share/sub%20dir/new.txt"))
    assert stored.content == b"new content"


@pytest.mark.parametrize("vendor", ["other", "nextcloud"])
def test_rclone_copies_on_the_server_through_an_edit_link(
    live_server: LiveServer, vendor: str
) -> None:
    alice = live_server.add_user("alice")
    dav = live_server.session(alice)
    assert dav.request("MKCOL", live_server.url("/dav/share")).status_code == 201
    assert dav.put(live_server.url("/dav/share/a.txt"), data=b"alpha").ok
    edit = make_link(live_server, alice, "share", "edit")
    where = remote(live_server, edit.token, vendor=vendor)
    copied = rclone("copyto", "-vv", where + "a.txt", where + "copy of a.txt")
    assert copied.returncode == 0, copied.stderr
    assert "server-side copy" in copied.stderr
    stored = dav.get(live_server.url("/dav/share/copy%20of%20a.txt"))
    assert stored.content == b"alpha"
    listed = rclone("lsjson", "--hash", where)
    assert listed.returncode == 0, listed.stderr
    hashes = {entry["Path"]: entry.get("Hashes", {}) for entry in json.loads(listed.stdout)}
    if vendor == "nextcloud":  # which reads oc:checksums
        assert hashes["a.txt"]["sha1"] == hashes["copy of a.txt"]["sha1"] != ""
