"""A fixed answer for WebDAV's real faults: WsgiDAV's 500 page quotes the exception's text.

The exception and its traceback stay in the server's log (WsgiDAV's ErrorPrinter writes them);
the client learns only that the server failed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

FAULT_BODY = b"Internal server error: the server failed on this request; its log has the details.\n"


class HideServerFaults:
    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self.app = app

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterator[bytes]:
        fault: list[bool] = []

        def checked_start_response(status: str, headers: list[Any], *exc_info: Any) -> Any:
            if status.startswith("500"):
                fault.append(True)
                headers = [
                    ("Content-Type", "text/plain; charset=utf-8"),
                    ("Content-Length", str(len(FAULT_BODY))),
                ]
            return start_response(status, headers, *exc_info)

        result = self.app(environ, checked_start_response)
        try:
            for chunk in result:
                if fault:
                    yield FAULT_BODY
                    return
                yield chunk
            if fault:
                yield FAULT_BODY
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
