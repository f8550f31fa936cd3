"""The SQLite writer queue excludes writers across forked processes and threads alike."""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from pathlib import Path

from davfiles.db.writer_queue import WriterQueue

ROUNDS = 30


def _write_rounds(queue: WriterQueue, log: Path) -> None:
    """Each round writes an enter and an exit line while it holds the queue."""
    for _ in range(ROUNDS):
        with queue, queue:  # re-entrant
            with log.open("a") as out:
                out.write(f"enter {os.getpid()} {threading.get_ident()}\n")
            time.sleep(0.001)
            with log.open("a") as out:
                out.write(f"exit {os.getpid()} {threading.get_ident()}\n")


def _in_child(queue: WriterQueue, log: Path) -> None:
    threads = [threading.Thread(target=_write_rounds, args=(queue, log)) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)


def test_writers_of_forked_processes_never_overlap(tmp_path: Path) -> None:
    # Opened before the fork, as a server opens its database before forking its workers.
    queue = WriterQueue(tmp_path / "db-writers.lock")
    with queue:
        pass
    log = tmp_path / "log"
    context = multiprocessing.get_context("fork")
    children = [context.Process(target=_in_child, args=(queue, log)) for _ in range(3)]
    for child in children:
        child.start()
    for child in children:
        child.join(120)
        assert child.exitcode == 0
    lines = log.read_text().splitlines()
    assert len(lines) == 3 * 2 * ROUNDS * 2
    holders = {line.split(" ", 1)[1] for line in lines}
    assert len(holders) == 6
    for enter, leave in zip(lines[::2], lines[1::2], strict=True):
        assert enter.startswith("enter ") and leave.startswith("exit ")
        assert enter.split(" ", 1)[1] == leave.split(" ", 1)[1]
    queue.close()
