"""The load generators: curl for single big transfers, wrk with Lua scripts for many requests.

Both are C programs from Debian, so the client is never what limits a Python server.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from bench.servers import Server, terminate_with_parent

LUA_DIR = Path(__file__).resolve().parent / "lua"
# wrk's own timeout (2 s) would count slow answers as errors and leave them out of p99.
WRK_REQUEST_TIMEOUT = "60s"
# Time for wrk to print its summary after SIGINT, and for a process to go after SIGKILL.
EXIT_GRACE_S = 10.0
POLL_S = 0.01


class RunFailed(RuntimeError):
    """A request failed or an answer is not what the workload expects."""


@dataclass(frozen=True)
class Transfer:
    """What curl reports about one request."""

    status: int
    total_s: float
    first_byte_s: float
    downloaded: int
    uploaded: int


def curl(
    server: Server,
    method: str,
    path: str,
    *,
    timeout_s: float,
    upload: Path | None = None,
    body: bytes | None = None,
    headers: tuple[str, ...] = (),
    output: Path | None = None,
) -> Transfer:
    """One request with curl; raises RunFailed when curl itself fails."""
    argv = ["curl", "-sS", "--max-time", f"{timeout_s:.0f}", "-X", method]
    argv += ["-u", f"{server.user}:{server.password}", "-H", "Expect:"]
    for header in headers:
        argv += ["-H", header]
    if upload is not None:
        argv += ["-T", str(upload)]
    if body is not None:
        argv += ["--data-binary", "@-"]
    argv += ["-o", str(output or os.devnull), "-w", "%{json}", server.url(path)]
    try:
        result = subprocess.run(
            argv,
            input=body,
            capture_output=True,
            timeout=timeout_s + EXIT_GRACE_S,
            preexec_fn=terminate_with_parent,
        )
    except subprocess.TimeoutExpired as exc:
        raise RunFailed(f"curl {method} {path} on {server.name} did not end") from exc
    if result.returncode != 0:
        message = result.stderr.decode(errors="replace").strip()
        raise RunFailed(f"curl {method} {path} on {server.name}: {message}")
    report = json.loads(result.stdout)
    return Transfer(
        status=int(report["http_code"]),
        total_s=float(report["time_total"]),
        first_byte_s=float(report["time_starttransfer"]),
        downloaded=int(report["size_download"]),
        uploaded=int(report["size_upload"]),
    )


def expect_status(transfer: Transfer, allowed: tuple[int, ...], what: str) -> Transfer:
    if transfer.status not in allowed:
        raise RunFailed(f"{what}: status {transfer.status}, expected one of {allowed}")
    return transfer


@dataclass(frozen=True)
class WrkResult:
    """The BENCH line of bench/lua/report.lua."""

    requests: int
    elapsed_s: float
    responses: int
    unexpected: int
    first_unexpected: str
    p50_ms: float
    p99_ms: float
    errors: dict[str, int]

    def check(self, what: str, expected_responses: int | None = None) -> WrkResult:
        """Raise RunFailed on socket errors, unexpected statuses or missing responses."""
        failed = {name: count for name, count in self.errors.items() if count}
        if failed:
            raise RunFailed(f"{what}: wrk errors {failed}")
        if self.unexpected:
            raise RunFailed(
                f"{what}: {self.unexpected} unexpected answers, first {self.first_unexpected}"
            )
        if expected_responses is not None and self.responses != expected_responses:
            raise RunFailed(f"{what}: {self.responses} of {expected_responses} answers")
        return self


def wrk_counted(
    server: Server, script: str, *, total: int, threads: int, args: list[str], deadline_s: float
) -> WrkResult:
    """``total`` units of ``script`` over ``threads`` connections; ended as soon as all are done."""
    if total < threads:
        raise ValueError(f"{total} units cannot keep {threads} connections busy")
    with tempfile.TemporaryDirectory(prefix="wrk-markers-") as markers:
        argv = _wrk_argv(server, script, threads, threads, deadline_s + EXIT_GRACE_S)
        argv += [server.origin + "/", "--", markers, str(total), str(threads), *args]
        process = _start_wrk(argv)
        with _killed_on_error(process):
            deadline = time.monotonic() + deadline_s
            while time.monotonic() < deadline and process.poll() is None:
                if len(os.listdir(markers)) >= threads:
                    break
                time.sleep(POLL_S)
        return _finish(process, f"wrk {script} on {server.name}")


def wrk_timed(
    server: Server, script: str, path: str, *, connections: int, threads: int, duration_s: int
) -> WrkResult:
    """``wrk`` with a fixed duration against one URL."""
    argv = _wrk_argv(server, script, connections, threads, duration_s)
    argv += ["--latency", server.url(path)]
    process = _start_wrk(argv)
    with _killed_on_error(process), contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=duration_s + EXIT_GRACE_S)
    return _finish(process, f"wrk {script} on {server.name}")


@contextlib.contextmanager
def _killed_on_error(process: subprocess.Popen[bytes]) -> Iterator[None]:
    """Kill wrk when waiting for it is interrupted (Ctrl-C), so no load generator lingers."""
    try:
        yield
    except BaseException:
        process.kill()
        process.wait(timeout=EXIT_GRACE_S)
        raise


def _start_wrk(argv: list[str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, preexec_fn=terminate_with_parent
    )


def _wrk_argv(
    server: Server, script: str, connections: int, threads: int, duration_s: float
) -> list[str]:
    return [
        "wrk",
        "-t",
        str(threads),
        "-c",
        str(connections),
        "-d",
        f"{max(1, round(duration_s))}s",
        "--timeout",
        WRK_REQUEST_TIMEOUT,
        "-H",
        f"Authorization: {server.authorization}",
        "-s",
        str(LUA_DIR / script),
    ]


def _finish(process: subprocess.Popen[bytes], what: str) -> WrkResult:
    """Stop wrk if still running (SIGINT makes it print its summary) and parse its result."""
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
    try:
        stdout, stderr = process.communicate(timeout=EXIT_GRACE_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate(timeout=EXIT_GRACE_S)
        raise RunFailed(f"{what} did not stop") from None
    for line in stdout.decode(errors="replace").splitlines():
        if line.startswith("BENCH "):
            data = json.loads(line.removeprefix("BENCH "))
            return WrkResult(**data)
    message = (stderr or stdout).decode(errors="replace").strip()
    raise RunFailed(f"{what} gave no result: {message[-500:]}")
