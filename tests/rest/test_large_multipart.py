"""A 1 GiB multipart upload streams into the store: the server's memory stays flat."""

from __future__ import annotations

import base64
import http.client
from pathlib import Path

import pytest
import requests

from tests.dav.test_large_upload import CHUNK, GIB, MAX_RSS_GROWTH, PeakRss
from tests.harness import CliServer

BOUNDARY = "davfiles-test-boundary-7d3c"


@pytest.mark.slow
def test_one_gib_multipart_upload_keeps_server_memory_flat(tmp_path: Path) -> None:
    server = CliServer(tmp_path / "data", tmp_path / "server.log")
    try:
        credentials = base64.b64encode(f"admin:{server.admin_password}".encode()).decode()
        head = (
            f"--{BOUNDARY}\r\n"
            'Content-Disposition: form-data; name="description"\r\n\r\nbig one\r\n'
            f"--{BOUNDARY}\r\n"
            'Content-Disposition: form-data; name="file"; filename="big.bin"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        tail = f"\r\n--{BOUNDARY}--\r\n".encode()
        warm_up = requests.put(
            f"{server.base}/backend/user_files",
            auth=("admin", server.admin_password),
            files={"file": ("warm.bin", b"x" * 4096)},
        )
        assert warm_up.status_code == 200
        meter = PeakRss(server.process.pid)
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=120)
        connection.putrequest("PUT", "/backend/user_files")
        connection.putheader("Authorization", f"Basic {credentials}")
        connection.putheader("Content-Type", f"multipart/form-data; boundary={BOUNDARY}")
        connection.putheader("Content-Length", str(len(head) + GIB + len(tail)))
        connection.endheaders()
        connection.send(head)
        for _ in range(GIB // len(CHUNK)):
            connection.send(CHUNK)
        connection.send(tail)
        response = connection.getresponse()
        body = response.read()
        growth = meter.stop()
        assert response.status == 200, body
        print(f"server RSS growth during a 1 GiB multipart upload: {growth / 2**20:.1f} MiB")
        assert growth < MAX_RSS_GROWTH, f"server RSS grew by {growth / 2**20:.1f} MiB"
        head_response = requests.head(
            f"{server.base}/dav/big.bin", auth=("admin", server.admin_password)
        )
        assert int(head_response.headers["Content-Length"]) == GIB
    finally:
        server.stop()
