"""fsck: every kind of difference between records and disk is found, and repaired without
deleting a byte; the ``davfiles fsck`` command and the check ``davfiles serve`` runs at start."""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from sqlalchemy import update

from davfiles.app import Services, create_services
from davfiles.config import Settings
from davfiles.db.models import Node
from davfiles.store import Owner, parse_user_path
from davfiles.store.fsck import (
    HASH,
    MISSING_ON_DISK,
    NOT_RECORDED,
    ORPHAN_HOME,
    SIZE,
    TREE_SIZE,
    UNSUPPORTED,
    USAGE,
    WRONG_KIND,
    FsckReport,
    Repair,
)
from tests.harness import CliServer
from tests.test_cli import davfiles


@pytest.fixture
def alice(services: Services) -> Owner:
    owner = services.accounts.add_user("alice", "pw", max_bytes=None, max_files=None)
    services.store.mkdir(owner, parse_user_path("/docs"))
    services.store.write_bytes(owner, parse_user_path("/docs/a.txt"), b"alpha")
    services.store.write_bytes(owner, parse_user_path("/b.bin"), b"b" * 100)
    return owner


CRASHING_UPLOAD = """
import os, signal, sys
from pathlib import Path
from davfiles.app import create_services
from davfiles.config import Settings
from davfiles.store import UploadOptions, parse_user_path

data_dir, database_url, user, path, size = sys.argv[1:]
services = create_services(Settings(data_dir=Path(data_dir), database_url=database_url or None))
owner = services.accounts.owner(user)
options = UploadOptions(expected_size=int(size))
services.store.upload(owner, parse_user_path(path), options).write(b"partial")
os.kill(os.getpid(), signal.SIGKILL)
"""


def crash_mid_upload(settings: Settings, user: str, path: str, size: int) -> None:
    """Start an upload in another process and SIGKILL that process in the middle of it."""
    arguments = [str(settings.data_dir), settings.database_url or "", user, path, str(size)]
    crashed = subprocess.run(
        [sys.executable, "-c", CRASHING_UPLOAD, *arguments], capture_output=True, timeout=60
    )
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr


def kinds(report: FsckReport) -> set[tuple[str, str, bool]]:
    return {(finding.kind, finding.path, finding.repaired) for finding in report.findings}


def disk_bytes(root: Path) -> dict[str, bytes]:
    """Every regular file below ``root`` with its content: what no repair may lose."""
    return {
        str(path.relative_to(root)): path.read_bytes()
        for path in root.rglob("*")
        if path.is_file() and not path.is_symlink()
    }


def test_a_store_written_through_the_store_is_clean(services: Services, alice: Owner) -> None:
    report = services.store.fsck(hashes=True)
    assert report.findings == []
    assert report.clean
    assert (report.users, report.files, report.folders) == (1, 2, 1)


def test_files_without_a_record_are_recorded_with_size_and_hashes(
    services: Services, alice: Owner
) -> None:
    home = services.store.home(alice)
    docs_before = services.store.stat(alice, parse_user_path("/docs"))
    (home / "docs" / "found.txt").write_bytes(b"found on disk")
    (home / "new").mkdir()
    (home / "new" / "deep.bin").write_bytes(b"\x00" * 300)
    before = disk_bytes(home)

    report = services.store.fsck()
    assert kinds(report) == {
        (NOT_RECORDED, "/docs/found.txt", False),
        (NOT_RECORDED, "/new", False),
        (NOT_RECORDED, "/new/deep.bin", False),
    }
    assert services.store.stat(alice, parse_user_path("/docs/found.txt")) is None

    repaired = services.store.fsck(repair=Repair.ALL)
    assert kinds(repaired) == {
        (NOT_RECORDED, "/docs/found.txt", True),
        (NOT_RECORDED, "/new", True),
        (NOT_RECORDED, "/new/deep.bin", True),
        (USAGE, "", True),
    }
    found = services.store.stat(alice, parse_user_path("/docs/found.txt"))
    assert found is not None
    assert (found.size, found.content_type) == (13, "text/plain")
    assert found.md5 == hashlib.md5(b"found on disk").hexdigest()
    assert found.sha1 == hashlib.sha1(b"found on disk").hexdigest()
    folder = services.store.stat(alice, parse_user_path("/new"))
    assert folder is not None and folder.is_dir
    assert [info.name for info in services.store.list_dir(alice, parse_user_path("/new"))] == [
        "deep.bin"
    ]
    usage = services.store.usage(alice)
    assert (usage.used_bytes, usage.used_files) == (5 + 100 + 13 + 300, 4)
    # The folders above a repaired record hold its bytes and get a new ETag for sync clients.
    root, docs = (services.store.stat(alice, parse_user_path(p)) for p in ("/", "/docs"))
    assert root is not None and docs is not None and docs_before is not None
    assert (root.tree_size, docs.tree_size, folder.tree_size) == (418, 18, 300)
    assert docs.etag != docs_before.etag
    assert disk_bytes(home) == before
    assert services.store.fsck(hashes=True).findings == []


def test_records_whose_file_vanished_are_dropped(services: Services, alice: Owner) -> None:
    home = services.store.home(alice)
    (home / "b.bin").unlink()
    shutil.rmtree(home / "docs")

    report = services.store.fsck()
    assert kinds(report) == {
        (MISSING_ON_DISK, "/b.bin", False),
        (MISSING_ON_DISK, "/docs", False),
        (MISSING_ON_DISK, "/docs/a.txt", False),
    }
    assert not report.clean

    repaired = services.store.fsck(repair=Repair.ALL)
    assert repaired.clean
    assert services.store.list_tree(alice, parse_user_path("/")) == []
    usage = services.store.usage(alice)
    assert (usage.used_bytes, usage.used_files) == (0, 0)
    assert services.store.fsck().findings == []


def test_sizes_and_hashes_are_taken_from_the_disk(services: Services, alice: Owner) -> None:
    home = services.store.home(alice)
    with (home / "docs" / "a.txt").open("ab") as grown:
        grown.write(b" and more")
    (home / "b.bin").write_bytes(b"c" * 100)
    before = disk_bytes(home)

    cheap = services.store.fsck()
    assert kinds(cheap) == {(SIZE, "/docs/a.txt", False)}
    full = services.store.fsck(hashes=True)
    assert kinds(full) == {(SIZE, "/docs/a.txt", False), (HASH, "/b.bin", False)}

    repaired = services.store.fsck(hashes=True, repair=Repair.ALL)
    assert kinds(repaired) == {
        (SIZE, "/docs/a.txt", True),
        (HASH, "/b.bin", True),
        (USAGE, "", True),
    }
    grown_info = services.store.stat(alice, parse_user_path("/docs/a.txt"))
    assert grown_info is not None
    assert grown_info.size == len(b"alpha and more")
    assert grown_info.md5 == hashlib.md5(b"alpha and more").hexdigest()
    rewritten = services.store.stat(alice, parse_user_path("/b.bin"))
    assert rewritten is not None
    assert rewritten.sha1 == hashlib.sha1(b"c" * 100).hexdigest()
    assert services.store.usage(alice).used_bytes == len(b"alpha and more") + 100
    assert disk_bytes(home) == before
    assert services.store.fsck(hashes=True).findings == []


def test_a_folder_where_the_record_says_file_is_recorded_as_a_folder(
    services: Services, alice: Owner
) -> None:
    home = services.store.home(alice)
    (home / "b.bin").unlink()
    (home / "b.bin").mkdir()
    (home / "b.bin" / "inside.txt").write_bytes(b"inside")

    report = services.store.fsck()
    assert kinds(report) == {
        (WRONG_KIND, "/b.bin", False),
        (NOT_RECORDED, "/b.bin/inside.txt", False),
    }
    repaired = services.store.fsck(repair=Repair.ALL)
    assert kinds(repaired) == {
        (WRONG_KIND, "/b.bin", True),
        (NOT_RECORDED, "/b.bin/inside.txt", True),
        (USAGE, "", True),
    }
    folder = services.store.stat(alice, parse_user_path("/b.bin"))
    assert folder is not None and folder.is_dir
    assert services.store.fsck().findings == []
    assert (home / "b.bin" / "inside.txt").read_bytes() == b"inside"


def test_what_no_record_can_hold_is_reported_and_left_alone(
    services: Services, alice: Owner
) -> None:
    home = services.store.home(alice)
    outside = services.settings.data_dir / "secret"
    outside.write_bytes(b"not alice's")
    (home / "link").symlink_to(outside)
    os.mkfifo(home / "pipe")
    (home / "bad\nname").write_bytes(b"kept")
    (home.parent / "ghost").mkdir()
    (home.parent / "ghost" / "left.txt").write_bytes(b"left behind")

    repaired = services.store.fsck(repair=Repair.ALL)
    assert kinds(repaired) == {
        (UNSUPPORTED, "/link", False),
        (UNSUPPORTED, "/pipe", False),
        (UNSUPPORTED, "/'bad\\nname'", False),
        (ORPHAN_HOME, "", False),
    }
    assert all("\n" not in finding.path for finding in repaired.findings)
    assert not repaired.clean
    assert services.store.stat(alice, parse_user_path("/link")) is None
    assert (home / "link").is_symlink() and (home / "pipe").exists()
    assert (home / "bad\nname").read_bytes() == b"kept"
    assert (home.parent / "ghost" / "left.txt").read_bytes() == b"left behind"
    assert services.store.usage(alice).used_files == 2


def test_a_lost_home_folder_and_root_record_are_recreated(services: Services, alice: Owner) -> None:
    shutil.rmtree(services.store.home(alice))
    report = services.store.fsck(repair=Repair.ALL)
    assert (MISSING_ON_DISK, "/", True) in kinds(report)
    assert report.clean
    assert services.store.home(alice).is_dir()
    assert services.store.fsck().findings == []


def test_usage_of_a_killed_upload_is_recounted_once_its_staging_file_is_gone(
    services: Services, alice: Owner
) -> None:
    """The reservation of an upload killed mid-body stays counted, and its staging file looks
    like an upload in flight, so the counters wait for start-up's sweep to be recounted."""
    crash_mid_upload(services.settings, "alice", "/b.bin", 5000)
    assert services.store.usage(alice).used_bytes == 105 + 4900

    while_staged = services.store.fsck(repair=Repair.ALL)
    assert kinds(while_staged) == {(USAGE, "", False)}
    assert "staging entries" in while_staged.findings[0].detail
    assert while_staged.staging_entries == 1
    assert services.store.usage(alice).used_bytes == 105 + 4900

    assert services.store.sweep_staging() == 1
    recounted = services.store.fsck(repair=Repair.USAGE)
    assert kinds(recounted) == {(USAGE, "", True)}
    usage = services.store.usage(alice)
    assert (usage.used_bytes, usage.used_files) == (105, 2)
    assert services.store.fsck().findings == []


def test_usage_repair_touches_nothing_but_the_counters(services: Services, alice: Owner) -> None:
    home = services.store.home(alice)
    (home / "stray.txt").write_bytes(b"stray")
    (home / "b.bin").unlink()
    report = services.store.fsck(repair=Repair.USAGE)
    assert kinds(report) == {
        (NOT_RECORDED, "/stray.txt", False),
        (MISSING_ON_DISK, "/b.bin", False),
    }
    assert services.store.stat(alice, parse_user_path("/b.bin")) is not None
    assert (home / "stray.txt").read_bytes() == b"stray"


def test_wrong_folder_totals_are_found_and_recounted(services: Services, alice: Owner) -> None:
    with services.db.write() as session:
        session.execute(
            update(Node).where(Node.owner_id == alice.id, Node.name == "docs").values(tree_size=999)
        )
    before = services.store.stat(alice, parse_user_path("/docs"))
    assert kinds(services.store.fsck()) == {(TREE_SIZE, "/docs", False)}
    assert kinds(services.store.fsck(repair=Repair.USAGE)) == {(TREE_SIZE, "/docs", True)}
    after = services.store.stat(alice, parse_user_path("/docs"))
    assert before is not None and after is not None
    assert (after.tree_size, after.etag != before.etag) == (5, True)
    assert services.store.fsck().findings == []


def test_one_user_only(services: Services, alice: Owner) -> None:
    bob = services.accounts.add_user("bob", "pw", max_bytes=None, max_files=None)
    (services.store.home(alice) / "stray").write_bytes(b"x")
    report = services.store.fsck(bob)
    assert report.users == 1
    assert report.findings == []


# --- the command ----------------------------------------------------------------------


def prepared_data_dir(tmp_path: Path) -> Path:
    """A data dir with one user, one file written by the store and one stray file."""
    data = tmp_path / "data"
    services = create_services(Settings(data_dir=data))
    owner = services.accounts.add_user("carol", "pw", max_bytes=None, max_files=None)
    services.store.write_bytes(owner, parse_user_path("/kept.txt"), b"kept")
    services.close()
    (data / "users" / "carol" / "stray.txt").write_bytes(b"stray bytes")
    return data


def test_fsck_command_reports_repairs_and_exits_by_what_remains(tmp_path: Path) -> None:
    data = prepared_data_dir(tmp_path)

    check = davfiles(data, "fsck")
    assert check.returncode == 1, check.stderr
    assert check.stdout.splitlines() == [
        "carol:/stray.txt not-recorded: a file without a record",
        "checked 1 users, 2 files and 0 folders: 1 differences, 0 repaired, 1 remain",
    ]

    repair = davfiles(data, "fsck", "--repair")
    assert repair.returncode == 0, repair.stdout
    lines = repair.stdout.splitlines()
    assert "carol:/stray.txt not-recorded: a file without a record (repaired)" in lines
    assert lines[-1] == (
        "checked 1 users, 2 files and 0 folders: 2 differences, 2 repaired, 0 remain"
    )

    clean = davfiles(data, "fsck", "--hashes", "--user", "carol")
    assert clean.returncode == 0
    assert clean.stdout.splitlines() == [
        "checked 1 users, 2 files and 0 folders: 0 differences, 0 repaired, 0 remain"
    ]
    listing = davfiles(data, "user", "list").stdout.splitlines()
    assert listing[1].split()[:4] == ["carol", str(4 + 11), "unlimited", "2"]
    assert (data / "users" / "carol" / "stray.txt").read_bytes() == b"stray bytes"


def test_fsck_command_errors_are_one_line(tmp_path: Path) -> None:
    data = prepared_data_dir(tmp_path)
    unknown = davfiles(data, "fsck", "--user", "nobody")
    assert unknown.returncode == 1
    assert unknown.stdout == ""
    assert unknown.stderr.strip() == "davfiles: error: no such user: nobody"


def test_serve_recounts_usage_at_start_and_logs_the_rest(tmp_path: Path) -> None:
    data = prepared_data_dir(tmp_path)
    crash_mid_upload(Settings(data_dir=data), "carol", "/big", 999)

    server = CliServer(data, tmp_path / "server.log")
    try:
        log = server.output()
        assert "removed 1 staging leftovers" in log
        assert "start-up check: carol:/stray.txt not-recorded: a file without a record\n" in log
        assert (
            "start-up check: carol: usage: the counters say 1003 bytes in 2 files, "
            "the records hold 4 bytes in 1 files (repaired)"
        ) in log
        assert "2 differences, 1 repaired, 1 remain" in log
        assert "davfiles fsck --repair" in log
        response = requests.get(f"{server.base}/dav/kept.txt", auth=("carol", "pw"), timeout=10)
        assert response.content == b"kept"
    finally:
        server.stop()
    listing = davfiles(data, "user", "list").stdout.splitlines()
    assert listing[1].split()[:4] == ["carol", "4", "unlimited", "1"]
    assert davfiles(data, "fsck").returncode == 1
    assert davfiles(data, "fsck", "--repair").returncode == 0
