"""MD5 and SHA-1 of an upload, computed beside the request thread for large bodies.

hashlib releases the GIL while it hashes a large block, so a digest fed from its own thread
runs on another core while the request thread receives and writes the next block: a large
upload is then bound by the slowest of the three, not their sum. Small bodies are hashed
inline, where starting threads would cost more than the hashing.
"""

from __future__ import annotations

import hashlib
import queue
import threading
from typing import Any

# Bodies up to this size are hashed inline; beyond it, in two threads.
PARALLEL_FROM = 4 * 1024 * 1024
# Blocks waiting per digest thread: bounds the memory an upload holds (blocks are shared).
QUEUE_BLOCKS = 8


class _DigestThread:
    """One hash object fed from a bounded queue by a thread of its own."""

    def __init__(self, digest: Any) -> None:
        self.digest = digest
        self._blocks: queue.Queue[bytes | None] = queue.Queue(maxsize=QUEUE_BLOCKS)
        self._thread = threading.Thread(target=self._run, name="davfiles-digest", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (block := self._blocks.get()) is not None:
            self.digest.update(block)

    def put(self, block: bytes) -> None:
        self._blocks.put(block)

    def join(self) -> None:
        self._blocks.put(None)
        self._thread.join()


class Digests:
    """MD5 and SHA-1 of everything passed to ``update``, in order."""

    def __init__(self) -> None:
        self._md5 = hashlib.md5(usedforsecurity=False)
        self._sha1 = hashlib.sha1(usedforsecurity=False)
        self._threads: list[_DigestThread] = []
        self._parallel = False
        self._seen = 0

    def update(self, data: bytes | bytearray | memoryview) -> None:
        self._seen += len(data)
        if not self._parallel and self._seen > PARALLEL_FROM:
            self._parallel = True
            self._threads = [_DigestThread(self._md5), _DigestThread(self._sha1)]
        if not self._threads:
            self._md5.update(data)
            self._sha1.update(data)
            return
        # The caller may reuse its buffer once we return; the threads need bytes that stay.
        block = data if isinstance(data, bytes) else bytes(data)
        for thread in self._threads:
            thread.put(block)

    def close(self) -> None:
        """Wait for the threads to hash what they were given; idempotent."""
        for thread in self._threads:
            thread.join()
        self._threads = []

    @property
    def md5(self) -> str:
        self.close()
        return self._md5.hexdigest()

    @property
    def sha1(self) -> str:
        self.close()
        return self._sha1.hexdigest()
