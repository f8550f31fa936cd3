"""How long the web app's server takes to render a folder page: ``python -m bench.web_pages``.

The issue's bar: a 200-row page in under 100 ms on the development machine, and a page deep in
a 100,000-entry folder as fast as the first page of a 200-entry one (the listing is read by
keyset, never sorted or skipped through). Calls the WSGI application in this process, as
``bench.cpu_profile`` does, with a logged-in browser session, so the figures are the server's
own: the store's page query, the template and the headers, without a network. Prints the
median and the slowest wall and CPU milliseconds per page over the repetitions.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from bench.cpu_profile import PASSWORD, USER, InProcessClient, fill_folder
from davfiles.app import create_app, create_services, web_sessions
from davfiles.config import Settings
from davfiles.web.app import SESSION_COOKIE

SMALL, LARGE = 200, 100_000
# What each row measures: a label and the page's path, query included.
PAGES = (
    ("200 entries, page 1", "/app/files/small/"),
    ("100,000 entries, page 1", "/app/files/large/"),
    ("100,000 entries, page 500 by name", "/app/files/large/?after=file-99799.txt"),
    (
        "100,000 entries, page 500 by size",
        "/app/files/large/?sort=size&after=file-99799.txt&at=4096",
    ),
    ("100,000 entries, newest first", "/app/files/large/?sort=modified&desc=1"),
    ("search of 100,000 entries", "/app/files/large/?q=file-0999"),
)


def measure(
    client: InProcessClient, path: str, cookie: str, repetitions: int
) -> tuple[list[float], list[float]]:
    """Wall and CPU milliseconds of each of ``repetitions`` renders of ``path``."""
    walls, cpus = [], []
    for _ in range(repetitions):
        wall, cpu = time.perf_counter(), time.process_time()
        status = client.page(path, cookie)
        cpus.append((time.process_time() - cpu) * 1000)
        walls.append((time.perf_counter() - wall) * 1000)
        if not status.startswith("200"):
            raise RuntimeError(f"{path} answered {status}")
    return walls, cpus


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.web_pages", description=__doc__)
    parser.add_argument("--repetitions", type=int, default=20, help="renders per page (default 20)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as data_dir:
        services = create_services(Settings(data_dir=Path(data_dir)))
        try:
            owner = services.accounts.add_user(USER, PASSWORD, max_bytes=None, max_files=None)
            fill_folder(services, "small", SMALL)
            fill_folder(services, "large", LARGE)
            cookie = f"{SESSION_COOKIE}={web_sessions(services).start(owner, '127.0.0.1', 'bench')}"
            client = InProcessClient(create_app(services))
            print(f"{args.repetitions} renders of each page")
            print("| page | median ms | slowest ms | median CPU ms |")
            print("|---|---|---|---|")
            for label, path in PAGES:
                measure(client, path, cookie, 2)
                walls, cpus = measure(client, path, cookie, args.repetitions)
                print(
                    f"| {label} | {statistics.median(walls):.1f} | {max(walls):.1f} "
                    f"| {statistics.median(cpus):.1f} |"
                )
        finally:
            services.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
