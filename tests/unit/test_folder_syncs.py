"""Uploads ending in one folder at once share its syncs, and none returns before a sync that
began after its rename has ended."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from davfiles import durable
from davfiles.durable import FolderSyncs


def test_renames_into_one_folder_share_syncs_and_each_waits_for_one_after_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "folder"
    folder.mkdir()
    syncs: list[tuple[float, float]] = []
    real_fsync_path = durable.fsync_path

    def slow_fsync_path(path: Path, *, folder: bool = False) -> None:
        """The real sync, timed, and as slow as a busy disk's."""
        started = time.monotonic()
        real_fsync_path(path, folder=folder)
        time.sleep(0.02)
        syncs.append((started, time.monotonic()))

    monkeypatch.setattr(durable, "fsync_path", slow_fsync_path)
    folders = FolderSyncs()
    callers = 12
    start = threading.Barrier(callers)
    renamed: dict[int, tuple[float, float]] = {}

    def upload(number: int) -> None:
        staged = tmp_path / f"staged-{number}"
        staged.write_bytes(b"x")
        start.wait(timeout=10)
        os.rename(staged, folder / f"file-{number}")
        done_at = time.monotonic()
        folders.sync(folder)
        renamed[number] = (done_at, time.monotonic())

    threads = [threading.Thread(target=upload, args=(number,)) for number in range(callers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
        assert not thread.is_alive()
    assert len(renamed) == callers
    assert 1 <= len(syncs) < callers
    for done_at, returned_at in renamed.values():
        assert any(done_at <= began and ended <= returned_at for began, ended in syncs)
    assert folders._active == {}
    assert sorted(os.listdir(folder)) == sorted(f"file-{number}" for number in range(callers))
