"""The parent of ``davfiles serve`` with several workers: a lean process that only holds the
port, forks the workers and replaces those that die.

The CLI checks the configuration, runs the start-up check and creates the first admin with
everything imported, then replaces itself (``exec``, same pid) by ``python -m
davfiles.supervisor FD``, which imports only the settings and the pool. Each worker imports and
builds the application after the fork. A forked page counts in every process that maps it,
so a parent that had imported the application cost its ~60 MiB once more in the summed
resident memory of the server (the parent: 84 MiB before, 17 now).
"""

from __future__ import annotations

import os
import pickle
import signal
import sys
import tempfile
from collections.abc import Callable
from functools import partial
from typing import NoReturn

from davfiles.config import Settings
from davfiles.logs import configure_logging
from davfiles.malloc import limit_malloc
from davfiles.metrics_dir import MetricsDir
from davfiles.workers import WorkerPool, serve_as_worker, stop_on_sigterm

# Stands for the port in the line announced once the workers listen.
PORT = "{port}"


def exec_supervisor(settings: Settings, workers: int, serving_line: str) -> NoReturn:
    """Replace this process by the lean parent of ``workers`` workers serving ``settings``;
    it prints ``serving_line`` with its ``PORT`` filled in once they listen.

    The settings travel pickled in an unlinked temporary file, never on the command line
    (they may hold a database password).
    """
    handover = tempfile.TemporaryFile()
    handover.write(pickle.dumps((settings, workers, serving_line)))
    handover.flush()
    handover.seek(0)
    fd = handover.fileno()
    os.set_inheritable(fd, True)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, [sys.executable, "-m", "davfiles.supervisor", str(fd)])


def _serve_worker(settings: Settings, port: int, ready: Callable[[], None]) -> None:
    """One worker: its own application, services and database connections.

    Imported here, after the fork, so that the parent never holds them; not through the CLI
    module, whose commands a worker never runs.
    """
    from davfiles.app import create_app, create_services
    from davfiles.server import server_for

    services = create_services(settings)
    server = server_for(settings, create_app(services), port, reuse_port=True)
    services.store.start_keeper(services.audit)
    serve_as_worker(server, ready, services.close)


def main(fd: int) -> int:
    with os.fdopen(fd, "rb") as handover:
        settings, workers, serving_line = pickle.load(handover)
    configure_logging()
    limit_malloc()  # lost with the exec; the forked workers inherit it
    signal.signal(signal.SIGTERM, stop_on_sigterm)
    metrics = MetricsDir.create(settings)  # before the fork: the workers write there
    pool = WorkerPool(
        settings.host,
        settings.port,
        workers,
        partial(_serve_worker, settings),
        metrics.worker_ended if metrics else None,
    )
    try:
        port = pool.start()
        if metrics is not None and not metrics.listen_and_announce(settings.metrics_listen):
            return 1
        print(serving_line.replace(PORT, str(port)), flush=True)
        pool.supervise()
    except KeyboardInterrupt:
        pass
    finally:
        pool.stop()
        if metrics is not None:
            metrics.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(int(sys.argv[1])))
