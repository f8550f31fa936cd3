"""Packaging: a wheel built from the source tree installs into a fresh virtual environment
without a deprecation warning, carries the migrations, and gives a `davfiles` that reports
its version and serves an authenticated PUT and GET. Needs PyPI or pip's cache for the
dependencies; takes 20-60 s."""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from importlib.metadata import version
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parent.parent
READY_SECONDS = 30.0

pytestmark = pytest.mark.packaging


def run(*command: str | Path) -> str:
    """Run a command to completion; its output (stdout and stderr) for the assertions."""
    result = subprocess.run(
        [str(part) for part in command],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    return output


def source_tree(tmp_path: Path) -> Path:
    """The files a build reads, copied so the build leaves nothing in the worktree."""
    source = tmp_path / "source"
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info")
    shutil.copytree(ROOT / "davfiles", source / "davfiles", ignore=ignore)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, source / name)
    return source


def test_a_built_wheel_installs_cleanly_and_serves(tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    built = run(
        sys.executable,
        "-m",
        "pip",
        "wheel",
        "--no-deps",
        "--wheel-dir",
        wheels,
        source_tree(tmp_path),
    )
    assert "deprecat" not in built.lower(), built
    (wheel,) = wheels.glob("davfiles-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "davfiles/db/migrations/env.py" in names
    assert "davfiles/db/migrations/script.py.mako" in names
    assert "davfiles/db/migrations/versions/0001_baseline.py" in names

    venv = tmp_path / "venv"
    run(sys.executable, "-m", "venv", venv)
    installed = run(venv / "bin" / "pip", "install", "--disable-pip-version-check", wheel)
    assert "deprecat" not in installed.lower(), installed
    davfiles = venv / "bin" / "davfiles"
    assert run(davfiles, "--version").strip() == f"davfiles {version('davfiles')}"

    log_path = tmp_path / "serve.log"
    with log_path.open("wb") as log:
        server = subprocess.Popen(
            [davfiles, "serve", "--data-dir", tmp_path / "data", "--port", "0", "--workers", "1"],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=tmp_path,
        )
        try:
            port, password = wait_ready(server, log_path)
            url = f"http://127.0.0.1:{port}/dav/hello.txt"
            put = requests.put(url, data=b"from the wheel", auth=("admin", password), timeout=30)
            assert put.status_code == 201
            got = requests.get(url, auth=("admin", password), timeout=30)
            assert got.content == b"from the wheel"
            assert requests.get(url, timeout=30).status_code == 401
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=30)


def wait_ready(server: subprocess.Popen[bytes], log_path: Path) -> tuple[int, str]:
    deadline = time.monotonic() + READY_SECONDS
    while time.monotonic() < deadline:
        text = log_path.read_text(errors="replace")
        port = re.search(r"serving http://[^:]+:(\d+)/", text)
        password = re.search(r"created user admin with password (\S+)", text)
        if port and password:
            return int(port.group(1)), password.group(1)
        assert server.poll() is None, text
        time.sleep(0.05)
    raise AssertionError(f"davfiles serve from the wheel did not start:\n{log_path.read_text()}")
