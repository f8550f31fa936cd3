"""The cap on concurrent uploads per user: 429 with Retry-After, held in the database.

Uploads are held open by real HTTP clients that send part of a body and wait; the slots they
hold are counted in the database, where every worker process sees them.
"""

from __future__ import annotations

import http.client
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import create_engine, func, select, update

from davfiles.app import Services
from davfiles.config import Settings
from davfiles.db.models import UploadSlot
from davfiles.store import ROOT, Owner
from tests.harness import CliServer, LiveServer, TestUser, WSGIApp
from tests.security.rawhttp import basic
from tests.shared_log import SharedLog

CAP = 3
BODY = 256 * 1024
FIRST_PART = 1024
DEADLINE = 30.0


@pytest.fixture
def settings(tmp_path: Path, database_url: str | None) -> Settings:
    return Settings(data_dir=tmp_path / "data", database_url=database_url, max_uploads_per_user=CAP)


class HeldPut:
    """A WebDAV PUT whose body stops after its first part until ``finish`` sends the rest."""

    def __init__(self, port: int, user: TestUser, path: str) -> None:
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.connection.putrequest("PUT", path)
        self.connection.putheader("Authorization", basic(user))
        self.connection.putheader("Content-Length", str(BODY))
        self.connection.endheaders()
        self.connection.send(b"h" * FIRST_PART)

    def finish(self) -> int:
        self.connection.send(b"h" * (BODY - FIRST_PART))
        response = self.connection.getresponse()
        response.read()
        self.connection.close()
        return response.status

    def abort(self) -> None:
        self.connection.close()


def slots_taken(server: LiveServer | None, url: str | None = None) -> int:
    if server is not None:
        with server.services.db.read() as session:
            return session.scalar(select(func.count()).select_from(UploadSlot)) or 0
    engine = create_engine(url or "")
    try:
        with engine.connect() as connection:
            return connection.scalar(select(func.count()).select_from(UploadSlot)) or 0
    finally:
        engine.dispose()


def wait_for_slots(count: int, server: LiveServer | None, url: str | None = None) -> None:
    deadline = time.monotonic() + DEADLINE
    while slots_taken(server, url) != count:
        assert time.monotonic() < deadline, f"never {count} upload slots taken"
        time.sleep(0.05)


def hold_uploads(server: LiveServer, user: TestUser, count: int) -> list[HeldPut]:
    held = [HeldPut(server.port, user, f"/dav/held-{number}.bin") for number in range(count)]
    wait_for_slots(count, server)
    return held


def assert_busy(response: requests.Response) -> None:
    assert response.status_code == 429, response.text
    assert int(response.headers["Retry-After"]) >= 1
    assert "Traceback" not in response.text


def test_uploads_over_the_cap_get_429_over_webdav_and_every_dialect(
    live_server: LiveServer,
) -> None:
    alice = live_server.add_user("alice")
    bob = live_server.add_user("bob")
    held = hold_uploads(live_server, alice, CAP)
    auth = alice.auth
    assert_busy(requests.put(live_server.url("/dav/late.txt"), data=b"late", auth=auth, timeout=30))
    assert_busy(
        requests.put(
            live_server.url("/remote.php/dav/files/alice/late.txt"),
            data=b"late",
            auth=auth,
            timeout=30,
        )
    )
    # A Nextcloud chunk is an upload too.
    chunks = live_server.url("/remote.php/dav/uploads/alice/late-chunks")
    assert requests.request("MKCOL", chunks, auth=auth, timeout=30).status_code == 201
    assert_busy(requests.put(chunks + "/00001", data=b"late", auth=auth, timeout=30))
    multipart = {"file": ("late.txt", b"late")}
    refused = [
        requests.put(
            live_server.url("/backend/upload_file/"), files=multipart, auth=auth, timeout=30
        ),
        requests.post(live_server.url("/api/files/late"), files=multipart, auth=auth, timeout=30),
        requests.put(live_server.url("/1/file/late.txt"), data=b"late", auth=auth, timeout=30),
        requests.post(
            live_server.url("/molgenis/api/files"),
            data=b"late",
            headers={"x-molgenis-filename": "late.txt"},
            auth=auth,
            timeout=30,
        ),
        requests.post(
            live_server.url("/defdrive/api/upload"), files=multipart, auth=auth, timeout=30
        ),
    ]
    for response in refused:
        assert_busy(response)
        assert response.json()
    # The cap is per user: bob is not held back by alice's uploads.
    bob_put = requests.put(live_server.url("/dav/bob.txt"), data=b"bob", auth=bob.auth, timeout=30)
    assert bob_put.status_code == 201
    assert [upload.finish() for upload in held] == [201] * CAP
    assert slots_taken(live_server) == 0
    store = live_server.services.store
    # Nothing of the refused uploads was stored (aptly makes its folder first: no file in it).
    names = sorted(info.path.text for info in store.list_files(alice.owner))
    assert names == [f"held-{number}.bin" for number in range(CAP)]
    assert store.usage(alice.owner).used_bytes == CAP * BODY
    after = requests.put(live_server.url("/dav/after.txt"), data=b"after", auth=auth, timeout=30)
    assert after.status_code == 201


class RefusalCounter:
    """Wraps the app to count 429 answers as they are decided, before any body is drained;
    into a shared file, so worker processes count too."""

    def __init__(self, log: SharedLog) -> None:
        self._log = log

    @property
    def refused(self) -> int:
        return len(self._log.records())

    def wrap(self, app: WSGIApp) -> WSGIApp:
        def counted(environ: dict[str, Any], start_response: Any) -> Any:
            def start(status: str, headers: Any, exc_info: Any = None) -> Any:
                if status.startswith("429"):
                    self._log.append({"status": 429})
                return start_response(status, headers, exc_info)

            return app(environ, start)

        return counted


def test_parallel_clients_never_get_more_than_the_cap(services: Services, tmp_path: Path) -> None:
    counter = RefusalCounter(SharedLog(tmp_path / "refusals.jsonl"))
    server = LiveServer(services, wrap=counter.wrap)
    try:
        alice = server.add_user("alice")
        clients = 10
        statuses: list[int] = []
        uploads: list[HeldPut] = []
        lock = threading.Lock()
        barrier = threading.Barrier(clients)

        def client(number: int) -> None:
            barrier.wait(timeout=DEADLINE)
            upload = HeldPut(server.port, alice, f"/dav/race-{number}.bin")
            with lock:
                uploads.append(upload)
            response = upload.connection.getresponse()
            response.read()
            with lock:
                statuses.append(response.status)

        threads = [threading.Thread(target=client, args=(n,), daemon=True) for n in range(clients)]
        for thread in threads:
            thread.start()
        # Every request has been decided: CAP hold a slot, the others were refused.
        deadline = time.monotonic() + DEADLINE
        while counter.refused < clients - CAP or slots_taken(server) < CAP:
            assert time.monotonic() < deadline, f"{counter.refused} refused"
            time.sleep(0.05)
        assert slots_taken(server) == CAP
        with lock:
            for upload in uploads:
                upload.connection.send(b"h" * (BODY - FIRST_PART))
        for thread in threads:
            thread.join(timeout=DEADLINE)
        assert sorted(statuses) == [201] * CAP + [429] * (clients - CAP)
        assert len(services.store.list_dir(alice.owner, ROOT)) == CAP
        assert slots_taken(server) == 0
    finally:
        server.stop()


def test_an_aborted_upload_gives_its_slot_back(live_server: LiveServer) -> None:
    alice = live_server.add_user("alice")
    held = hold_uploads(live_server, alice, CAP)
    held[0].abort()
    wait_for_slots(CAP - 1, live_server)
    put = requests.put(live_server.url("/dav/next.txt"), data=b"next", auth=alice.auth, timeout=30)
    assert put.status_code == 201
    assert [upload.finish() for upload in held[1:]] == [201] * (CAP - 1)


def test_the_slots_of_a_killed_server_bind_the_next_and_expire(
    tmp_path: Path, database_url: str | None
) -> None:
    data = tmp_path / "data"
    url = database_url or f"sqlite:///{(data / 'davfiles.sqlite3').resolve()}"
    env = {"DAVFILES_MAX_UPLOADS_PER_USER": "2", "DAVFILES_DATABASE_URL": url}
    server = CliServer(data, tmp_path / "first.log", env=env)
    # The first start creates the user admin (id 1) and prints its password.
    admin = TestUser("admin", server.admin_password, Owner(1, "admin"))
    held = [HeldPut(server.port, admin, f"/dav/held-{number}.bin") for number in range(2)]
    wait_for_slots(2, None, url)
    server.kill()
    for upload in held:
        upload.abort()
    restarted = CliServer(data, tmp_path / "second.log", env=env)
    try:
        target = f"{restarted.base}/dav/after.txt"
        auth = admin.auth
        # Another process's slots count: the cap is not one process's memory.
        assert_busy(requests.put(target, data=b"after", auth=auth, timeout=30))
        # Once the killed uploads' leases run out, their slots free themselves.
        engine = create_engine(url)
        with engine.begin() as connection:
            connection.execute(update(UploadSlot).values(expires_at=time.time() - 1))
        engine.dispose()
        assert requests.put(target, data=b"after", auth=auth, timeout=30).status_code == 201
        assert slots_taken(None, url) == 0
    finally:
        restarted.stop()
