"""The file object WsgiDAV writes a PUT body into, for files and for upload chunks alike."""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

from davfiles.provider.errors import dav_errors

Result = TypeVar("Result")


class DavWriteStream(Generic[Result]):
    """Passes blocks to ``write``; ``close`` commits. Store errors leave it as DAVErrors, the
    only kind WsgiDAV maps to a status instead of a 500."""

    def __init__(
        self,
        write: Callable[[bytes], None],
        commit: Callable[[], Result],
        committed: Callable[[Result], None],
    ) -> None:
        self._write = write
        self._commit = commit
        self._committed = committed

    def write(self, data: bytes) -> None:
        with dav_errors():
            self._write(data)

    def close(self) -> None:
        with dav_errors():
            self._committed(self._commit())
