"""davfiles serve --certfile/--keyfile serves HTTPS with cheroot's built-in adapter."""

from __future__ import annotations

import subprocess
from pathlib import Path

import requests

from tests.harness import CliServer


def self_signed(tmp_path: Path) -> tuple[Path, Path]:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return cert, key


def test_https_with_basic_auth(tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    server = CliServer(
        tmp_path / "data",
        tmp_path / "server.log",
        args=("--certfile", str(cert), "--keyfile", str(key)),
    )
    try:
        assert server.base.startswith("https://")
        response = requests.request(
            "PROPFIND",
            server.base + "/dav/",
            headers={"Depth": "0"},
            auth=("admin", server.admin_password),
            verify=str(cert),
        )
        assert response.status_code == 207
    finally:
        server.stop()
