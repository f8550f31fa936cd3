"""davfs2 (which locks every file before writing it) on an edit link's public WebDAV: the
shared folder mounted as a file system, written, renamed and deleted through the link."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from davfiles.store import parse_user_path
from tests.clients.davfs import davfs_mounted
from tests.harness import LiveServer
from tests.links.helpers import make_link


def test_davfs2_writes_through_an_edit_link_with_locks(
    live_server: LiveServer, tmp_path: Path
) -> None:
    alice = live_server.add_user("alice")
    store = live_server.services.store
    store.mkdir(alice.owner, parse_user_path("team"))
    store.write_bytes(alice.owner, parse_user_path("team/old.txt"), b"old")
    store.write_bytes(alice.owner, parse_user_path("team/held.txt"), b"held")
    held = live_server.session(alice).request(
        "LOCK",
        live_server.url("/dav/team/held.txt"),
        data=b'<d:lockinfo xmlns:d="DAV:"><d:lockscope><d:exclusive/></d:lockscope>'
        b"<d:locktype><d:write/></d:locktype></d:lockinfo>",
    )
    assert held.status_code == 200
    link = make_link(live_server, alice, "team", "edit")
    url = live_server.url(f"/public.php/dav/files/{link.token}/")
    with davfs_mounted(url, "visitor", "-", tmp_path) as mountpoint:
        # davfs2 adds its own lost+found, which is never sent to the server.
        assert sorted(set(os.listdir(mountpoint)) - {"lost+found"}) == ["held.txt", "old.txt"]
        # The owner's lock holds: davfs2's own LOCK is refused, and so is the write.
        with pytest.raises(OSError):
            (mountpoint / "held.txt").write_bytes(b"taken over")
        payload = os.urandom(200_000)
        (mountpoint / "new.bin").write_bytes(payload)
        (mountpoint / "old.txt").write_bytes(b"replaced")
        os.rename(mountpoint / "new.bin", mountpoint / "moved.bin")
        subprocess.run(["sync", "-f", str(mountpoint)], check=False, timeout=120)
    names = {info.path.text: info.size for info in store.list_files(alice.owner)}
    assert names == {
        "team/held.txt": len(b"held"),
        "team/moved.bin": len(payload),
        "team/old.txt": len(b"replaced"),
    }
    old = store.stat(alice.owner, parse_user_path("team/old.txt"))
    assert old is not None and [v.size for v in store.versions_of(alice.owner, old.id)] == [3]
