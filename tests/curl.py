"""Run the real curl binary, as the dialect documents' examples do, and read its answer."""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# After the body: the status code and the Location header (empty without one), a line each.
_WRITE_OUT = "\n%{http_code}\n%header{location}"


@dataclass(frozen=True)
class CurlResult:
    status: int
    body: str
    location: str

    def json(self) -> Any:
        return json.loads(self.body)


def run_curl(*args: str, cwd: Path | None = None) -> CurlResult:
    """Run ``curl -s`` with these arguments (in ``cwd``, for ``-F file=@name``)."""
    result = subprocess.run(
        ["curl", "-s", "-w", _WRITE_OUT, *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        cwd=cwd,
    )
    body, status, location = result.stdout.rsplit("\n", 2)
    return CurlResult(int(status), body, location)


def curl_json(*args: str, cwd: Path | None = None) -> tuple[Any, int]:
    """Run curl; the parsed JSON body and the status code."""
    result = run_curl(*args, cwd=cwd)
    return result.json(), result.status
