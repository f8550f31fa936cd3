"""A folder as a zip, written block by block into the response: no temporary file, no
whole archive in memory. ``zipfile`` writes to a stream it cannot seek by putting each
entry's sizes and CRC after its data (data descriptors), which every unzip reads."""

from __future__ import annotations

import io
import time
import zipfile
from collections.abc import Callable, Iterator
from typing import BinaryIO

from davfiles.errors import NotFound
from davfiles.store import FileInfo

BLOCK = 1024 * 1024
ZIP64_FROM = 1024**3
# Zip dates start in 1980.
_EARLIEST = time.mktime((1980, 1, 1, 0, 0, 0, 0, 0, -1))


class _Pipe(io.RawIOBase):
    """A write-only stream whose written bytes are taken out as they come."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []

    def writable(self) -> bool:
        return True

    def write(self, data: bytes) -> int:  # type: ignore[override]
        self._parts.append(bytes(data))
        return len(data)

    def take(self) -> bytes:
        data = b"".join(self._parts)
        self._parts.clear()
        return data


def _entry(name: str, info: FileInfo) -> zipfile.ZipInfo:
    stamp = time.localtime(max(info.modified_at, _EARLIEST))
    entry = zipfile.ZipInfo(name + ("/" if info.is_dir else ""), stamp[:6])
    entry.compress_type = zipfile.ZIP_STORED
    entry.external_attr = (0o40755 << 16) | 0x10 if info.is_dir else 0o100644 << 16
    return entry


def zip_chunks(
    members: list[tuple[str, FileInfo]], open_file: Callable[[FileInfo], BinaryIO]
) -> Iterator[bytes]:
    """The zip of ``members`` (name inside the archive, file or folder), in blocks."""
    pipe = _Pipe()
    with zipfile.ZipFile(pipe, "w", allowZip64=True) as archive:
        for name, info in members:
            if info.is_dir:
                archive.writestr(_entry(name, info), b"")
            else:
                try:
                    source = open_file(info)
                except NotFound:
                    continue  # deleted since the listing: the zip goes on without it
                # Zip64 well before 2 GiB, in case the file grows while it is read.
                entry = _entry(name, info)
                with (
                    source,
                    archive.open(entry, "w", force_zip64=info.size >= ZIP64_FROM) as target,
                ):
                    while block := source.read(BLOCK):
                        target.write(block)
                        yield pipe.take()
            yield pipe.take()
    yield pipe.take()
