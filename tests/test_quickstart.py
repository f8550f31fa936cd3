"""The README quick start: `make run` serves the default config and prints an admin password."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]


def test_make_run_serves_with_a_first_admin(tmp_path: Path) -> None:
    log = tmp_path / "run.log"
    env = {**os.environ, "DAVFILES_DATA_DIR": str(tmp_path / "data"), "DAVFILES_PORT": "0"}
    with log.open("wb") as output:
        process = subprocess.Popen(
            ["make", "run"],
            cwd=ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 120
        text = ""
        while time.monotonic() < deadline and process.poll() is None:
            text = log.read_text(errors="replace")
            if "serving http://" in text:
                break
            time.sleep(0.1)
        served = re.search(r"serving (http://127\.0\.0\.1:\d+/dav/)", text)
        password = re.search(r"created user admin with password (\S+)", text)
        assert served and password, text
        response = requests.request(
            "PROPFIND",
            served.group(1),
            headers={"Depth": "0"},
            auth=("admin", password.group(1)),
            timeout=30,
        )
        assert response.status_code == 207
        assert (tmp_path / "data" / "davfiles.sqlite3").exists()
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
