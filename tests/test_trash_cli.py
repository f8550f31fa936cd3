"""``davfiles trash`` and ``davfiles versions``: an admin lists, restores and purges a user's
trash and lists, labels and restores versions, from the command line, on a real data dir."""

from __future__ import annotations

import json
from pathlib import Path

from davfiles.app import create_services
from davfiles.config import Settings
from davfiles.store import Owner, parse_user_path
from tests.harness import LiveServer, TestUser
from tests.test_cli import assert_one_line_error, davfiles


def prepared(data_dir: Path) -> tuple[Owner, int]:
    """A user with two files deleted from /sync, one elsewhere, and a file with a version."""
    services = create_services(Settings(data_dir=data_dir))
    try:
        owner = services.accounts.add_user("erin", "pw", max_bytes=None, max_files=None)
        store = services.store
        store.ensure_dirs(owner, parse_user_path("/sync"))
        for name in ("/sync/a.txt", "/sync/b.txt", "/other.txt"):
            store.write_bytes(owner, parse_user_path(name), name.encode())
            store.delete(owner, parse_user_path(name))
        info = store.write_bytes(owner, parse_user_path("/doc.txt"), b"first")
        store.write_bytes(owner, parse_user_path("/doc.txt"), b"second")
        return owner, info.id
    finally:
        services.close()


def test_trash_list_restore_by_folder_and_purge(tmp_path: Path) -> None:
    data = tmp_path / "data"
    prepared(data)
    listed = davfiles(data, "trash", "list", "erin")
    assert listed.returncode == 0, listed.stderr
    assert [line.split()[-1] for line in listed.stdout.splitlines()[1:]] == [
        "/other.txt",
        "/sync/b.txt",
        "/sync/a.txt",
    ]
    assert_one_line_error(davfiles(data, "trash", "restore", "erin"), "--all")
    restored = davfiles(data, "trash", "restore", "erin", "--all", "--folder", "/sync")
    assert restored.returncode == 0, restored.stderr
    assert sorted(line.split()[-1] for line in restored.stdout.splitlines()) == [
        "/sync/a.txt",
        "/sync/b.txt",
    ]
    assert (data / "users" / "erin" / "sync" / "a.txt").read_bytes() == b"/sync/a.txt"
    purged = davfiles(data, "trash", "purge", "erin", "--all")
    assert purged.returncode == 0, purged.stderr
    assert "deleted 1 trash items for good (10 bytes)" in purged.stdout
    assert davfiles(data, "trash", "list", "erin").stdout.splitlines()[1:] == []
    audit = [json.loads(line) for line in (data / "audit.log").read_text().splitlines()]
    assert [line["target"] for line in audit if line["event"] == "trash.purge"] == [
        "/other.txt (deleted by hand)"
    ]
    assert_one_line_error(davfiles(data, "trash", "list", "nobody"), "nobody")


def test_versions_list_label_and_restore(tmp_path: Path) -> None:
    data = tmp_path / "data"
    prepared(data)
    listed = davfiles(data, "versions", "list", "erin", "/doc.txt")
    assert listed.returncode == 0, listed.stderr
    [row] = listed.stdout.splitlines()[1:]
    version_id = row.split()[0]
    assert row.split()[3] == "5"
    labelled = davfiles(data, "versions", "label", "erin", version_id, "before the edit")
    assert labelled.returncode == 0, labelled.stderr
    assert "before the edit" in davfiles(data, "versions", "list", "erin", "/doc.txt").stdout
    restored = davfiles(data, "versions", "restore", "erin", version_id)
    assert restored.returncode == 0, restored.stderr
    assert (data / "users" / "erin" / "doc.txt").read_bytes() == b"first"
    rows = davfiles(data, "versions", "list", "erin", "/doc.txt").stdout.splitlines()[1:]
    assert len(rows) == 2  # the restore kept "second" as a version
    assert_one_line_error(davfiles(data, "versions", "restore", "erin", "999"), "no version 999")
    assert_one_line_error(davfiles(data, "versions", "list", "erin", "/none"), "no file")


def test_trash_restore_reports_an_item_that_fails_and_restores_the_others(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    owner, _file_id = prepared(data)
    services = create_services(Settings(data_dir=data))
    try:
        store = services.store
        store.delete(owner, parse_user_path("/sync"))
        store.write_bytes(owner, parse_user_path("/sync"), b"a file now")
    finally:
        services.close()
    # --folder takes the folder itself too (it comes back under a free name); its files
    # cannot, their folder's name being a file's now, and stop no other.
    restored = davfiles(data, "trash", "restore", "erin", "--all", "--folder", "/sync")
    assert restored.returncode == 1
    assert restored.stdout.strip().endswith(" to /sync (restored)")
    failures = [line for line in restored.stderr.splitlines() if "could not restore" in line]
    assert len(failures) == 2 and all("is a file" in line for line in failures)
    left = davfiles(data, "trash", "restore", "erin", "--all")
    assert left.returncode == 1
    assert [line.split()[-1] for line in left.stdout.splitlines()] == ["/other.txt"]


def test_trash_list_and_restore_by_door_and_agent(tmp_path: Path) -> None:
    """Deletes through a live server name their door and User-Agent; the command line
    selects rclone's by them, beside those from the command line's own store (no door)."""
    data = tmp_path / "data"
    owner, _file_id = prepared(data)
    services = create_services(Settings(data_dir=data))
    server = LiveServer(services)
    try:
        session = server.session(TestUser("erin", "pw", owner))
        for name, agent in (("r1", "rclone/v1.60.1"), ("r2", "rclone/v1.60.1"), ("w", "curl")):
            assert session.put(server.url(f"/dav/{name}.txt"), data=b"x").status_code == 201
            answer = session.delete(server.url(f"/dav/{name}.txt"), headers={"User-Agent": agent})
            assert answer.status_code == 204
    finally:
        server.stop()
        services.close()
    listed = davfiles(data, "trash", "list", "erin", "--door", "webdav")
    assert listed.returncode == 0, listed.stderr
    rows = [line.split() for line in listed.stdout.splitlines()[1:]]
    assert [(row[-2], row[-1]) for row in rows] == [
        ("webdav", "/w.txt"),
        ("webdav", "/r2.txt"),
        ("webdav", "/r1.txt"),
    ]
    restored = davfiles(data, "trash", "restore", "erin", "--all", "--agent", "RClone")
    assert restored.returncode == 0, restored.stderr
    assert sorted(line.split()[-1] for line in restored.stdout.splitlines()) == [
        "/r1.txt",
        "/r2.txt",
    ]
    left = davfiles(data, "trash", "list", "erin").stdout.splitlines()[1:]
    assert [line.split()[-2:] for line in left] == [
        ["webdav", "/w.txt"],
        ["-", "/other.txt"],
        ["-", "/sync/b.txt"],
        ["-", "/sync/a.txt"],
    ]
