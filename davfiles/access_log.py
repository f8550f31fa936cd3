"""The access log: one line per request, in Apache's combined format extended, or JSON.

``common`` (fields separated by spaces, as Apache's ``combined`` with three more at the end)::

    192.0.2.7 - alice [07/Dec/2026:05:10:00 +0000] "PUT /dav/a%20b.txt HTTP/1.1" 201 0
    "-" "rclone/v1.60.1" webdav 4096 12.345

(one line in the file): client, ``-`` (no identd), user (``-`` when not authenticated), time
(UTC), request, status, response body bytes, Referer, User-Agent, door, request body bytes,
milliseconds. ``json`` writes the same as one object per line, keys always in this order:
``time`` (ISO 8601 UTC with milliseconds), ``client``, ``user`` (null when not authenticated),
``door``, ``method``, ``path``, ``protocol``, ``status``, ``bytes_in``, ``bytes_out``,
``duration_ms``, ``referer``, ``user_agent``.

Nothing secret reaches the log: the query string is dropped (from the path and the Referer),
the login token of a Login Flow v2 page (a path segment) is written as ``*``, header values
other than User-Agent and Referer and all bodies are never read, and the user is the one who
authenticated, never a name tried with a wrong password. The path is written percent-encoded as
a client would send it, and quotes, backslashes, control and non-ASCII bytes in the other text
fields as ``\\xhh``, so no request can forge a line.

Each line is one ``write`` on a file opened with ``O_APPEND``, so the worker processes of a
server append whole lines to one file. The file is checked once a second and reopened when it
was renamed or removed (logrotate without ``copytruncate``).
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
import time
import weakref
from typing import NamedTuple
from urllib.parse import quote

from davfiles.nextcloud.login_flow import FLOW_PREFIX

logger = logging.getLogger(__name__)

STDERR = "-"
_REOPEN_CHECK_SECONDS = 1.0
# Long enough for any real path (davfiles' limit is 3 KiB of UTF-8, encoded), short enough to
# keep a line one write.
_PATH_MAX = 12_288
_HEADER_MAX = 512
# Characters a path keeps as they are; everything else is percent-encoded.
_PATH_SAFE = "/!$&'()*+,;=:@-._~"
_PLAIN_PATH = re.compile(r"[A-Za-z0-9/!$&'()*+,;=:@\-._~]*")
_UNSAFE_TEXT = re.compile(r'[^\x20-\x7e]|["\\]')


class AccessRecord(NamedTuple):
    """What one line reports; ``raw_path`` as in the WSGI environ (bytes as latin-1).

    A named tuple: made once per request, where a frozen dataclass costs microseconds."""

    client: str | None
    user: str | None
    door: str
    method: str
    raw_path: str
    protocol: str
    status: int
    bytes_in: int
    bytes_out: int
    seconds: float
    referer: str | None
    user_agent: str | None


# Whoever holds a login page's URL may log in on it until the flow ends.
_LOGIN_TOKEN = re.compile(re.escape(FLOW_PREFIX + "/flow/") + r"[^/?#]+")


def _redacted(text: str) -> str:
    return _LOGIN_TOKEN.sub(FLOW_PREFIX + "/flow/*", text)


def encoded_path(raw_path: str) -> str:
    """The path percent-encoded, as a client sends it, cut to a bounded length."""
    raw_path = _redacted(raw_path)
    if len(raw_path) <= _PATH_MAX and _PLAIN_PATH.fullmatch(raw_path):
        return raw_path
    return quote(raw_path.encode("latin-1", "replace")[:_PATH_MAX], safe=_PATH_SAFE)


def _text(value: str | None, limit: int = _HEADER_MAX) -> str:
    """A value safe between quotes: quotes, backslashes, control and other bytes as ``\\xhh``."""
    if not value:
        return "-"
    value = value[:limit]
    if value.isascii() and value.isprintable() and '"' not in value and "\\" not in value:
        return value
    return _UNSAFE_TEXT.sub(lambda m: f"\\x{ord(m.group()) & 0xFF:02x}", value)


def _without_query(value: str | None) -> str | None:
    return None if value is None else _redacted(value.split("?", 1)[0].split("#", 1)[0])


_stamp_cache = (0, "")


def _common_time(now: float) -> str:
    """Apache's time format, made once a second."""
    global _stamp_cache
    second = int(now)
    if _stamp_cache[0] != second:
        _stamp_cache = (second, time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(second)))
    return _stamp_cache[1]


def common_line(record: AccessRecord, now: float) -> str:
    stamp = _common_time(now)
    request = f"{_text(record.method, 32)} {encoded_path(record.raw_path)} {_text(record.protocol)}"
    return (
        f"{_text(record.client, 64)} - {_text(record.user, 256)} [{stamp}] "
        f'"{request}" {record.status} {record.bytes_out} '
        f'"{_text(_without_query(record.referer))}" "{_text(record.user_agent)}" '
        f"{record.door} {record.bytes_in} {record.seconds * 1000:.3f}"
    )


def json_line(record: AccessRecord, now: float) -> str:
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now % 1 * 1000):03d}Z"
    return json.dumps(
        {
            "time": stamp,
            "client": record.client,
            "user": record.user,
            "door": record.door,
            "method": record.method[:32],
            "path": encoded_path(record.raw_path),
            "protocol": record.protocol[:_HEADER_MAX],
            "status": record.status,
            "bytes_in": record.bytes_in,
            "bytes_out": record.bytes_out,
            "duration_ms": round(record.seconds * 1000, 3),
            "referer": _without_query(record.referer and record.referer[:_HEADER_MAX]),
            "user_agent": record.user_agent and record.user_agent[:_HEADER_MAX],
        },
        ensure_ascii=True,
    )


_FORMATS = {"common": common_line, "json": json_line}


class AccessLog:
    """Appends formatted lines to a file (or stderr); a failed write is logged, never raised."""

    def __init__(self, target: str, format_name: str) -> None:
        self._format = _FORMATS[format_name]
        self._path = None if target == STDERR else target
        self._lock = threading.Lock()
        self._fd = 2 if self._path is None else -1
        self._identity: tuple[int, int] | None = None
        self._next_check = 0.0
        self._failing = False
        self._closer: weakref.finalize[[int], None] | None = None

    def write(self, record: AccessRecord) -> None:
        now = time.time()
        line = (self._format(record, now) + "\n").encode("ascii", "backslashreplace")
        with self._lock:
            try:
                if self._path is not None:
                    self._reopen_if_moved()
                os.write(self._fd, line)
            except OSError as exc:
                if not self._failing:
                    logger.error("cannot write access log %s: %s", self._path, exc.strerror)
                self._failing = True
                return
            self._failing = False

    def _reopen_if_moved(self) -> None:
        """Open the file at first use, and again once it was renamed or removed (checked at
        most once a second: a stat per line costs as much as the write)."""
        assert self._path is not None
        now = time.monotonic()
        if self._fd >= 0 and now < self._next_check:
            return
        self._next_check = now + _REOPEN_CHECK_SECONDS
        try:
            stat = os.stat(self._path)
            current: tuple[int, int] | None = (stat.st_dev, stat.st_ino)
        except FileNotFoundError:
            current = None
        if self._fd >= 0 and current == self._identity:
            return
        fd = os.open(self._path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o640)
        opened = os.fstat(fd)
        if self._closer is not None:
            self._closer()  # closes the previous file
        self._fd, self._identity = fd, (opened.st_dev, opened.st_ino)
        self._closer = weakref.finalize(self, os.close, fd)
