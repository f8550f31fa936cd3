"""Start the two servers under test as processes of their own, and stop them for sure."""

from __future__ import annotations

import base64
import ctypes
import os
import re
import secrets
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
READY_TIMEOUT = 60.0
STOP_TIMEOUT = 15.0
SERVING = re.compile(r"serving (http://[^/\s]+)(/\S*)")
ADMIN_PASSWORD = re.compile(r"created user admin with password (\S+)")
PR_SET_PDEATHSIG = 1


class ServerError(RuntimeError):
    """A server did not start, or died; the message carries the end of its log."""


@dataclass
class Server:
    """A running server: its process, where it answers and whom it lets in."""

    name: str
    process: subprocess.Popen[bytes]
    log_path: Path
    origin: str = ""
    mount: str = ""
    user: str = "admin"
    password: str = ""

    def url(self, path: str) -> str:
        """Absolute URL of ``path`` below the WebDAV mount (``w1/big.bin``)."""
        return f"{self.origin}{self.mount}{path}"

    def path(self, path: str) -> str:
        """Request target of ``path`` below the WebDAV mount, as wrk scripts need it."""
        return f"{self.mount}{path}"

    @property
    def authorization(self) -> str:
        token = base64.b64encode(f"{self.user}:{self.password}".encode()).decode()
        return f"Basic {token}"

    def log_tail(self, lines: int = 20) -> str:
        text = self.log_path.read_text(errors="replace").splitlines()
        return "\n".join(text[-lines:])

    def check_alive(self) -> None:
        if self.process.poll() is not None:
            raise ServerError(f"{self.name} exited ({self.process.returncode}):\n{self.log_tail()}")

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after STOP_TIMEOUT; safe to call twice."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=STOP_TIMEOUT)


def _launch(name: str, argv: list[str], work: Path, env: dict[str, str]) -> Server:
    log_path = work / f"{name}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            argv,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=work,
            env=env,
            preexec_fn=terminate_with_parent,
        )
    server = Server(name=name, process=process, log_path=log_path)
    try:
        _wait_ready(server)
    except BaseException:
        server.stop()
        raise
    return server


def terminate_with_parent() -> None:
    """In a child: get SIGTERM when the benchmark dies, even by SIGKILL (Linux prctl)."""
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def _wait_ready(server: Server) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        text = server.log_path.read_text(errors="replace")
        password = ADMIN_PASSWORD.search(text)
        if password:
            server.password = password.group(1)
        serving = SERVING.search(text)
        if serving:
            server.origin = serving.group(1)
            server.mount = serving.group(2)
            return
        server.check_alive()
        time.sleep(0.05)
    raise ServerError(f"{server.name} did not start within {READY_TIMEOUT:.0f} s")


def _environment() -> dict[str, str]:
    """This environment without DAVFILES_* settings, with the repository importable."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("DAVFILES_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    return env


def start_davfiles(work: Path) -> Server:
    """``davfiles serve`` with its defaults on a fresh data dir; the first start makes admin."""
    data_dir = work / "davfiles-data"
    argv = [sys.executable, "-m", "davfiles", "serve", "--data-dir", str(data_dir), "--port", "0"]
    server = _launch("davfiles", argv, work, _environment())
    if not server.password:
        server.stop()
        raise ServerError(f"davfiles printed no admin password:\n{server.log_tail()}")
    return server


def start_baseline(work: Path) -> Server:
    """Plain WsgiDAV (bench/baseline_server.py) on a fresh folder."""
    password = secrets.token_urlsafe(16)
    argv = [
        sys.executable,
        str(Path(__file__).with_name("baseline_server.py")),
        "--root",
        str(work / "baseline-root"),
        "--user",
        "admin",
        "--password",
        password,
    ]
    server = _launch("baseline", argv, work, _environment())
    server.password = password
    return server
