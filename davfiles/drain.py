"""Read what is left of a small request body after an early answer (507, 401, 409 ...).

A server that answers before reading the body and then closes the connection with unread
bytes makes the kernel send a reset, and clients often lose the answer to it. Bodies up to
``limit`` bytes are drained so the client reads the status; larger ones are left to the
server, which closes the connection. A client too slow for the body rate is not waited for.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from davfiles.errors import BodyTooSlow

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

DRAIN_LIMIT = 1024 * 1024
_BLOCK = 64 * 1024


def _cheroot_size(size: int | None) -> int | None:
    """cheroot reads a negative size literally, until the connection closes: "the rest of the
    body" is None there."""
    return None if size is None or size < 0 else size


class CountingInput:
    """A request body that counts the bytes read from it."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream
        self.consumed = 0

    def read(self, size: int | None = -1) -> bytes:
        data: bytes = self._stream.read(_cheroot_size(size))
        self.consumed += len(data)
        return data

    def readline(self, size: int | None = -1) -> bytes:
        data: bytes = self._stream.readline(_cheroot_size(size))
        self.consumed += len(data)
        return data

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.readline, b"")


class DrainUnreadBody:
    def __init__(self, app: Any, limit: int = DRAIN_LIMIT) -> None:
        self.app = app
        self._limit = limit

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        length = environ.get("CONTENT_LENGTH", "")
        if not length.isdigit() or int(length) == 0:
            return self.app(environ, start_response)
        counting = CountingInput(environ["wsgi.input"])
        environ["wsgi.input"] = counting
        return self._respond(environ, start_response, counting, int(length))

    def _respond(
        self,
        environ: WSGIEnvironment,
        start_response: StartResponse,
        counting: CountingInput,
        length: int,
    ) -> Iterator[bytes]:
        result = self.app(environ, start_response)
        try:
            yield from result
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
            remaining = length - counting.consumed
            if 0 < remaining <= self._limit:
                with contextlib.suppress(BodyTooSlow):
                    while remaining > 0 and counting.read(min(_BLOCK, remaining)):
                        remaining = length - counting.consumed
