"""``davfiles serve`` with several workers: a lean parent, workers that are replaced and that
end with it, and the memory of the whole process tree."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psutil
import pytest
import requests

from tests.harness import CliServer

MIB = 1024 * 1024
WAIT_S = 30.0
# Measured on a 2-core machine: the parent 17 MiB (84 when it had imported the application),
# a worker 64 MiB idle and 75 after the requests below (100-140 when the memory of argon2
# verifications stayed resident). The bounds leave room for other Python builds.
PARENT_MAX_RSS = 40 * MIB
WORKER_MAX_RSS = 110 * MIB
CONCURRENT_LOGINS = 8


@pytest.fixture
def server(tmp_path: Path) -> Iterator[CliServer]:
    """Two workers, whatever DAVFILES_TEST_WORKERS says (the last --workers wins)."""
    started = CliServer(tmp_path / "data", tmp_path / "server.log", args=("--workers", "2"))
    yield started
    started.stop()


def workers(server: CliServer) -> list[psutil.Process]:
    return psutil.Process(server.process.pid).children()


def wait_for(condition: Callable[[], bool]) -> bool:
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False


def put_concurrently(server: CliServer, count: int) -> list[int]:
    """``count`` PUTs on their own connections, released together: with a cold credential
    cache each worker verifies the password (argon2, 19 MiB) in several threads at once."""
    barrier = threading.Barrier(count)
    statuses: list[int] = []

    def put(index: int) -> None:
        with requests.Session() as session:
            barrier.wait(timeout=WAIT_S)
            response = session.put(
                f"{server.base}/dav/file-{index}.txt",
                data=b"x" * 4096,
                auth=("admin", server.admin_password),
                timeout=WAIT_S,
            )
            statuses.append(response.status_code)

    threads = [threading.Thread(target=put, args=(index,)) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=WAIT_S)
    return statuses


def test_the_parent_never_imports_the_application(server: CliServer) -> None:
    """It only holds the port and supervises: no SQLAlchemy, lxml or database in it."""
    parent = psutil.Process(server.process.pid)
    mapped = {region.path for region in parent.memory_maps()}
    assert not [path for path in mapped if "sqlalchemy" in path or "lxml" in path]
    assert not [path for path in mapped if path.endswith(".sqlite3")]
    assert parent.memory_info().rss < PARENT_MAX_RSS
    assert len(workers(server)) == 2


def test_memory_of_every_process_stays_bounded_after_concurrent_logins(
    server: CliServer,
) -> None:
    statuses = put_concurrently(server, CONCURRENT_LOGINS)
    assert statuses == [201] * CONCURRENT_LOGINS
    listing = requests.request(
        "PROPFIND",
        f"{server.base}/dav/",
        headers={"Depth": "1"},
        auth=("admin", server.admin_password),
        timeout=WAIT_S,
    )
    assert listing.status_code == 207
    assert listing.text.count("<D:href>/dav/file-") == CONCURRENT_LOGINS
    assert psutil.Process(server.process.pid).memory_info().rss < PARENT_MAX_RSS
    sizes = {worker.pid: worker.memory_info().rss for worker in workers(server)}
    assert len(sizes) == 2
    assert all(rss < WORKER_MAX_RSS for rss in sizes.values()), {
        pid: rss // MIB for pid, rss in sizes.items()
    }


def test_a_killed_worker_is_replaced_and_the_server_keeps_serving(server: CliServer) -> None:
    victim = workers(server)[0]
    victim.send_signal(signal.SIGKILL)
    victim.wait(timeout=WAIT_S)
    assert wait_for(lambda: len(workers(server)) == 2 and victim not in workers(server))
    # The replacement imports the application before it listens; until then the other
    # worker answers every connection.
    for _ in range(20):
        response = requests.get(
            f"{server.base}/dav/", auth=("admin", server.admin_password), timeout=WAIT_S
        )
        assert response.status_code == 200
    assert f"worker {victim.pid} ended" in server.output()


def test_sigterm_stops_the_parent_and_every_worker(server: CliServer) -> None:
    children = workers(server)
    server.process.send_signal(signal.SIGTERM)
    assert server.process.wait(timeout=WAIT_S) == 0
    gone, alive = psutil.wait_procs(children, timeout=WAIT_S)
    assert not alive
    assert len(gone) == 2


def test_workers_die_with_a_killed_parent(server: CliServer) -> None:
    children = workers(server)
    os.kill(server.process.pid, signal.SIGKILL)
    server.process.wait(timeout=WAIT_S)
    _gone, alive = psutil.wait_procs(children, timeout=WAIT_S)
    assert not alive
