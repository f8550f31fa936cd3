"""Several server processes on one port, so requests use every core.

One CPython process runs Python on one core at a time, and davfiles spends most of a small
request in Python. ``WorkerPool`` forks worker processes that each listen on the same port
with ``SO_REUSEPORT``; the kernel spreads new connections across them. A worker keeps nothing
another needs: quota, locks, dead properties, login throttling and credential checks all
live in the database, so any worker can serve any request.

The parent holds the port with a bound socket that never listens (so ``--port 0`` picks one
port for all workers), waits until every worker listens, replaces a worker that dies, and
stops them all on SIGTERM. Workers die with the parent, also when it is killed with SIGKILL.
"""

from __future__ import annotations

import ctypes
import logging
import os
import select
import signal
import socket
import sys
import time
from collections.abc import Callable
from typing import Any

logger = logging.getLogger("davfiles")

READY_TIMEOUT = 60.0
STOP_TIMEOUT = 15.0
RESPAWN_DELAY = 1.0
_PR_SET_PDEATHSIG = 1

# serve_one(port, ready): serve on ``port`` until SIGTERM, calling ready() once listening.
ServeOne = Callable[[int, Callable[[], None]], None]


def worker_count(setting: int) -> int:
    """The configured number of workers; 0 means one per CPU core."""
    return setting or os.cpu_count() or 1


def reserve_port(host: str, port: int) -> socket.socket:
    """A bound, never listening socket in the port's SO_REUSEPORT group.

    It fixes the port number before any worker starts and receives no connections itself.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    return sock


def serve_as_worker(server: Any, ready: Callable[[], None], close: Callable[[], None]) -> None:
    """A worker's life once its server is built: listen, say so, serve until SIGTERM, then
    stop the server and ``close`` what the worker opened (its services)."""
    try:
        server.prepare()
        ready()
        server.serve()
    finally:
        server.stop()
        close()


def _die_with_parent() -> None:
    """Ask Linux to SIGKILL this process when its parent dies, as after a crash."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def stop_on_sigterm(_signum: int, _frame: object) -> None:
    """Stop serving on the first SIGTERM; a second one ends the process at once."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    raise KeyboardInterrupt


class WorkerPool:
    """Forked workers serving one port; see the module docstring."""

    def __init__(
        self,
        host: str,
        port: int,
        count: int,
        serve_one: ServeOne,
        worker_ended: Callable[[int], None] | None = None,
    ) -> None:
        """``worker_ended(pid)``: told of each worker that died while serving."""
        self.host = host
        self.port = port
        self.count = count
        self._serve_one = serve_one
        self._worker_ended = worker_ended
        self._placeholder: socket.socket | None = None
        self._ready_read, self._ready_write = -1, -1
        self._pids: set[int] = set()
        self._parent = os.getpid()

    def start(self) -> int:
        """Fork the workers and wait until each listens; returns the port."""
        self._placeholder = reserve_port(self.host, self.port)
        self.port = self._placeholder.getsockname()[1]
        self._ready_read, self._ready_write = os.pipe()
        for _ in range(self.count):
            self._spawn()
        self._await_ready()
        return self.port

    def _spawn(self) -> None:
        pid = os.fork()
        if pid == 0:
            self._run_child()
        self._pids.add(pid)

    def _run_child(self) -> None:
        """The worker's whole life; never returns into the parent's code."""
        code = 0
        try:
            _die_with_parent()
            if os.getppid() != self._parent:
                os._exit(1)
            signal.signal(signal.SIGTERM, stop_on_sigterm)
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            if self._placeholder is not None:
                self._placeholder.close()
            os.close(self._ready_read)
            write_fd = self._ready_write
            self._serve_one(self.port, lambda: os.write(write_fd, b"r"))
        except KeyboardInterrupt:
            pass
        except BaseException:
            logger.exception("worker %d failed", os.getpid())
            code = 1
        finally:
            os._exit(code)

    def _await_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT
        ready = 0
        while ready < self.count:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self.stop()
                raise RuntimeError(f"only {ready} of {self.count} workers started in time")
            readable, _, _ = select.select([self._ready_read], [], [], min(remaining, 0.5))
            if readable:
                ready += len(os.read(self._ready_read, self.count))
            for pid in list(self._pids):
                if os.waitpid(pid, os.WNOHANG)[0]:
                    self._pids.discard(pid)
                    self.stop()
                    raise RuntimeError(f"worker {pid} exited while starting")

    def supervise(self) -> None:
        """Wait for ever (until SIGTERM or Ctrl-C in the parent), replacing dead workers."""
        while True:
            pid, status = os.wait()
            self._pids.discard(pid)
            logger.error("worker %d ended (status %d); starting a new one", pid, status)
            if self._worker_ended is not None:
                self._worker_ended(pid)
            time.sleep(RESPAWN_DELAY)
            self._spawn()

    def stop(self) -> None:
        """SIGTERM every worker, wait for them, SIGKILL what is left after STOP_TIMEOUT."""
        for pid in self._pids:
            _signal(pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT
        while self._pids and time.monotonic() < deadline:
            for pid in list(self._pids):
                if os.waitpid(pid, os.WNOHANG)[0]:
                    self._pids.discard(pid)
            time.sleep(0.02)
        for pid in self._pids:
            _signal(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        self._pids.clear()
        if self._placeholder is not None:
            self._placeholder.close()
            self._placeholder = None
        for fd in (self._ready_read, self._ready_write):
            if fd >= 0:
                os.close(fd)
        self._ready_read, self._ready_write = -1, -1


def _signal(pid: int, signum: int) -> None:
    try:
        os.kill(pid, signum)
    except ProcessLookupError:
        pass
