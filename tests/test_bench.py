"""The benchmark's quick mode as a smoke test, so the benchmark never rots.

Asserts that every workload ran against all three servers (davfiles, plain WsgiDAV, Apache
mod_dav) and produced sane numbers, and that each server's memory was sampled; it asserts no
timing target (those are for `python -m bench.run --full` on a quiet machine).
"""

from __future__ import annotations

import json
import math
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from bench.apache_server import missing_tools
from bench.haproxy import haproxy_path
from tests.conftest import require_postgres

REPO_ROOT = Path(__file__).resolve().parent.parent
WORKLOADS = ["W1", "W2", "W3 allprop", "W3 props", "W4", "W5"]
QUICK_REPS = 2
SERVERS = ("davfiles", "baseline", "apache")
# About a minute on the 2-core development machine; the bound only catches a hang.
TIMEOUT_S = 540

pytestmark = pytest.mark.skipif(
    shutil.which("wrk") is None or shutil.which("curl") is None,
    reason="the benchmark needs wrk and curl (sh scripts/install-debian-tools.sh, as root)",
)


def test_quick_benchmark_reports_every_workload_for_every_server(tmp_path: Path) -> None:
    missing = missing_tools()
    if missing:
        pytest.fail(
            f"the benchmark's Apache reference needs {', '.join(missing)}: "
            "sh scripts/install-debian-tools.sh (as root)"
        )
    report = tmp_path / "bench.json"
    returncode, stdout, stderr = run_quick_mode(report)
    assert returncode == 0, stderr[-3000:]
    data = json.loads(report.read_text())
    assert data["mode"] == "quick"
    assert [workload["key"] for workload in data["workloads"]] == WORKLOADS
    for workload in data["workloads"]:
        assert workload["error"] == ""
        assert workload["metrics"]
        for metric in workload["metrics"]:
            for server in SERVERS:
                values = metric[server]["values"]
                assert len(values) == QUICK_REPS, (workload["key"], metric["name"], server)
                assert all(math.isfinite(value) and value > 0 for value in values), values
            assert metric["ratios"]["davfiles"] > 0
            assert metric["ratios"]["apache"] > 0
        for server in SERVERS:
            runs = workload["usage"][server]
            assert len(runs) == QUICK_REPS
            assert all(run["cpu_s"] >= 0 and run["peak_rss_mib"] > 1 for run in runs)
        assert f"| {workload['key']}" in stdout
    for server in SERVERS:
        assert data["peak_rss_mib"][server] > 1
    assert "davfiles / WsgiDAV" in stdout
    assert "Apache / WsgiDAV" in stdout
    assert "peak RSS over the whole run" in stdout


@pytest.mark.postgres
def test_two_instances_on_postgresql_mode(tmp_path: Path) -> None:
    """``--database postgres --instances 2``: two davfiles behind haproxy, both measured."""
    if haproxy_path() is None:
        pytest.fail("the two-instance mode needs haproxy: sh scripts/install-debian-tools.sh")
    require_postgres()
    report = tmp_path / "bench.json"
    mode = ("--only", "W2", "--database", "postgres", "--instances", "2", "--workers", "1")
    returncode, stdout, stderr = run_quick_mode(report, mode)
    assert returncode == 0, stderr[-3000:]
    data = json.loads(report.read_text())
    assert data["davfiles"] == "PostgreSQL, 2 instances behind haproxy, 1 workers each"
    (workload,) = data["workloads"]
    assert workload["error"] == ""
    assert workload["metrics"][0]["davfiles"]["values"]
    per_request = workload["cpu_ms_per_request"]["davfiles"]["values"]
    assert len(per_request) == QUICK_REPS and all(value > 0 for value in per_request)
    assert "davfiles CPU ms per request" in stdout


def run_quick_mode(report: Path, extra: tuple[str, ...] = ()) -> tuple[int, str, str]:
    """``bench.run --quick`` in a process group of its own, all of it killed on timeout."""
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.run", "--quick", "--json", str(report), *extra],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        stdout, stderr = process.communicate(timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate(timeout=30)
        pytest.fail(f"the quick benchmark did not end within {TIMEOUT_S} s")
    return process.returncode, stdout, stderr
