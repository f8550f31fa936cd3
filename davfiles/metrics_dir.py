"""Where the worker processes of one server keep their metrics, and the listener reporting them.

``prometheus_client``'s multi-process mode: each process writes its values to files in the
folder named by ``PROMETHEUS_MULTIPROC_DIR`` (read when ``prometheus_client`` is imported, so
the variable is set before any worker builds its application), and a reader sums the files.
The process that owns the port (the supervisor of several workers, or the one process)
creates the folder ``data_dir/run/metrics-<host>-<pid>`` (several servers may share a data
dir), reports from it on ``metrics_listen``, tells ``prometheus_client`` when a worker ended
(its "uploads in progress" no longer count) and removes the folder when it stops. Folders of
servers on this host that no longer run are removed at start.

This module imports ``prometheus_client`` only to serve or to mark a worker dead, so that the
supervisor stays lean when nothing asks for metrics.
"""

from __future__ import annotations

import os
import shutil
import socket
import sys
from pathlib import Path
from typing import Any

from davfiles.config import Settings, parse_listen_address

ENV = "PROMETHEUS_MULTIPROC_DIR"
_PREFIX = "metrics-"


def current() -> str | None:
    """The folder this process's metrics go to (set by ``MetricsDir``), or None."""
    return os.environ.get(ENV) or None


class MetricsDir:
    """The metrics folder of one server; see the module docstring."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._server: Any = None

    @classmethod
    def create(cls, settings: Settings) -> MetricsDir | None:
        """The folder for this server (None when metrics are off), empty, named in the environ
        for ``prometheus_client`` in this process and every worker forked from it."""
        if not settings.metrics_enabled:
            return None
        run = settings.data_dir.resolve() / "run"
        run.mkdir(parents=True, exist_ok=True)
        host = socket.gethostname()
        _remove_stale(run, host)
        path = run / f"{_PREFIX}{host}-{os.getpid()}"
        shutil.rmtree(path, ignore_errors=True)
        path.mkdir(mode=0o700)
        os.environ[ENV] = str(path)
        return cls(path)

    def listen_and_announce(self, address: str | None) -> bool:
        """Serve the metrics on ``address`` (host:port; None: nowhere) in a thread and print
        where; False (and one line on stderr) when the address cannot be bound."""
        if address is None:
            return True
        try:
            url = self._listen(address)
        except OSError as exc:
            print(f"davfiles: cannot serve metrics on {address}: {exc.strerror}", file=sys.stderr)
            return False
        print(f"davfiles metrics on {url}", flush=True)
        return True

    def _listen(self, address: str) -> str:
        from prometheus_client import CollectorRegistry, start_http_server
        from prometheus_client.multiprocess import MultiProcessCollector

        registry = CollectorRegistry()
        MultiProcessCollector(registry, str(self.path))
        host, port = parse_listen_address(address)
        self._server, _thread = start_http_server(port, host, registry)
        bound_host, bound_port = self._server.server_address[:2]
        shown = f"[{bound_host}]" if ":" in bound_host else bound_host
        return f"http://{shown}:{bound_port}/metrics"

    def worker_ended(self, pid: int) -> None:
        from prometheus_client.multiprocess import mark_process_dead

        mark_process_dead(pid, str(self.path))

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        shutil.rmtree(self.path, ignore_errors=True)
        if os.environ.get(ENV) == str(self.path):
            del os.environ[ENV]


def _remove_stale(run: Path, host: str) -> None:
    """Folders of this host's servers whose process is gone (killed without cleaning up)."""
    for folder in run.glob(f"{_PREFIX}{host}-*"):
        pid = folder.name.rsplit("-", 1)[1]
        if pid.isdigit() and not _running(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
