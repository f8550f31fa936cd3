"""A 1 GiB upload streams through the server: its memory stays flat."""

from __future__ import annotations

import hashlib
import http.client
import threading
from pathlib import Path

import psutil
import pytest
import requests

from tests.harness import CliServer

GIB = 1024**3
CHUNK = b"\x5a" * (1024 * 1024)
MAX_RSS_GROWTH = 64 * 1024 * 1024


class PeakRss:
    """Samples the RSS of a process and its workers, summed, in the background; keeps the peak."""

    def __init__(self, pid: int) -> None:
        process = psutil.Process(pid)
        self._tree = [process, *process.children()]
        self.baseline = self._rss()
        self.peak = self.baseline
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, self._rss())

    def _rss(self) -> int:
        return sum(process.memory_info().rss for process in self._tree)

    def stop(self) -> int:
        self._stop.set()
        self._thread.join(timeout=5)
        return self.peak - self.baseline


@pytest.mark.slow
def test_one_gib_put_keeps_server_memory_flat(tmp_path: Path) -> None:
    server = CliServer(tmp_path / "data", tmp_path / "server.log")
    try:
        auth = ("admin", server.admin_password)
        # Warm up: first request loads code paths and connection pools.
        assert requests.put(f"{server.base}/dav/warm", data=b"x", auth=auth).status_code == 201
        meter = PeakRss(server.process.pid)
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=120)
        connection.putrequest("PUT", "/dav/big.bin")
        token = requests.auth._basic_auth_str(*auth)
        connection.putheader("Authorization", token)
        connection.putheader("Content-Length", str(GIB))
        connection.endheaders()
        expected = hashlib.md5()
        for _ in range(GIB // len(CHUNK)):
            connection.send(CHUNK)
            expected.update(CHUNK)
        response = connection.getresponse()
        response.read()
        growth = meter.stop()
        assert response.status == 201
        print(f"server RSS growth during a 1 GiB PUT: {growth / 2**20:.1f} MiB")
        assert growth < MAX_RSS_GROWTH, f"server RSS grew by {growth / 2**20:.1f} MiB"
        head = requests.head(f"{server.base}/dav/big.bin", auth=auth)
        assert int(head.headers["Content-Length"]) == GIB
        assert head.headers["ETag"].strip('"') == expected.hexdigest()
    finally:
        server.stop()
