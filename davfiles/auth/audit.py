"""Append-only audit log of security-relevant events, one JSON object per line.

Line format (JSON Lines, UTF-8, keys always present and in this order), for example::

    {"time": "2026-11-22T21:36:04.123Z", "event": "login.fail", "user": "alice",
     "client": "192.0.2.7", "target": "password"}

(shown on two lines here; in the file each event is exactly one line).

- ``time``: UTC, ISO 8601 with milliseconds.
- ``event``: one of ``AuditEvent``'s values.
- ``user``: the user the event is about (for logins, the name that was tried), or null.
- ``client``: the client's IP address, or null (the command line).
- ``target``: what the event acted on, or null:

  ===================  ========================================================================
  ``login.*``          how the client authenticated (``password``, ``token``, ``digest``, ``jwt``);
                       for ``login.throttled`` which limit refused (``user`` or ``address``)
  ``user.add``         the quota given, ``max_bytes=N max_files=N`` (``unlimited`` for none)
  ``user.delete``      null
  ``user.password``    null
  ``user.quota``       the new quota, as for ``user.add``
  ``token.create``     ``token <id>``
  ``token.revoke``     ``token <id>``
  ``file.delete``      the path in the user's home, e.g. ``/docs/a.txt`` (a folder: one line)
  ``file.public``      the path of the file made downloadable without credentials
  ``file.private``     the path of the file made private again
  ``quota.refused``    the refusal: ``bytes quota exceeded: used U, limit L, requested R``
                       (or ``files ...``)
  ``trash.purge``      a trash item deleted for good and why: ``/docs/a.txt (evicted for room)``,
                       ``(in the trash for more than 30 days)`` or ``(deleted by hand)``
  ``version.purge``    ``file <id> version <id> (<reason>)``: evicted for room, thinned,
                       older than the maximum age, or deleted by hand
  ===================  ========================================================================

The client address comes from one place: ``AuditScope``, a WSGI middleware that binds each
request's ``REMOTE_ADDR`` (and this log) to the thread serving it, so the store and the
account code, which know no HTTP, record events with ``record`` and the address is filled in.
Outside a request (the command line) ``Accounts`` writes to its log with no address, and the
store writes nothing. The store's trash asks the same binding who deletes (``current_caller``:
address, door, User-Agent) to record it with the trash item.

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
from collections.abc import Callable, Iterable
from contextvars import ContextVar
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from davfiles.metrics_doors import protocol_door

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

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
    USER_ADMIN = "user.admin"
    TOKEN_CREATE = "token.create"
    TOKEN_REVOKE = "token.revoke"
    FILE_DELETE = "file.delete"
    FILE_PUBLIC = "file.public"
    FILE_PRIVATE = "file.private"
    QUOTA_REFUSED = "quota.refused"
    TRASH_PURGE = "trash.purge"
    VERSION_PURGE = "version.purge"
    LINK_CREATE = "link.create"
    LINK_CHANGE = "link.change"
    LINK_REGENERATE = "link.regenerate"
    LINK_DELETE = "link.delete"
    LINK_POLICY = "link.policy"
    LINK_FAIL = "link.fail"
    LINK_THROTTLED = "link.throttled"


AuditObserver = Callable[[AuditEvent, str | None], None]


class AuditLog:
    def __init__(self, path: Path) -> None:
        self.path = path
        # Told of every event, also those not written again (a throttled login's repeats):
        # the server's metrics count them here, in the one place that sees them all.
        self.observer: AuditObserver | None = None

    def count(self, event: AuditEvent, target: str | None = None) -> None:
        """Tell the observer of an event without writing a line."""
        if self.observer is not None:
            self.observer(event, target)

    def record(
        self,
        event: AuditEvent,
        *,
        user: str | None,
        client: str | None,
        target: str | None = None,
    ) -> None:
        """Append one line; a failed write is logged, never raised, so it cannot break a request."""
        self.count(event, target)
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


@dataclass(frozen=True)
class _Request:
    log: AuditLog
    client: str | None
    # The request's environ, read when asked: the door names itself in it after this scope
    # bound it (``metrics_doors``).
    environ: WSGIEnvironment


@dataclass(frozen=True)
class Caller:
    """Who is behind the request in progress: address, door (``protocol_door``), User-Agent
    (cut to 256 characters, control characters as ``?``)."""

    client: str | None
    door: str
    agent: str | None


_current: ContextVar[_Request | None] = ContextVar("davfiles_audit_request", default=None)


def current_client() -> str | None:
    """The address of the client whose request this thread is serving (None outside one)."""
    request = _current.get()
    return None if request is None else request.client


def current_caller() -> Caller | None:
    """The client, door and User-Agent of the request this thread is serving (None outside
    one: the command line)."""
    request = _current.get()
    if request is None:
        return None
    agent = printable(_cut(request.environ.get("HTTP_USER_AGENT") or None))
    return Caller(request.client, protocol_door(request.environ), agent)


def record(event: AuditEvent, *, user: str | None, target: str | None = None) -> None:
    """Audit an event of the request in progress, with its client address; outside one, nothing."""
    request = _current.get()
    if request is not None:
        request.log.record(event, user=user, client=request.client, target=target)


class AuditScope:
    """WSGI middleware: binds the log and the client address to each request for ``record``.

    The binding is left in place after the answer (a server thread serves nothing but
    requests, and the next one replaces it), so a body streamed after ``__call__`` returns is
    still covered and the response iterable passes through untouched. It keeps the environ
    (one per server thread, until its next request) so the door is read when a store
    operation asks, after the door has named itself.
    """

    def __init__(self, app: Any, log: AuditLog) -> None:
        self.app = app
        self._log = log

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        _current.set(_Request(self._log, environ.get("REMOTE_ADDR") or None, environ))
        return self.app(environ, start_response)  # type: ignore[no-any-return]


def _cut(value: str | None) -> str | None:
    return None if value is None else value[:_FIELD_MAX]


def printable(value: str | None) -> str | None:
    """Control characters as ``?``: a client may send any, PostgreSQL stores no NUL."""
    if value is None or value.isprintable():
        return value
    return "".join(char if char.isprintable() else "?" for char in value)


def _utc_now() -> str:
    now = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now % 1 * 1000):03d}Z"
