"""The workloads W1-W5 of issue 6: what each sends, what it checks and what it measures.

Each workload is prepared once per server (untimed), then every repetition runs
``before`` (untimed), ``run`` (timed, server cost measured) and ``after`` (untimed cleanup).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from bench.clients import RunFailed, curl, expect_status, wrk_counted, wrk_timed
from bench.servers import Server

MB = 1_000_000
SMALL_FILE = 4096
HREF = re.compile(rb"<(?:[A-Za-z][\w.-]*:)?href>")
ALLPROP = b'<?xml version="1.0"?><propfind xmlns="DAV:"><allprop/></propfind>'
NAMED_PROPS = (
    b'<?xml version="1.0"?><propfind xmlns="DAV:"><prop>'
    b"<resourcetype/><getcontentlength/><getlastmodified/><getetag/>"
    b"</prop></propfind>"
)


# Not a metric of the tables: the requests a run made, for the server's CPU per request.
REQUESTS = "requests"


def _deadline(requests: int) -> float:
    """A bound for ``requests`` small requests that only a hung server reaches."""
    return 60.0 + 0.1 * requests


@dataclass(frozen=True)
class Metric:
    name: str
    higher_is_better: bool


class Workload:
    """Base: no-op hooks; subclasses set key, title, metrics, reps and ``run``."""

    key = ""
    title = ""
    metrics: tuple[Metric, ...] = ()

    def __init__(self, reps: int) -> None:
        self.reps = reps

    def prepare(self, server: Server) -> None:
        """Once per server, before the first repetition."""

    def before(self, server: Server, rep: int) -> None:
        """Before each repetition, outside the measurement."""

    def run(self, server: Server, rep: int) -> dict[str, float]:
        raise NotImplementedError

    def after(self, server: Server, rep: int) -> None:
        """After each repetition, outside the measurement."""


def _mkcol(server: Server, path: str) -> None:
    expect_status(curl(server, "MKCOL", path, timeout_s=60), (201,), f"MKCOL {path}")


def _delete(server: Server, path: str) -> None:
    expect_status(curl(server, "DELETE", path, timeout_s=300), (200, 204), f"DELETE {path}")


class BigFile(Workload):
    """W1: PUT then GET of one big file with curl."""

    key = "W1"
    metrics = (Metric("PUT MB/s", True), Metric("GET MB/s", True))

    def __init__(self, reps: int, size: int, work: Path) -> None:
        super().__init__(reps)
        self.size = size
        self.source = work / "big-source.bin"
        self.title = f"PUT then GET of a {size / 2**20:,.0f} MiB file (curl)"
        self.timeout_s = 60.0 + size / (5 * MB)

    def prepare(self, server: Server) -> None:
        if not self.source.exists():
            block = os.urandom(2**20)
            with self.source.open("wb") as out:
                for _ in range(self.size // len(block)):
                    out.write(block)
                out.write(block[: self.size % len(block)])
        _mkcol(server, "w1/")

    def run(self, server: Server, rep: int) -> dict[str, float]:
        path = f"w1/big-{rep}.bin"
        put = curl(server, "PUT", path, upload=self.source, timeout_s=self.timeout_s)
        expect_status(put, (201, 204), f"PUT {path}")
        get = expect_status(
            curl(server, "GET", path, timeout_s=self.timeout_s), (200,), f"GET {path}"
        )
        if put.uploaded != self.size or get.downloaded != self.size:
            raise RunFailed(f"{path}: sent {put.uploaded}, got back {get.downloaded} bytes")
        return {
            "PUT MB/s": self.size / MB / put.total_s,
            "GET MB/s": self.size / MB / get.total_s,
            REQUESTS: 2,
        }

    def after(self, server: Server, rep: int) -> None:
        _delete(server, f"w1/big-{rep}.bin")


class SmallPuts(Workload):
    """W2: many 4 KiB PUTs of new files from concurrent clients (wrk)."""

    key = "W2"
    metrics = (Metric("PUTs/s", True),)
    clients = 8

    def __init__(self, reps: int, count: int) -> None:
        super().__init__(reps)
        self.count = count
        self.title = f"{count:,} PUTs of 4 KiB, {self.clients} clients (wrk)"

    def before(self, server: Server, rep: int) -> None:
        _mkcol(server, f"w2-{rep}/")

    def run(self, server: Server, rep: int) -> dict[str, float]:
        result = wrk_counted(
            server,
            "put_files.lua",
            total=self.count,
            threads=self.clients,
            args=[server.path(f"w2-{rep}"), str(SMALL_FILE)],
            deadline_s=_deadline(self.count),
        ).check(f"W2 on {server.name}", self.count)
        return {"PUTs/s": self.count / result.elapsed_s, REQUESTS: self.count}

    def after(self, server: Server, rep: int) -> None:
        _delete(server, f"w2-{rep}/")


class ListingFolder:
    """The folder of many files that the W3 listings share, filled once per server."""

    path = "w3"
    clients = 8

    def __init__(self, files: int) -> None:
        self.files = files
        self._filled: set[str] = set()

    def ensure(self, server: Server) -> None:
        if server.name in self._filled:
            return
        _mkcol(server, f"{self.path}/")
        wrk_counted(
            server,
            "put_files.lua",
            total=self.files,
            threads=self.clients,
            args=[server.path(self.path), str(SMALL_FILE)],
            deadline_s=_deadline(self.files),
        ).check(f"filling {self.path} on {server.name}", self.files)
        self._filled.add(server.name)


class Listing(Workload):
    """W3: PROPFIND Depth 1 of the big folder (curl), total time and time to first byte."""

    metrics = (Metric("time s", False), Metric("first byte ms", False))

    def __init__(self, reps: int, folder: ListingFolder, variant: str, work: Path) -> None:
        super().__init__(reps)
        self.folder = folder
        self.variant = variant
        self.body = ALLPROP if variant == "allprop" else NAMED_PROPS
        self.key = f"W3 {variant}"
        what = "allprop" if variant == "allprop" else "4 named props"
        self.title = f"PROPFIND Depth 1, {folder.files:,} files, {what} (curl)"
        self.work = work

    def prepare(self, server: Server) -> None:
        self.folder.ensure(server)

    def run(self, server: Server, rep: int) -> dict[str, float]:
        output = self.work / f"propfind-{server.name}.xml"
        transfer = curl(
            server,
            "PROPFIND",
            f"{self.folder.path}/",
            body=self.body,
            headers=("Depth: 1", "Content-Type: application/xml"),
            output=output,
            timeout_s=_deadline(self.folder.files),
        )
        expect_status(transfer, (207,), f"PROPFIND {self.folder.path}/")
        entries = len(HREF.findall(output.read_bytes()))
        output.unlink()
        if entries != self.folder.files + 1:
            raise RunFailed(f"listing has {entries} entries, expected {self.folder.files + 1}")
        return {
            "time s": transfer.total_s,
            "first byte ms": transfer.first_byte_s * 1000,
            REQUESTS: 1,
        }


class HotGet(Workload):
    """W4: GET of one 4 KiB file over many keep-alive connections for a fixed time (wrk)."""

    key = "W4"
    metrics = (Metric("req/s", True), Metric("p99 ms", False))
    connections = 32
    # One wrk thread keeps 32 connections busy and leaves the other core to the server.
    threads = 1

    def __init__(self, reps: int, seconds: int) -> None:
        super().__init__(reps)
        self.seconds = seconds
        self.title = f"GET of one 4 KiB file, {self.connections} connections, {seconds} s (wrk)"

    def prepare(self, server: Server) -> None:
        put = curl(server, "PUT", "w4.bin", body=b"x" * SMALL_FILE, timeout_s=60)
        expect_status(put, (201, 204), "PUT w4.bin")

    def run(self, server: Server, rep: int) -> dict[str, float]:
        result = wrk_timed(
            server,
            "get_one.lua",
            "w4.bin",
            connections=self.connections,
            threads=self.threads,
            duration_s=self.seconds,
        ).check(f"W4 on {server.name}")
        if result.requests == 0:
            raise RunFailed(f"W4 on {server.name}: no request completed")
        return {
            "req/s": result.requests / result.elapsed_s,
            "p99 ms": result.p99_ms,
            REQUESTS: result.requests,
        }


class Churn(Workload):
    """W5: cycles of MKCOL, PUT, MOVE, DELETE from concurrent clients (wrk)."""

    key = "W5"
    metrics = (Metric("cycles/s", True),)
    clients = 4

    def __init__(self, reps: int, cycles: int) -> None:
        super().__init__(reps)
        self.cycles = cycles
        self.title = f"{cycles:,} x (MKCOL, PUT, MOVE, DELETE), {self.clients} clients (wrk)"

    def before(self, server: Server, rep: int) -> None:
        _mkcol(server, f"w5-{rep}/")

    def run(self, server: Server, rep: int) -> dict[str, float]:
        result = wrk_counted(
            server,
            "churn.lua",
            total=self.cycles,
            threads=self.clients,
            args=[server.path(f"w5-{rep}"), str(SMALL_FILE), server.origin],
            deadline_s=_deadline(4 * self.cycles),
        ).check(f"W5 on {server.name}", 4 * self.cycles)
        return {"cycles/s": self.cycles / result.elapsed_s, REQUESTS: 4 * self.cycles}

    def after(self, server: Server, rep: int) -> None:
        _delete(server, f"w5-{rep}/")


@dataclass(frozen=True)
class Plan:
    """Sizes and repetitions of one mode."""

    name: str
    reps: int
    long_reps: int
    big_file_bytes: int
    small_puts: int
    listing_files: int
    hot_get_seconds: int
    churn_cycles: int

    def workloads(self, work: Path) -> list[Workload]:
        folder = ListingFolder(self.listing_files)
        return [
            BigFile(self.long_reps, self.big_file_bytes, work),
            SmallPuts(self.reps, self.small_puts),
            Listing(self.reps, folder, "allprop", work),
            Listing(self.reps, folder, "props", work),
            HotGet(self.long_reps, self.hot_get_seconds),
            Churn(self.reps, self.churn_cycles),
        ]


QUICK = Plan(
    name="quick",
    reps=2,
    long_reps=2,
    big_file_bytes=32 * 2**20,
    small_puts=120,
    listing_files=240,
    hot_get_seconds=2,
    churn_cycles=24,
)
FULL = Plan(
    name="full",
    reps=3,
    long_reps=3,
    big_file_bytes=2**30,
    small_puts=2000,
    listing_files=10_000,
    hot_get_seconds=10,
    churn_cycles=500,
)
