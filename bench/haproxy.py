"""Debian's haproxy in front of several davfiles instances, with a config of its own.

Used by the benchmark's two-instance mode and the tests of several servers on one database:
never the system instance nor ``/etc/haproxy``. Round robin per request (haproxy balances
each request of a kept-alive connection on its own), and every answer names the instance
that gave it in ``X-Served-By``, so a test can see that consecutive requests were spread.
"""

from __future__ import annotations

import random
import shutil
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

HAPROXY = "/usr/sbin/haproxy"
SERVED_BY = "X-Served-By"
READY_TIMEOUT = 15.0
# Longer than any benchmark or test transfer; a stalled one is cut off by davfiles first.
RUN_TIMEOUT = 7200


def haproxy_path() -> str | None:
    return shutil.which("haproxy") or (HAPROXY if Path(HAPROXY).exists() else None)


def free_port() -> int:
    """A free port below Linux's ephemeral range (32768 up), so that no outgoing connection
    takes it while a server restarts on it."""
    for _attempt in range(200):
        port = random.randrange(20000, 32000)
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port between 20000 and 32000")


def config(port: int, backends: list[int]) -> str:
    """The whole config: one frontend on ``port``, round robin over ``backends``."""
    servers = "\n".join(
        f"    server i{number} 127.0.0.1:{backend} check inter 2s"
        for number, backend in enumerate(backends)
    )
    return f"""global
    maxconn 2000

defaults
    mode http
    option http-keep-alive
    timeout connect 5s
    timeout client 120s
    timeout server 120s
    timeout http-request 15s

frontend davfiles
    bind 127.0.0.1:{port}
    default_backend instances

backend instances
    balance roundrobin
    # /readyz needs no credentials and says whether the database and data dir are usable.
    option httpchk
    http-check send meth GET uri /readyz ver HTTP/1.1 hdr Host localhost
    http-check expect status 200
    http-response set-header {SERVED_BY} %[srv_name]
{servers}
"""


class Balancer:
    """haproxy as a child process (bounded by ``timeout``), its config in ``folder``."""

    def __init__(
        self,
        folder: Path,
        backends: list[int],
        preexec_fn: Callable[[], None] | None = None,
    ) -> None:
        """``preexec_fn``: run in the child before haproxy starts (the benchmark's
        terminate-with-parent)."""
        binary = haproxy_path()
        if binary is None:
            raise FileNotFoundError("haproxy is not installed (scripts/install-debian-tools.sh)")
        folder.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.config_path = folder / "haproxy.cfg"
        self.config_path.write_text(config(self.port, backends))
        self._log = (folder / "haproxy.log").open("wb")
        self.process = subprocess.Popen(
            ["timeout", str(RUN_TIMEOUT), binary, "-db", "-f", str(self.config_path)],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            preexec_fn=preexec_fn,
        )
        self.base = f"http://127.0.0.1:{self.port}"
        self._wait_ready(folder / "haproxy.log")

    def _wait_ready(self, log: Path) -> None:
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"haproxy exited early:\n{log.read_text(errors='replace')}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("haproxy did not listen in time")

    def url(self, path: str = "/dav/") -> str:
        return self.base + path

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self._log.close()
