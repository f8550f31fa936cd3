"""An append-only JSON-lines file that WSGI wrappers write to from any server process.

Tests wrap the app to record what it answered; with ``DAVFILES_TEST_WORKERS`` the app runs in
forked worker processes, so records go to a file all of them append to, not to a list.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


class SharedLog:
    """One JSON object per line; each record is one ``write`` to an O_APPEND file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.touch()

    def append(self, record: dict[str, Any]) -> None:
        line = (json.dumps(record) + "\n").encode()
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND)
        try:
            os.write(fd, line)
        finally:
            os.close(fd)

    def records(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.path.read_text().splitlines() if line]
