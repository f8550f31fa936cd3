"""Where davfiles spends its CPU per request: ``python -m bench.cpu_profile WORKLOAD [COUNT]``.

Calls the WSGI application in this process, without a server or a network in between, so the
figures are davfiles' own cost (WsgiDAV included) per request. Prints the CPU milliseconds per
operation and the functions with the most cumulative time under cProfile (which slows every
call, so compare the shares, not the absolute times). WORKLOAD is one of:

- ``get``: GET of one 4 KiB file (W4's request);
- ``put``: PUT of a new 4 KiB file (W2's request);
- ``churn``: MKCOL, PUT, MOVE, DELETE (one W5 cycle);
- ``propfind``: PROPFIND Depth 1 with allprop of a folder of 10,000 files (W3);
- ``propfind-named``: the same with W3's four named properties.
"""

from __future__ import annotations

import argparse
import base64
import cProfile
import hashlib
import io
import pstats
import re
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.workloads import NAMED_PROPS
from davfiles.app import create_app, create_services
from davfiles.body_rate import BODY_RECEIVED_KEY
from davfiles.config import Settings
from davfiles.db.models import Node
from davfiles.metrics_dir import MetricsDir
from davfiles.store import parse_user_path

USER, PASSWORD = "bench", "bench-password"
ALLPROP = b'<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:allprop/></D:propfind>'
LISTING_FILES = 10_000


class InProcessClient:
    """Sends requests straight to the WSGI application as an authenticated user.

    With ``digest``, it answers one Digest challenge and then counts ``nc`` up on that nonce,
    as clients do (the MD5s it computes per request cost a few microseconds).
    """

    def __init__(self, app: Any, *, digest: bool = False) -> None:
        self._app = app
        self._basic = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
        self._nonce = self._challenge_nonce() if digest else None
        self._nc = 0

    def _challenge_nonce(self) -> str:
        headers: list[tuple[str, str]] = []
        self._send("GET", "/dav/", b"", {}, None, headers)
        for name, value in headers:
            found = re.search(r'Digest .*nonce="([^"]+)"', value)
            if name.lower() == "www-authenticate" and found:
                return found.group(1)
        raise RuntimeError("no Digest challenge: is accept_digest off?")

    def _authorization(self, method: str, path: str) -> str:
        if self._nonce is None:
            return self._basic
        self._nc += 1
        nc = f"{self._nc:08x}"
        cnonce = "bench"
        ha1 = _md5(f"{USER}:davfiles:{PASSWORD}")
        response = _md5(f"{ha1}:{self._nonce}:{nc}:{cnonce}:auth:{_md5(f'{method}:{path}')}")
        return (
            f'Digest username="{USER}", realm="davfiles", nonce="{self._nonce}", uri="{path}", '
            f'algorithm=MD5, qop=auth, nc={nc}, cnonce="{cnonce}", response="{response}"'
        )

    def __call__(
        self, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None
    ) -> str:
        return self._send(method, path, body, headers or {}, self._authorization(method, path))

    def page(self, path: str, cookie: str) -> str:
        """A browser's GET of a web app page with its session ``cookie``."""
        headers = {"Cookie": cookie, "Accept": "text/html"}
        return self._send("GET", path, b"", headers, None)

    def _send(
        self,
        method: str,
        path: str,
        body: bytes,
        headers: dict[str, str],
        authorization: str | None,
        response_headers: list[tuple[str, str]] | None = None,
    ) -> str:
        path_info, _mark, query = path.partition("?")
        environ = {
            "REQUEST_METHOD": method,
            "PATH_INFO": path_info,
            "SCRIPT_NAME": "",
            "QUERY_STRING": query,
            "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": "8080",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "REMOTE_ADDR": "127.0.0.1",
            "HTTP_HOST": "127.0.0.1:8080",
            "CONTENT_LENGTH": str(len(body)),
            "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(body),
            # As the server says of a small body sent with its head.
            BODY_RECEIVED_KEY: True,
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": True,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
        }
        if authorization is not None:
            environ["HTTP_AUTHORIZATION"] = authorization
        for name, value in headers.items():
            environ["HTTP_" + name.upper().replace("-", "_")] = value
        status: list[str] = []

        def start_response(line: str, sent: list[tuple[str, str]], *_: Any) -> None:
            status.append(line)
            if response_headers is not None:
                response_headers.extend(sent)

        result = self._app(environ, start_response)
        try:
            for _chunk in result:
                pass
        finally:
            # As a server does (PEP 3333): what runs when the answer ends is measured too.
            close = getattr(result, "close", None)
            if close is not None:
                close()
        return status[0]


def _md5(text: str) -> str:
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


def _operations(client: InProcessClient) -> dict[str, Callable[[int], None]]:
    def get(_index: int) -> None:
        client("GET", "/dav/small.bin")

    def put(index: int) -> None:
        client("PUT", f"/dav/put-{index}.bin", b"p" * 4096)

    def churn(index: int) -> None:
        client("MKCOL", f"/dav/made-{index}")
        client("PUT", f"/dav/made-{index}/file.bin", b"c" * 4096)
        destination = f"http://127.0.0.1:8080/dav/moved-{index}"
        client("MOVE", f"/dav/made-{index}", headers={"Destination": destination})
        client("DELETE", f"/dav/moved-{index}")

    def propfind(_index: int) -> None:
        client("PROPFIND", "/dav/listing/", ALLPROP, {"Depth": "1"})

    def propfind_named(_index: int) -> None:
        client("PROPFIND", "/dav/listing/", NAMED_PROPS, {"Depth": "1"})

    return {
        "get": get,
        "put": put,
        "churn": churn,
        "propfind": propfind,
        "propfind-named": propfind_named,
    }


def fill_folder(services: Any, folder: str = "listing", count: int = LISTING_FILES) -> None:
    """A folder of ``count`` file records, written directly: only reading it is measured."""
    owner = services.accounts.owner(USER)
    services.store.mkdir(owner, parse_user_path("/" + folder))
    now = time.time()
    with services.db.write() as session:
        for number in range(count):
            session.add(
                Node(
                    owner_id=owner.id,
                    parent=folder,
                    name=f"file-{number:05d}.txt",
                    is_dir=False,
                    size=4096,
                    content_type="text/plain",
                    md5="0" * 32,
                    sha1="0" * 40,
                    created_at=now,
                    modified_at=now,
                )
            )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.cpu_profile", description=__doc__)
    parser.add_argument("workload", choices=["get", "put", "churn", "propfind", "propfind-named"])
    parser.add_argument(
        "count", type=int, nargs="?", help="operations measured (default 300; propfind 5)"
    )
    parser.add_argument("--top", type=int, default=30, help="functions listed")
    parser.add_argument(
        "--digest", action="store_true", help="authenticate with HTTP Digest instead of Basic"
    )
    parser.add_argument(
        "--metrics",
        action="store_true",
        help="with Prometheus metrics, stored as a server's workers store them",
    )
    parser.add_argument("--access-log", metavar="FILE", help="with an access log written to FILE")
    args = parser.parse_args(argv)
    listing = args.workload.startswith("propfind")
    count = args.count or (5 if listing else 300)
    with tempfile.TemporaryDirectory() as data_dir:
        settings = Settings(
            data_dir=Path(data_dir),
            metrics_token="bench-metrics-token" if args.metrics else None,
            access_log=args.access_log,
        )
        metrics = MetricsDir.create(settings)
        services = create_services(settings)
        services.accounts.add_user(USER, PASSWORD, max_bytes=None, max_files=None)
        client = InProcessClient(create_app(services), digest=args.digest)
        client("PUT", "/dav/small.bin", b"s" * 4096)
        if listing:
            fill_folder(services)
        operation = _operations(client)[args.workload]
        for warm_up in range(5):
            operation(-1 - warm_up)
        started = time.process_time()
        for index in range(count):
            operation(index)
        cpu_ms = (time.process_time() - started) / count * 1000
        scheme = "Digest" if args.digest else "Basic"
        print(f"{args.workload} ({scheme}): {cpu_ms:.3f} ms CPU per operation ({count} operations)")
        profile = cProfile.Profile()
        profile.enable()
        for index in range(count):
            operation(count + index)
        profile.disable()
        pstats.Stats(profile).sort_stats("cumulative").print_stats(args.top)
        services.close()
        if metrics is not None:
            metrics.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
