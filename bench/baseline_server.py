"""The baseline: plain WsgiDAV (FilesystemProvider, simple_dc) on cheroot, as users run it.

Same libraries as davfiles, no quotas and no database. Prints ``serving URL`` once it listens,
in the form ``davfiles serve`` uses, so one reader finds the port of either server.
"""

from __future__ import annotations

import argparse
import signal
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cheroot import wsgi
from wsgidav.fs_dav_provider import FilesystemProvider
from wsgidav.wsgidav_app import WsgiDAVApp

MOUNT = "/dav"
# WsgiDAV's own command line runs cheroot with 50 threads.
THREADS = 50
# The listen backlog davfiles uses: cheroot's default of 5 resets connections in a burst,
# which would measure refused connections instead of the server.
LISTEN_BACKLOG = 128


def baseline_app(root: Path, users: Mapping[str, str]) -> WsgiDAVApp:
    """WsgiDAV's defaults, with one share at /dav that every user of simple_dc shares."""
    user_mapping = {name: {"password": password} for name, password in users.items()}
    config: dict[str, Any] = {
        "provider_mapping": {MOUNT: FilesystemProvider(str(root))},
        "simple_dc": {"user_mapping": {"*": user_mapping}},
        "verbose": 2,
        "logging": {"enable": False},
    }
    return WsgiDAVApp(config)


def baseline_server(root: Path, users: Mapping[str, str], port: int = 0) -> wsgi.Server:
    """The cheroot server WsgiDAV's command line would run, on loopback; call ``prepare``."""
    server = wsgi.Server(
        ("127.0.0.1", port),
        baseline_app(root, users),
        numthreads=THREADS,
        server_name="wsgidav-baseline",
        request_queue_size=LISTEN_BACKLOG,
    )
    server.shutdown_timeout = 1
    return server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, required=True, help="folder to serve")
    parser.add_argument("--user", required=True)
    parser.add_argument("--password", required=True)
    parser.add_argument("--port", type=int, default=0, help="0: any free port")
    args = parser.parse_args()
    args.root.mkdir(parents=True, exist_ok=True)
    server = baseline_server(args.root, {args.user: args.password}, args.port)
    server.prepare()
    host, port = server.bind_addr[:2]
    print(f"baseline serving http://{host}:{port}{MOUNT}/", flush=True)
    signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        server.serve()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


def _raise_interrupt(_signum: int, _frame: Any) -> None:
    """Stop serving on SIGTERM as on Ctrl-C."""
    raise KeyboardInterrupt


if __name__ == "__main__":
    main()
