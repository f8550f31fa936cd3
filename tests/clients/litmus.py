"""Run the litmus WebDAV suites and split their output into one result per litmus test."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from davfiles.app import create_services
from davfiles.config import Settings
from tests.harness import LiveServer

SUITES = ("basic", "copymove", "props", "locks", "http")
_RESULT = re.compile(r"\s*(\d+)\. (\w+)\.*\s*(pass|FAIL|SKIPPED|WARNING)(.*)")

# The tests litmus 0.13 runs per suite; a run that reports a different set fails loudly.
INVENTORY: dict[str, tuple[str, ...]] = {
    "basic": (
        "0-init",
        "1-begin",
        "2-options",
        "3-put_get",
        "4-put_get_utf8_segment",
        "5-put_no_parent",
        "6-mkcol_over_plain",
        "7-delete",
        "8-delete_null",
        "9-delete_fragment",
        "10-mkcol",
        "11-mkcol_again",
        "12-delete_coll",
        "13-mkcol_no_parent",
        "14-mkcol_with_body",
        "15-finish",
    ),
    "copymove": (
        "0-init",
        "1-begin",
        "2-copy_init",
        "3-copy_simple",
        "4-copy_overwrite",
        "5-copy_nodestcoll",
        "6-copy_cleanup",
        "7-copy_coll",
        "8-copy_shallow",
        "9-move",
        "10-move_coll",
        "11-move_cleanup",
        "12-finish",
    ),
    "props": (
        "0-init",
        "1-begin",
        "2-propfind_invalid",
        "3-propfind_invalid2",
        "4-propfind_d0",
        "5-propinit",
        "6-propset",
        "7-propget",
        "8-propextended",
        "9-propmove",
        "10-propget",
        "11-propdeletes",
        "12-propget",
        "13-propreplace",
        "14-propget",
        "15-propnullns",
        "16-propget",
        "17-prophighunicode",
        "18-propget",
        "19-propremoveset",
        "20-propget",
        "21-propsetremove",
        "22-propget",
        "23-propvalnspace",
        "24-propwformed",
        "25-propinit",
        "26-propmanyns",
        "27-propget",
        "28-propcleanup",
        "29-finish",
    ),
    "locks": (
        "0-init",
        "1-begin",
        "2-options",
        "3-precond",
        "4-init_locks",
        "5-put",
        "6-lock_excl",
        "7-discover",
        "8-refresh",
        "9-notowner_modify",
        "10-notowner_lock",
        "11-owner_modify",
        "12-notowner_modify",
        "13-notowner_lock",
        "14-copy",
        "15-cond_put",
        "16-fail_cond_put",
        "17-cond_put_with_not",
        "18-cond_put_corrupt_token",
        "19-complex_cond_put",
        "20-fail_complex_cond_put",
        "21-unlock",
        "22-fail_cond_put_unlocked",
        "23-lock_shared",
        "24-notowner_modify",
        "25-notowner_lock",
        "26-owner_modify",
        "27-double_sharedlock",
        "28-notowner_modify",
        "29-notowner_lock",
        "30-unlock",
        "31-prep_collection",
        "32-lock_collection",
        "33-owner_modify",
        "34-notowner_modify",
        "35-refresh",
        "36-indirect_refresh",
        "37-unlock",
        "38-unmapped_lock",
        "39-unlock",
        "40-finish",
    ),
    "http": ("0-init", "1-begin", "2-expect100", "3-finish"),
}


@dataclass(frozen=True)
class LitmusResult:
    outcome: str  # pass, FAIL, SKIPPED or WARNING
    detail: str


def litmus_missing_reason() -> str | None:
    if shutil.which("litmus") is None:
        return (
            "litmus is not installed (the test command installs Debian's litmus when run as root)"
        )
    return None


def run_suite(
    suite: str, url: str, user: str, password: str, workdir: Path
) -> tuple[str, dict[str, LitmusResult]]:
    """Run one suite; return its raw output and the result of every test by 'N-name'."""
    workdir.mkdir(parents=True, exist_ok=True)
    completed = subprocess.run(
        ["litmus", "--keep-going", url, user, password],
        cwd=workdir,
        capture_output=True,
        timeout=300,
        check=False,
        env={**os.environ, "TESTS": suite},
    )
    output = completed.stdout.decode("utf-8", "replace") + completed.stderr.decode(
        "utf-8", "replace"
    )
    return output, parse(output)


def parse(output: str) -> dict[str, LitmusResult]:
    results: dict[str, LitmusResult] = {}
    for raw_line in output.splitlines():
        match = _RESULT.match(raw_line.split("\r")[-1])
        if match:
            key = f"{int(match.group(1))}-{match.group(2)}"
            results[key] = LitmusResult(match.group(3), match.group(4).strip())
    return results


# Every (suite, test) pair, to parametrize one pytest test per litmus test.
EVERY_TEST = [(suite, test) for suite in SUITES for test in INVENTORY[suite]]
SuiteRuns = dict[str, tuple[str, dict[str, LitmusResult]]]


def run_every_suite(url: str, user: str, password: str, workdir: Path) -> SuiteRuns:
    return {suite: run_suite(suite, url, user, password, workdir / suite) for suite in SUITES}


def assert_passed(runs: SuiteRuns, suite: str, test: str) -> None:
    """``test`` of ``suite`` ran and passed; else the suite's output says why."""
    output, results = runs[suite]
    assert test in results, f"litmus {suite} did not report {test}:\n{output}"
    result = results[test]
    assert result.outcome == "pass", f"{suite} {test}: {result.outcome} {result.detail}"


@contextmanager
def litmus_server(root: Path) -> Iterator[LiveServer]:
    """A live server of a module's own on a new data dir under ``root``, for its litmus runs;
    the module's tests skip where litmus is missing."""
    reason = litmus_missing_reason()
    if reason:
        pytest.skip(reason)
    services = create_services(Settings(data_dir=root / "data"))
    server = LiveServer(services)
    try:
        yield server
    finally:
        server.stop()
        services.close()
