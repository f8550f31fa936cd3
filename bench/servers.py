"""Start the servers under test as processes of their own, and stop them for sure."""

from __future__ import annotations

import base64
import ctypes
import os
import re
import secrets
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import psutil
from sqlalchemy import create_engine, make_url, text
from sqlalchemy.exc import SQLAlchemyError

from bench.apache_server import MOUNT as APACHE_MOUNT
from bench.apache_server import ApacheUnavailable, write_site
from bench.haproxy import Balancer, free_port

REPO_ROOT = Path(__file__).resolve().parent.parent
READY_TIMEOUT = 60.0
STOP_TIMEOUT = 15.0
SERVING = re.compile(r"serving (http://[^/\s]+)(/\S*)")
ADMIN_PASSWORD = re.compile(r"created user admin with password (\S+)")
PR_SET_PDEATHSIG = 1
BIND_ATTEMPTS = 3
POSTGRES_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


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
    # More processes of the same server (further davfiles instances, measured with it) and
    # what stands in front of them (haproxy, not measured), stopped with it.
    instances: list[Server] = field(default_factory=list)
    balancer: Balancer | None = None
    # The PostgreSQL database it uses, if any: its backends' CPU counts as the server's.
    database: str | None = None

    @property
    def pids(self) -> list[int]:
        """The roots of the process trees whose CPU and memory count as this server's."""
        return [self.process.pid, *(instance.process.pid for instance in self.instances)]

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
        for instance in self.instances:
            instance.check_alive()

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after STOP_TIMEOUT; safe to call twice."""
        if self.balancer is not None:
            self.balancer.stop()
        for instance in self.instances:
            instance.stop()
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=STOP_TIMEOUT)


def _launch(
    name: str, argv: list[str], work: Path, env: dict[str, str], ready: Callable[[Server], bool]
) -> Server:
    """Start ``argv`` logging to work/NAME.log; return once ``ready`` says it answers."""
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
        _wait_ready(server, ready)
    except BaseException:
        server.stop()
        raise
    return server


def terminate_with_parent() -> None:
    """In a child: get SIGTERM when the benchmark dies, even by SIGKILL (Linux prctl)."""
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def _wait_ready(server: Server, ready: Callable[[Server], bool]) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        if ready(server):
            return
        server.check_alive()
        time.sleep(0.05)
    raise ServerError(f"{server.name} did not start within {READY_TIMEOUT:.0f} s")


def _announced(server: Server) -> bool:
    """Python servers print ``serving URL`` (and davfiles the admin password) once they listen."""
    text = server.log_path.read_text(errors="replace")
    password = ADMIN_PASSWORD.search(text)
    if password:
        server.password = password.group(1)
    serving = SERVING.search(text)
    if serving:
        server.origin = serving.group(1)
        server.mount = serving.group(2)
    return bool(serving)


def _listening(port: int) -> Callable[[Server], bool]:
    """For servers that print nothing: ready once the server itself listens on ``port``."""

    def ready(server: Server) -> bool:
        # The kernel names one holder of a shared socket: the parent or any of its children.
        parent = psutil.Process(server.process.pid)
        family = {parent.pid, *(child.pid for child in parent.children(recursive=True))}
        return any(
            conn.pid in family and conn.status == psutil.CONN_LISTEN and conn.laddr.port == port
            for conn in psutil.net_connections("tcp4")
        )

    return ready


def _environment() -> dict[str, str]:
    """This environment without DAVFILES_* settings, with the repository importable."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("DAVFILES_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    return env


def start_davfiles(
    work: Path, database_url: str | None = None, instances: int = 1, workers: int | None = None
) -> Server:
    """``davfiles serve`` with its defaults on a fresh data dir; the first start makes admin.

    ``database_url``: the database instead of SQLite in the data dir. ``instances`` > 1:
    that many ``davfiles serve`` processes on one data dir and database, each on a port of
    its own, behind haproxy (round robin); they count as one server, haproxy does not.
    ``workers``: ``--workers`` of each instance (default: davfiles' own).
    """
    data_dir = work / "davfiles-data"
    env = _environment()
    if database_url:
        env["DAVFILES_DATABASE_URL"] = database_url
    argv = [sys.executable, "-m", "davfiles", "serve", "--data-dir", str(data_dir)]
    if workers is not None:
        argv += ["--workers", str(workers)]
    if instances == 1:
        server = _launch("davfiles", [*argv, "--port", "0"], work, env, _announced)
    else:
        started = []
        try:
            for number in range(instances):
                port = str(free_port())
                name = f"davfiles-{number}"
                started.append(_launch(name, [*argv, "--port", port], work, env, _announced))
            balancer = Balancer(
                work / "haproxy", [_port(i) for i in started], terminate_with_parent
            )
        except BaseException:
            for instance in started:
                instance.stop()
            raise
        server, server.instances = started[0], started[1:]
        server.name, server.balancer, server.origin = "davfiles", balancer, balancer.base
    server.database = make_url(database_url).database if database_url else None
    if not server.password:
        server.stop()
        raise ServerError(f"davfiles printed no admin password:\n{server.log_tail()}")
    return server


@contextmanager
def postgres_database(admin_url: str) -> Iterator[str]:
    """A new, empty database for one run, dropped after it; its URL."""
    name = f"davfiles_bench_{secrets.token_hex(6)}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except SQLAlchemyError as exc:
        admin.dispose()
        raise ServerError(f"cannot create a PostgreSQL database at {admin_url}: {exc}") from exc
    try:
        yield admin.url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _port(server: Server) -> int:
    return int(server.origin.rsplit(":", 1)[1])


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
        # One argument: a password may begin with "-", which argparse takes for an option.
        f"--password={password}",
    ]
    server = _launch("baseline", argv, work, _environment(), _announced)
    server.password = password
    return server


def start_apache(work: Path) -> Server:
    """Apache mod_dav (bench/apache_server.py) on a fresh folder and a free port.

    The port is chosen before Apache starts, so another process may take it first: then
    Apache exits at once and starts again on another port, at most BIND_ATTEMPTS times.
    """
    # As root, Apache's workers run as another user, who must enter the data folder.
    work.chmod(work.stat().st_mode | stat.S_IXOTH)
    attempts_left = BIND_ATTEMPTS
    while True:
        try:
            return _start_apache_once(work)
        except ServerError as exc:
            attempts_left -= 1
            if attempts_left == 0 or "Address already in use" not in str(exc):
                raise


def _start_apache_once(work: Path) -> Server:
    try:
        site = write_site(work / "apache")
    except ApacheUnavailable as exc:
        raise ServerError(f"apache: {exc}") from exc
    server = _launch("apache", site.argv, work, os.environ.copy(), _listening(site.port))
    server.origin = f"http://127.0.0.1:{site.port}"
    server.mount = f"{APACHE_MOUNT}/"
    server.user, server.password = site.user, site.password
    return server
