"""glibc malloc settings for a server process, set once at its start.

Two glibc defaults let freed memory stay resident. The threshold above which an allocation
gets its own mapping (returned to the system on free) grows to the size of the largest block
freed so far: after one argon2 verification (19 MiB), every later one came from the heap and
stayed there. And each thread that allocates concurrently may get an arena of its own (up to
8 per core) that keeps its freed memory. The threshold sits between the two sizes that matter:
argon2's blocks get mappings of their own and go back on free, while the 1 MiB blocks of file
bodies are reused from the heap (at 128 KiB every body block was a fresh mapping whose pages
the kernel zeroed: a 1 GiB GET ran at 750 MB/s instead of 1,900, a PUT at 180 instead of 400).
Fixing the threshold also fixes the trim threshold, glibc's point for handing free memory at
the top of the heap back: at its 128 KiB default each freed body block went back and the next
one faulted its pages in again (a worker's GET at 1,000 MB/s); 8 MiB keeps a few blocks.
Two arenas cost no measurable throughput (the GIL serialises Python's allocations anyway); see
bench/README.md.
"""

from __future__ import annotations

import ctypes

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_M_ARENA_MAX = -8
MMAP_THRESHOLD = 4 * 1024 * 1024
TRIM_THRESHOLD = 8 * 1024 * 1024
ARENA_MAX = 2


def limit_malloc() -> bool:
    """Fix the mmap threshold and cap the arenas; False where the C library is not glibc."""
    mallopt = getattr(ctypes.CDLL(None), "mallopt", None)
    if mallopt is None:
        return False
    return bool(
        mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)
        and mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD)
        and mallopt(_M_ARENA_MAX, ARENA_MAX)
    )
