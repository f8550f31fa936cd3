"""`davfiles serve` with metrics or an access log configured, and reading what it reports."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import requests
import yaml
from prometheus_client.parser import text_string_to_metric_families

from tests.harness import CliServer

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def serve(
    tmp_path: Path,
    options: Mapping[str, object],
    users: Mapping[str, str | None] = {},  # noqa: B006 (read only)
    workers: int | None = None,
) -> CliServer:
    """A server of its own with ``options`` in its config file; ``users`` (name -> byte
    quota or None) are made first, each with the password ``pw-<name>``."""
    data = tmp_path / "data"
    tmp_path.mkdir(parents=True, exist_ok=True)
    config = tmp_path / "davfiles.yaml"
    config.write_text(yaml.safe_dump({"davfiles": dict(options)}))
    for name, quota in users.items():
        command = [sys.executable, "-m", "davfiles", "user", "add", name]
        command += ["--password", f"pw-{name}", "--max-bytes", quota or "unlimited"]
        command += ["--data-dir", str(data), "--config", str(config)]
        subprocess.run(command, check=True, capture_output=True, timeout=60)
    args = ("--config", str(config)) + (("--workers", str(workers)) if workers else ())
    return CliServer(data, tmp_path / "server.log", args=args)


def metrics_url(server: CliServer) -> str:
    """Where the server said it serves ``metrics_listen``."""
    found = re.search(r"davfiles metrics on (http://\S+)", server.output())
    assert found, server.output()
    return found.group(1)


def scrape(url: str, token: str | None = None) -> Samples:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = requests.get(url, headers=headers, timeout=30)
    assert response.status_code == 200, response.text
    samples: Samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)
