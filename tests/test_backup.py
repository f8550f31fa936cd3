"""Backup and restore: a backup taken by `davfiles backup` while a live server keeps writing
restores into another data dir and database as a deployment that `davfiles fsck --hashes`
finds clean and that serves every record and byte; on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import requests

from davfiles.app import create_services
from davfiles.config import Settings
from davfiles.db import schema
from tests.deployment import NewDatabase, check, config_for, populate
from tests.harness import LiveServer, TestUser
from tests.test_cli import assert_one_line_error, davfiles

# Bounds of the writer running beside the backup.
MAX_WRITES = 3000
MAX_SECONDS = 90.0


class Writer(threading.Thread):
    """PUTs, overwrites, MOVEs and DELETEs in a loop until stopped (bounded in count and
    time); remembers every body it wrote and every status it got."""

    def __init__(self, server: LiveServer, user: TestUser) -> None:
        super().__init__(daemon=True)
        self._server = server
        self._session = server.session(user)
        self._halt = threading.Event()
        self.bodies: set[bytes] = set()
        self.statuses: list[int] = []

    def run(self) -> None:
        deadline = time.monotonic() + MAX_SECONDS
        for step in range(MAX_WRITES):
            if self._halt.is_set() or time.monotonic() > deadline:
                return
            name = f"w{step % 5}.bin"
            url = self._server.url(f"/dav/{name}")
            if step % 7 == 6:
                target = self._server.url(f"/dav/moved-{step % 3}.bin")
                response = self._session.request("MOVE", url, headers={"Destination": target})
            elif step % 11 == 10:
                response = self._session.delete(url)
            else:
                body = f"{step}:".encode() * (100 + 997 * step % 20000)
                self.bodies.add(body)
                response = self._session.put(url, data=body)
            self.statuses.append(response.status_code)

    def wait_for(self, count: int) -> None:
        deadline = time.monotonic() + MAX_SECONDS
        while len(self.statuses) < count and self.is_alive() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(self.statuses) >= count, "the writer stopped early"

    def stop(self) -> None:
        self._halt.set()
        self.join(timeout=30)


def test_a_backup_taken_during_writes_restores_to_a_clean_deployment(
    new_database: NewDatabase, tmp_path: Path
) -> None:
    source_url, target_url = new_database(), new_database()
    source = Settings(data_dir=tmp_path / "source", database_url=source_url)
    destination = tmp_path / "backup"
    services = create_services(source)
    server = LiveServer(services)
    writer = Writer(server, server.add_user("writer"))
    try:
        deployment = populate(server)
        writer.start()
        writer.wait_for(20)
        before = len(writer.statuses)
        made = davfiles(
            source.data_dir,
            "backup",
            str(destination),
            config=config_for(tmp_path / "source.yaml", source_url),
        )
        during = len(writer.statuses) - before
        writer.wait_for(len(writer.statuses) + 20)
    finally:
        writer.stop()
        server.stop()
        services.close()
    assert made.returncode == 0, made.stderr
    assert during > 0, "no write ran while the backup did"
    assert set(writer.statuses) <= {201, 204, 404}, writer.statuses
    manifest = json.loads((destination / "manifest.json").read_text())
    assert manifest["revision"] == schema.head()
    assert manifest["users"] == 3

    target = Settings(data_dir=tmp_path / "restored", database_url=target_url)
    config = config_for(tmp_path / "target.yaml", target_url)
    restored = davfiles(target.data_dir, "restore", str(destination), config=config)
    assert restored.returncode == 0, restored.stderr
    fsck = davfiles(target.data_dir, "fsck", "--hashes", config=config)
    assert fsck.returncode == 0, fsck.stdout
    assert " 0 differences" in fsck.stdout

    services = create_services(target)
    server = LiveServer(services)
    try:
        check(server, deployment)
        owner = services.accounts.owner("writer")
        kept = services.store.list_files(owner)
        assert kept, "the backup holds none of the writer's files"
        session = requests.Session()
        session.auth = ("writer", "secret-pw")
        for info in kept:
            body = session.get(server.url(f"/dav/{info.name}")).content
            assert body in writer.bodies, info.name
    finally:
        server.stop()
        services.close()


def test_backup_and_restore_refuse_what_they_would_overwrite(
    new_database: NewDatabase, tmp_path: Path
) -> None:
    url = new_database()
    config = config_for(tmp_path / "config.yaml", url)
    data_dir = tmp_path / "data"
    assert (
        davfiles(data_dir, "user", "add", "alice", "--password", "pw", config=config).returncode
        == 0
    )
    destination = tmp_path / "backup"
    assert davfiles(data_dir, "backup", str(destination), config=config).returncode == 0
    assert_one_line_error(
        davfiles(data_dir, "backup", str(destination), config=config), "is not empty"
    )
    assert_one_line_error(
        davfiles(data_dir, "restore", str(destination), config=config), "is not empty"
    )
    elsewhere = tmp_path / "elsewhere"
    assert_one_line_error(
        davfiles(elsewhere, "restore", str(destination), config=config),
        "the database is not empty",
    )
    assert_one_line_error(
        davfiles(elsewhere, "restore", str(tmp_path / "nothing"), config=config),
        "holds no davfiles backup",
    )
