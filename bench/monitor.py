"""Server-side cost: CPU seconds of each run, and resident memory of every server process.

A server is a process tree (davfiles' worker processes, Apache's children), and what it costs
the machine is the sum over the tree. The kernel's per-process high-water marks would add
peaks reached at different moments, so a thread samples the summed RSS of each tree through
the whole benchmark instead and keeps the highest sum, overall and per run.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import psutil

MIB = 1024 * 1024
# Reading a tree's RSS costs microseconds; finding its processes scans all of /proc
# (about 1.5 ms), so the member list is refreshed less often than the RSS is read.
SAMPLE_S = 0.05
REFRESH_S = 0.5


@dataclass
class Usage:
    """Filled in when the measured block ends."""

    cpu_s: float = 0.0
    peak_rss_mib: float = 0.0
    rss_growth_mib: float = 0.0


class ProcessTree:
    """Server processes (several for several davfiles instances) and their descendants, as
    last listed by ``refresh``; with ``database``, also the CPU of the local PostgreSQL
    server's processes that serve that database (its backends): work the server caused."""

    def __init__(self, pids: Sequence[int], database: str | None = None) -> None:
        self.roots = [psutil.Process(pid) for pid in pids]
        self.members = list(self.roots)
        self._database = database
        # CPU seconds of every backend seen, kept after it exits (it is nobody's child here).
        self._backend_cpu: dict[int, float] = {}

    def refresh(self) -> None:
        members = []
        for root in self.roots:
            try:
                members += [root, *root.children(recursive=True)]
            except psutil.NoSuchProcess:
                continue
        self.members = members
        # Backends count for CPU only: their RSS is mostly PostgreSQL's shared buffers,
        # which each would count again.
        self._backends()

    def _backends(self) -> None:
        """Note the CPU of every backend of the database now running."""
        if self._database is None:
            return
        for process in psutil.process_iter(["name", "cmdline"]):
            # A backend's title: "postgres: USER DATABASE CLIENT STATE".
            words = " ".join(process.info["cmdline"] or []).split()
            if process.info["name"] == "postgres" and self._database in words:
                self._note_backend(process)

    def _note_backend(self, process: psutil.Process) -> None:
        try:
            times = process.cpu_times()
        except psutil.NoSuchProcess:
            return
        self._backend_cpu[process.pid] = times.user + times.system

    def cpu_seconds(self) -> float:
        """User + system time, including children (and backends) that have already ended."""
        total = 0.0
        for root in self.roots:
            times = root.cpu_times()
            total += times.user + times.system + times.children_user + times.children_system
            for child in root.children(recursive=True):
                try:
                    child_times = child.cpu_times()
                except psutil.NoSuchProcess:
                    continue
                total += child_times.user + child_times.system
        self._backends()
        return total + sum(self._backend_cpu.values())

    def rss_bytes(self) -> int:
        """RSS summed over the members that still run."""
        total = 0
        for process in self.members:
            try:
                total += process.memory_info().rss
            except psutil.NoSuchProcess:
                continue
        return total


class Monitor:
    """Samples the summed RSS of every server; ``measure`` gives one run's CPU and peak."""

    def __init__(
        self, pids: Mapping[str, Sequence[int]], databases: Mapping[str, str | None]
    ) -> None:
        """``pids``: each server's root processes; ``databases``: the PostgreSQL database
        a server uses, whose backends' CPU and memory count as the server's."""
        self.trees = {name: ProcessTree(roots, databases.get(name)) for name, roots in pids.items()}
        self._peak = dict.fromkeys(self.trees, 0)
        self._window = dict.fromkeys(self.trees, 0)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample_until_stopped, daemon=True)

    @contextmanager
    def running(self) -> Iterator[Monitor]:
        """Sample from now until the block ends."""
        self._sample(refresh=True)
        self._thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            self._thread.join()

    def peak_mib(self, name: str) -> float:
        """The highest summed RSS of server ``name`` since the monitor started."""
        with self._lock:
            return self._peak[name] / MIB

    @contextmanager
    def measure(self, name: str) -> Iterator[Usage]:
        """CPU used and highest summed RSS of server ``name`` during the block."""
        usage = Usage()
        tree = self.trees[name]
        tree.refresh()
        rss_before = tree.rss_bytes()
        with self._lock:
            self._window[name] = rss_before
        cpu_before = tree.cpu_seconds()
        yield usage
        usage.cpu_s = tree.cpu_seconds() - cpu_before
        self._sample(refresh=True)
        with self._lock:
            peak = self._window[name]
        usage.peak_rss_mib = peak / MIB
        usage.rss_growth_mib = max(0, peak - rss_before) / MIB

    def _sample_until_stopped(self) -> None:
        refreshed = time.monotonic()
        while not self._stop.wait(SAMPLE_S):
            refresh = time.monotonic() - refreshed >= REFRESH_S
            if refresh:
                refreshed = time.monotonic()
            self._sample(refresh)

    def _sample(self, refresh: bool) -> None:
        for name, tree in self.trees.items():
            if refresh:
                tree.refresh()
            rss = tree.rss_bytes()
            with self._lock:
                self._peak[name] = max(self._peak[name], rss)
                self._window[name] = max(self._window[name], rss)
