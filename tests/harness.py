"""Real servers for tests: the app on cheroot in a thread, or `davfiles serve` as a process.

With ``DAVFILES_TEST_WORKERS=N`` (N > 1) the live server is N forked worker processes on one
port, as ``davfiles serve --workers N`` runs, and ``davfiles serve`` gets ``--workers N``.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from davfiles.app import Services, create_app, create_services
from davfiles.server import connection_limits, make_server
from davfiles.store import Owner
from davfiles.workers import WorkerPool, serve_as_worker

READY_TIMEOUT = 30.0
TEST_WORKERS = int(os.environ.get("DAVFILES_TEST_WORKERS", "1"))
WSGIApp = Callable[..., Any]


@dataclass
class TestUser:
    __test__ = False

    name: str
    password: str
    owner: Owner

    @property
    def auth(self) -> tuple[str, str]:
        return (self.name, self.password)


class LiveServer:
    """The davfiles WSGI app on cheroot in a background thread, on a free port."""

    __test__ = False

    def __init__(
        self,
        services: Services,
        wrap: Callable[[WSGIApp], WSGIApp] | None = None,
        *,
        in_process: bool = False,
    ) -> None:
        """``in_process``: one server in this process even with DAVFILES_TEST_WORKERS, for
        tests that count what happens inside it (per-process caches)."""
        self.services = services
        self._wrap = wrap or (lambda app: app)
        self._server: Any = None
        self._pool: WorkerPool | None = None
        if TEST_WORKERS > 1 and not in_process:
            self._pool = WorkerPool("127.0.0.1", 0, TEST_WORKERS, self._serve_worker)
            self.port = self._pool.start()
        else:
            self._server = self._make_server(services, 0)
            self._server.prepare()
            self.port = self._server.bind_addr[1]
            self._thread = threading.Thread(target=self._server.serve, daemon=True)
            self._thread.start()
        self.base = f"http://127.0.0.1:{self.port}"

    def _make_server(self, services: Services, port: int, *, reuse_port: bool = False) -> Any:
        app = self._wrap(create_app(services))
        return make_server(
            app,
            "127.0.0.1",
            port,
            threads=services.settings.threads,
            reuse_port=reuse_port,
            limits=connection_limits(services.settings),
        )

    def _serve_worker(self, port: int, ready: Callable[[], None]) -> None:
        """A forked worker: its own services (and database connections) on the same settings."""
        services = create_services(self.services.settings)
        server = self._make_server(services, port, reuse_port=True)
        serve_as_worker(server, ready, services.close)

    def url(self, path: str = "/dav/") -> str:
        return self.base + path

    def add_user(
        self,
        name: str,
        password: str = "secret-pw",
        *,
        max_bytes: int | None = None,
        max_files: int | None = None,
    ) -> TestUser:
        owner = self.services.accounts.add_user(
            name, password, max_bytes=max_bytes, max_files=max_files
        )
        return TestUser(name, password, owner)

    def session(self, user: TestUser) -> requests.Session:
        session = requests.Session()
        session.auth = user.auth
        return session

    def stop(self) -> None:
        if self._pool is not None:
            self._pool.stop()
            return
        self._server.stop()
        self._thread.join(timeout=10)


class CliServer:
    """``davfiles serve`` in a subprocess, for tests that need a process of its own."""

    __test__ = False

    def __init__(
        self,
        data_dir: Path,
        log_path: Path,
        env: Mapping[str, str] | None = None,
        args: tuple[str, ...] = (),
    ) -> None:
        self._log_path = log_path
        self._log = log_path.open("wb")
        environment = {**os.environ, **(env or {})}
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "davfiles",
                "serve",
                "--data-dir",
                str(data_dir),
                "--port",
                "0",
                "--workers",
                str(TEST_WORKERS),
                *args,
            ],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=environment,
        )
        self.admin_password = ""
        self.port = self._wait_ready()
        scheme = "https" if "--certfile" in args else "http"
        self.base = f"{scheme}://127.0.0.1:{self.port}"

    def _wait_ready(self) -> int:
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            text = self._log_path.read_text(errors="replace")
            password = re.search(r"created user admin with password (\S+)", text)
            if password:
                self.admin_password = password.group(1)
            match = re.search(r"serving https?://[^:]+:(\d+)/", text)
            if match:
                return int(match.group(1))
            if self.process.poll() is not None:
                raise RuntimeError(f"davfiles serve exited early:\n{text}")
            time.sleep(0.05)
        self.stop()
        raise RuntimeError("davfiles serve did not become ready in time")

    def output(self) -> str:
        return self._log_path.read_text(errors="replace")

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)
        self._log.close()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self._log.close()
