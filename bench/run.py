"""Benchmark davfiles against plain WsgiDAV and Apache: ``python -m bench.run --quick|--full``.

Starts the three servers on loopback, runs each workload against all of them in turn
(A B C A B C ...) so that machine noise hits them alike, and prints medians, min-max and the
ratios to plain WsgiDAV, with the servers' CPU time and peak RSS. See bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from datetime import UTC, datetime
from functools import partial
from importlib import metadata
from pathlib import Path
from typing import Any

from bench.apache_server import apache_binary, missing_tools
from bench.clients import RunFailed, curl, expect_status
from bench.monitor import Monitor
from bench.report import WorkloadResults, as_json, metrics_table, run_peaks, usage_table
from bench.servers import (
    POSTGRES_ADMIN,
    REPO_ROOT,
    Server,
    ServerError,
    postgres_database,
    start_apache,
    start_baseline,
    start_davfiles,
)
from bench.workloads import FULL, QUICK, Plan, Workload

TOOLS = ("curl", "wrk")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__)
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--quick", action="store_true", help="small sizes, about a minute (CI)")
    mode.add_argument("--full", action="store_true", help="the sizes of issue 6, ~10 minutes")
    parser.add_argument("--only", help="comma-separated workload keys, e.g. W1,W3")
    parser.add_argument("--json", type=Path, help="also write the results to this JSON file")
    parser.add_argument("--work-dir", type=Path, help="parent of the temporary data folder")
    parser.add_argument(
        "--database",
        choices=("sqlite", "postgres"),
        default="sqlite",
        help="davfiles' database: SQLite in its data dir (default), or a new PostgreSQL "
        "database made for the run and dropped after it",
    )
    parser.add_argument(
        "--postgres-admin",
        default=POSTGRES_ADMIN,
        help=f"URL of a PostgreSQL database to create the run's database from ({POSTGRES_ADMIN})",
    )
    parser.add_argument(
        "--instances",
        type=int,
        default=1,
        help="davfiles processes on one data dir and database; above 1, behind haproxy",
    )
    parser.add_argument("--workers", type=int, help="--workers of each davfiles instance")
    args = parser.parse_args(argv)
    if args.instances < 1:
        parser.error("--instances must be at least 1")
    return args


def davfiles_mode(args: argparse.Namespace) -> str:
    """How davfiles runs, for the result's header."""
    database = "PostgreSQL" if args.database == "postgres" else "SQLite"
    shape = "1 instance" if args.instances == 1 else f"{args.instances} instances behind haproxy"
    workers = "default workers" if args.workers is None else f"{args.workers} workers each"
    return f"{database}, {shape}, {workers}"


def machine() -> dict[str, Any]:
    """What the numbers were measured on."""
    cpu = platform.processor() or "unknown CPU"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": round(memory_gib, 1),
        "system": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "wsgidav": metadata.version("wsgidav"),
        "cheroot": metadata.version("cheroot"),
        "apache": _apache_version(),
        "davfiles_commit": _commit(),
    }


def _commit() -> str:
    try:
        result = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    return result.stdout.strip() or "unknown"


def _apache_version() -> str:
    binary = apache_binary()
    if binary is None:
        return "missing"
    try:
        result = subprocess.run([binary, "-v"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    first = result.stdout.splitlines()[0] if result.stdout else ""
    return first.split("Apache/", 1)[-1].split()[0] if "Apache/" in first else "unknown"


def warm_up(server: Server) -> None:
    """One authenticated request, so no run pays for imports or a first password check."""
    transfer = curl(server, "PROPFIND", "", headers=("Depth: 0",), timeout_s=60)
    expect_status(transfer, (207,), f"warm-up PROPFIND on {server.name}")


def run_workload(workload: Workload, servers: list[Server], monitor: Monitor) -> WorkloadResults:
    """All repetitions of one workload, the servers interleaved; stops at the first failure."""
    results = WorkloadResults(workload)
    try:
        for server in servers:
            workload.prepare(server)
        for rep in range(1, workload.reps + 1):
            for server in servers:
                workload.before(server, rep)
                with monitor.measure(server.name) as usage:
                    values = workload.run(server, rep)
                workload.after(server, rep)
                results.add(server.name, values, usage)
                shown = ", ".join(f"{name} {value:,.2f}" for name, value in values.items())
                print(
                    f"{workload.key} {rep}/{workload.reps} {server.name}: {shown}, "
                    f"server CPU {usage.cpu_s:.2f} s, peak RSS {usage.peak_rss_mib:,.0f} MiB",
                    file=sys.stderr,
                    flush=True,
                )
    except RunFailed as exc:
        results.error = str(exc)
        print(f"{workload.key} failed: {exc}", file=sys.stderr, flush=True)
        for server in servers:
            server.check_alive()
    return results


def benchmark(
    plan: Plan, only: set[str] | None, work: Path, davfiles: Callable[[Path], Server]
) -> tuple[list[WorkloadResults], dict[str, float]]:
    """Every workload on every server; also each server's peak RSS over the whole run.
    ``davfiles`` starts davfiles in the chosen mode."""
    workloads = [
        workload
        for workload in plan.workloads(work)
        if only is None or workload.key.split()[0] in only
    ]
    with ExitStack() as stack:
        servers = []
        for start in (davfiles, start_baseline, start_apache):
            server = start(work)
            stack.callback(server.stop)
            servers.append(server)
        pids = {server.name: server.pids for server in servers}
        databases = {server.name: server.database for server in servers}
        monitor = stack.enter_context(Monitor(pids, databases).running())
        for server in servers:
            warm_up(server)
        results = [run_workload(workload, servers, monitor) for workload in workloads]
        return results, {server.name: monitor.peak_mib(server.name) for server in servers}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    missing = [tool for tool in TOOLS if shutil.which(tool) is None] + missing_tools()
    if missing:
        print(f"bench: missing {', '.join(missing)} (sh scripts/install-debian-tools.sh)")
        return 2
    plan = FULL if args.full else QUICK
    only = {key.strip() for key in args.only.split(",")} if args.only else None
    started = time.monotonic()
    header = {
        "mode": plan.name,
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine(),
    }
    header["davfiles"] = davfiles_mode(args)
    try:
        with ExitStack() as stack:
            work = stack.enter_context(
                tempfile.TemporaryDirectory(prefix="davfiles-bench-", dir=args.work_dir)
            )
            database_url = None
            if args.database == "postgres":
                database_url = stack.enter_context(postgres_database(args.postgres_admin))
            results, peaks = benchmark(
                plan,
                only,
                Path(work),
                partial(
                    start_davfiles,
                    database_url=database_url,
                    instances=args.instances,
                    workers=args.workers,
                ),
            )
    except (ServerError, RunFailed) as exc:
        print(f"bench: {exc}", file=sys.stderr)
        return 1
    header["seconds"] = round(time.monotonic() - started, 1)
    info = header["machine"]
    print(
        f"\n{plan.name} mode, {header['date']}, {header['seconds']} s; {info['cpu']}, "
        f"{info['cores']} cores, {info['memory_gib']} GiB, {info['system']}, "
        f"Python {info['python']}, WsgiDAV {info['wsgidav']}, cheroot {info['cheroot']}, "
        f"Apache {info['apache']}, davfiles {info['davfiles_commit']} "
        f"({header['davfiles']})\n"
    )
    print(metrics_table(results))
    print()
    print(usage_table(results))
    print()
    print(run_peaks(peaks))
    if args.json:
        args.json.write_text(json.dumps(as_json(results, peaks, header), indent=2))
    return 1 if any(result.error for result in results) else 0


if __name__ == "__main__":
    sys.exit(main())
