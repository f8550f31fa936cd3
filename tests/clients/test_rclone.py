"""rclone (Debian's build) against a live server in all three WebDAV vendor modes.

The tree has a few hundred files: empty ones, one of 50 MB, names with spaces, '#', '%' and
Unicode in NFC and NFD. Copy, check, listing times and hashes, a second sync that transfers
nothing, and a same-size edit that only the ownCloud/Nextcloud modes can see.
"""

from __future__ import annotations

import collections
import hashlib
import json
import os
import shutil
import subprocess
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from davfiles.app import create_services
from davfiles.config import Settings
from tests.harness import LiveServer, WSGIApp
from tests.shared_log import SharedLog

pytestmark = pytest.mark.skipif(
    shutil.which("rclone") is None,
    reason="rclone is not installed (the test command installs Debian's rclone when run as root)",
)

QUOTA = 2 * 1024**3
BIG = 50 * 1024 * 1024
MTIME_BASE = 1_500_000_000
VENDORS = {
    "other": "/dav/",
    "owncloud": "/remote.php/webdav/",
    "nextcloud": "/remote.php/dav/files/rcloner/",
}


class RequestCounter:
    """Records the method of every request, in a shared file (worker processes count too)."""

    def __init__(self, log: SharedLog) -> None:
        self._log = log

    def wrap(self, app: WSGIApp) -> WSGIApp:
        def counting_app(environ: dict[str, Any], start_response: Any) -> Any:
            self._log.append({"method": environ["REQUEST_METHOD"]})
            return app(environ, start_response)

        return counting_app

    def mark(self) -> int:
        return len(self._log.records())

    def counts_since(self, mark: int) -> dict[str, int]:
        return dict(collections.Counter(r["method"] for r in self._log.records()[mark:]))


@dataclass
class RcloneSetup:
    server: LiveServer
    counter: RequestCounter
    source: Path
    config: Path
    password: str


def build_tree(root: Path) -> int:
    """A few hundred files with awkward names and known times; returns the file count."""
    names = ["plain.txt", "with space.txt", "hash#tag.txt", "per%cent.txt", "plus+sign.txt"]
    names += [
        unicodedata.normalize("NFC", "café-nfc.txt"),
        unicodedata.normalize("NFD", "café-nfd.txt"),
    ]
    count = 0
    for folder_index in range(10):
        folder = root / f"folder {folder_index}" / "deeper #1"
        folder.mkdir(parents=True)
        for file_index in range(28):
            name = f"{file_index:02d} {names[file_index % len(names)]}"
            body = b"" if file_index % 9 == 0 else f"{folder_index}/{file_index}\n".encode() * 7
            (folder / name).write_bytes(body)
            os.utime(folder / name, (MTIME_BASE + count, MTIME_BASE + count))
            count += 1
    with (root / "big.bin").open("wb") as big:
        block = hashlib.sha256(b"davfiles").digest() * 32768
        for _ in range(BIG // len(block)):
            big.write(block)
    os.utime(root / "big.bin", (MTIME_BASE, MTIME_BASE))
    return count + 1


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RcloneSetup]:
    root = tmp_path_factory.mktemp("rclone")
    services = create_services(Settings(data_dir=root / "data"))
    counter = RequestCounter(SharedLog(root / "requests.jsonl"))
    server = LiveServer(services, wrap=counter.wrap)
    try:
        server.add_user("rcloner", "rclone-pw", max_bytes=QUOTA)
        source = root / "source"
        source.mkdir()
        build_tree(source)
        config = root / "rclone.conf"
        config.write_text("")
        yield RcloneSetup(server, counter, source, config, "rclone-pw")
    finally:
        server.stop()
        services.close()


def remote(setup: RcloneSetup, vendor: str) -> str:
    obscured = subprocess.run(
        ["rclone", "obscure", setup.password], capture_output=True, text=True, check=True
    ).stdout.strip()
    url = setup.server.url(VENDORS[vendor])
    return f":webdav,url='{url}',vendor={vendor},user=rcloner,pass={obscured}:"


def rclone(setup: RcloneSetup, *args: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [
            "rclone",
            "--config",
            str(setup.config),
            "--retries",
            "1",
            "--low-level-retries",
            "1",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def copied(result: subprocess.CompletedProcess[str]) -> list[str]:
    return [line for line in result.stderr.splitlines() if ": Copied (" in line]


def local_files(source: Path) -> dict[str, Path]:
    return {str(path.relative_to(source)): path for path in source.rglob("*") if path.is_file()}


@pytest.mark.parametrize("vendor", ["owncloud", "nextcloud"])
def test_efficient_vendors_keep_times_and_hashes(setup: RcloneSetup, vendor: str) -> None:
    target = remote(setup, vendor) + f"{vendor}-tree"
    files = local_files(setup.source)
    mark = setup.counter.mark()
    first = rclone(setup, "copy", str(setup.source), target, "-v")
    counts = setup.counter.counts_since(mark)
    print(f"rclone {vendor}: requests for {len(files)} uploaded files: {counts}")
    assert len(copied(first)) == len(files)
    assert counts["PUT"] == len(files)
    check = rclone(setup, "check", str(setup.source), target)
    assert "0 differences found" in check.stderr
    listing = json.loads(rclone(setup, "lsjson", "-R", "--hash", "--files-only", target).stdout)
    assert len(listing) == len(files)
    for entry in listing:
        path = files[entry["Path"]]
        data = path.read_bytes()
        assert entry["Size"] == len(data)
        listed = datetime.fromisoformat(entry["ModTime"].replace("Z", "+00:00")).timestamp()
        assert abs(listed - path.stat().st_mtime) < 1, entry
        assert entry["Hashes"]["sha1"] == hashlib.sha1(data).hexdigest()
        if vendor == "owncloud":  # rclone's nextcloud mode reads only SHA-1
            assert entry["Hashes"]["md5"] == hashlib.md5(data).hexdigest()
    again = rclone(setup, "sync", str(setup.source), target, "-v")
    assert copied(again) == []


@pytest.mark.parametrize("vendor", ["owncloud", "nextcloud"])
def test_same_size_edit_is_transferred_alone(
    setup: RcloneSetup, vendor: str, tmp_path: Path
) -> None:
    source = tmp_path / "small"
    source.mkdir()
    for index in range(20):
        (source / f"file {index}.txt").write_bytes(b"version one %02d\n" % index)
    target = remote(setup, vendor) + f"{vendor}-edit"
    rclone(setup, "copy", str(source), target)
    edited = source / "file 7.txt"
    edited.write_bytes(b"version two 07\n")
    # rclone compares times to the second: an edit in the second of the copy would look
    # unchanged, so the edit is dated a minute later, as a person's edit would be.
    later = edited.stat().st_mtime + 60
    os.utime(edited, (later, later))
    assert edited.stat().st_size == len(b"version one 07\n")
    result = rclone(setup, "sync", str(source), target, "-v")
    assert [line.split(": Copied")[0].split("INFO  : ")[-1] for line in copied(result)] == [
        "file 7.txt"
    ]


def test_other_vendor_operations_and_about(setup: RcloneSetup) -> None:
    base = remote(setup, "other")
    target = base + "other-tree"
    files = local_files(setup.source)
    assert len(copied(rclone(setup, "copy", str(setup.source), target, "-v"))) == len(files)
    assert "0 differences found" in rclone(setup, "check", str(setup.source), target).stderr
    assert copied(rclone(setup, "sync", str(setup.source), target, "-v")) == []
    rclone(setup, "moveto", target + "/big.bin", base + "moved/big-moved.bin")
    listing = json.loads(rclone(setup, "lsjson", base + "moved").stdout)
    assert [(entry["Name"], entry["Size"]) for entry in listing] == [("big-moved.bin", BIG)]
    rclone(setup, "deletefile", base + "moved/big-moved.bin")
    assert json.loads(rclone(setup, "lsjson", base + "moved").stdout) == []
    rclone(setup, "purge", target)
    about = json.loads(rclone(setup, "about", "--json", base).stdout)
    usage = setup.server.services.store.usage(setup.server.services.accounts.owner("rcloner"))
    # Trash and versions give way to writes: they are free space, not used.
    assert usage.reclaimable_bytes > 0
    assert about["used"] == usage.used_bytes - usage.reclaimable_bytes
    assert about["free"] == usage.available_bytes == QUOTA - about["used"]
    assert about["total"] == QUOTA
