"""What servers sharing one data dir rely on: the server lock, the sweep of stale staging
entries only, and one JWT secret however many start at once."""

from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from davfiles.auth.login_tokens import load_or_create_secret
from davfiles.instances import ServerLock
from davfiles.store.blobs import sweep_staging


def test_a_server_is_alone_until_another_holds_the_lock(tmp_path: Path) -> None:
    first = ServerLock(tmp_path)
    assert first.alone()
    first.share()
    second = ServerLock(tmp_path)
    assert not second.alone()
    second.share()
    assert not ServerLock(tmp_path).alone()
    first.close()
    second.close()
    assert ServerLock(tmp_path).alone()


def test_sweep_with_an_age_removes_only_stale_entries(tmp_path: Path) -> None:
    (tmp_path / "fresh-upload").write_bytes(b"in flight")
    stale = tmp_path / "stale-upload"
    stale.write_bytes(b"left over")
    (tmp_path / "stale-dir").mkdir()
    (tmp_path / "stale-dir" / "x").write_bytes(b"trash")
    day_ago = time.time() - 2 * 86400
    for entry in (stale, tmp_path / "stale-dir"):
        os.utime(entry, (day_ago, day_ago))
    assert sweep_staging(tmp_path, 86400) == 2
    assert [entry.name for entry in tmp_path.iterdir()] == ["fresh-upload"]
    assert sweep_staging(tmp_path) == 1
    assert list(tmp_path.iterdir()) == []


def test_servers_starting_at_once_share_one_secret(tmp_path: Path) -> None:
    path = tmp_path / "jwt-secret"
    with ThreadPoolExecutor(8) as pool:
        secrets = set(pool.map(lambda _: load_or_create_secret(path), range(32)))
    assert len(secrets) == 1
    assert len(secrets.pop()) == 64
    assert [entry.name for entry in tmp_path.iterdir()] == ["jwt-secret"]
    assert path.stat().st_mode & 0o777 == 0o600
