"""Server-side cost of one run: CPU seconds and peak resident memory of the process tree.

Peak memory is the kernel's high-water mark (VmHWM), reset before each run through
/proc/PID/clear_refs, so a spike between two samples is not missed. Linux only.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psutil

MIB = 1024 * 1024


@dataclass
class Usage:
    """Filled in when the measured block ends."""

    cpu_s: float = 0.0
    peak_rss_mib: float = 0.0
    rss_growth_mib: float = 0.0


class ProcessTree:
    """A server process and its children (several workers share one port)."""

    def __init__(self, pid: int) -> None:
        self.root = psutil.Process(pid)

    def _processes(self) -> list[psutil.Process]:
        return [self.root, *self.root.children(recursive=True)]

    def cpu_seconds(self) -> float:
        """User + system time, including children that have already ended."""
        times = self.root.cpu_times()
        total = times.user + times.system + times.children_user + times.children_system
        for child in self.root.children(recursive=True):
            try:
                child_times = child.cpu_times()
            except psutil.NoSuchProcess:
                continue
            total += child_times.user + child_times.system
        return total

    def rss_bytes(self) -> int:
        return sum(process.memory_info().rss for process in self._processes())

    def reset_peak(self) -> None:
        for process in self._processes():
            Path(f"/proc/{process.pid}/clear_refs").write_text("5")

    def peak_bytes(self) -> int:
        """Sum of each process' high-water mark since the last reset_peak()."""
        return sum(_high_water_mark(process.pid) for process in self._processes())


def _high_water_mark(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmHWM in /proc/{pid}/status")


@contextmanager
def measure(tree: ProcessTree) -> Iterator[Usage]:
    """CPU used and peak RSS reached by ``tree`` during the block."""
    usage = Usage()
    tree.reset_peak()
    rss_before = tree.rss_bytes()
    cpu_before = tree.cpu_seconds()
    yield usage
    usage.cpu_s = tree.cpu_seconds() - cpu_before
    peak = tree.peak_bytes()
    usage.peak_rss_mib = peak / MIB
    usage.rss_growth_mib = max(0, peak - rss_before) / MIB
