"""Append-only audit log of security-relevant events, one JSON object per line.

Line format (JSON Lines, UTF-8, keys always present and in this order), for example::

    {"time": "2026-11-22T21:36:04.123Z", "event": "login.fail", "user": "alice",
     "client": "192.0.2.7", "target": "password"}

(shown on two lines here; in the file each event is exactly one line).

- ``time``: UTC, ISO 8601 with milliseconds.
- ``event``: one of ``AuditEvent``'s values.
- ``user``: the user the event is about (for logins, the name that was tried), or null.
- ``client``: the client's IP address, or null (e.g. the command line).
- ``target``: what the event acted on, or null. For ``login.*``: how the client authenticated
  (``password``, ``token``, ``digest``, ``jwt``); for ``login.throttled``: which limit refused
  (``user`` or ``address``); for user and token events: the user name or token id; for file
  events and quota refusals: ``<user>:<path>`` or the file id.

Passwords, tokens and ``Authorization`` headers are never written: callers pass names, ids and
addresses only. Fields are cut to 256 characters, so a client cannot make lines huge. Each line
is one ``write`` to a file opened with ``O_APPEND`` (mode 0600), so the server and the command
line can append to the same file at once, and a rotated file is picked up at the next line.
"""

from __future__ import annotations

import json
import logging
import os
import time
from enum import StrEnum
from pathlib import Path

logger = logging.getLogger(__name__)

_FIELD_MAX = 256


class AuditEvent(StrEnum):
    LOGIN_OK = "login.ok"
    LOGIN_FAIL = "login.fail"
    LOGIN_THROTTLED = "login.throttled"
    USER_ADD = "user.add"
    USER_DELETE = "user.delete"
    USER_PASSWORD = "user.password"
    USER_QUOTA = "user.quota"
    TOKEN_CREATE = "token.create"
    TOKEN_REVOKE = "token.revoke"
    FILE_DELETE = "file.delete"
    FILE_PUBLIC = "file.public"
    QUOTA_REFUSED = "quota.refused"


class AuditLog:
    def __init__(self, path: Path) -> None:
        self.path = path

    def record(
        self,
        event: AuditEvent,
        *,
        user: str | None,
        client: str | None,
        target: str | None = None,
    ) -> None:
        """Append one line; a failed write is logged, never raised, so it cannot break a request."""
        line = json.dumps(
            {
                "time": _utc_now(),
                "event": event.value,
                "user": _cut(user),
                "client": _cut(client),
                "target": _cut(target),
            },
            ensure_ascii=True,
        )
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, line.encode("ascii") + b"\n")
            finally:
                os.close(fd)
        except OSError as exc:
            logger.error("cannot write audit log %s: %s", self.path, exc.strerror)


def _cut(value: str | None) -> str | None:
    return None if value is None else value[:_FIELD_MAX]


def _utc_now() -> str:
    now = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now % 1 * 1000):03d}Z"
