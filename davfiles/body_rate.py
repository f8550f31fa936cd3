"""A minimum rate for request bodies, so slow senders cannot hold every request thread.

A body is read by its request thread. With only cheroot's timeout per ``recv`` (10 s), a client
sending a byte every few seconds kept its thread for as long as it liked, and a few dozen such
clients (each under the per-user upload cap, or anonymous before their 401) held all of them.

The head gate times the start of a body with the same clock before any thread is involved
(``davfiles.connections``); a thread then goes on with it. ``BodyClock`` is a budget of
waiting time, as Apache's mod_reqtimeout ``body=10,MinRate=500``
and nginx's ``client_body_timeout``: it starts at ``body_timeout`` seconds, every second the
thread waits in ``recv`` for the client costs one, and every ``min_body_rate`` bytes received
earn one back, up to ``body_timeout`` again. So a stall may last ``body_timeout`` seconds (as
cheroot's timeout allowed), and a client averaging less than ``min_body_rate`` over the last
``body_timeout`` seconds or so runs out: the read raises ``BodyTooSlow``. Time the application
spends between reads (hashing, the database) is not the client's and does not count.

The defaults, 10 s and 500 bytes/s (4 kbit/s), are far below any real uplink (GPRS manages
several KB/s) and keep a stall allowance equal to the per-read timeout clients had before.

``SlowBodyAnswer`` makes the answer 408 and closes the connection: a REST dialect shapes
``BodyTooSlow`` itself (408 in its own error body); WebDAV turns it into a 500, which is
replaced here by a plain 408. The upload is undone by the store's upload context, which the
exception leaves like any other.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from davfiles.errors import BodyTooSlow

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

BODY_CLOCK_KEY = "davfiles.body_clock"
# environ key: True when the request's whole body (of a known length) has already arrived.
BODY_RECEIVED_KEY = "davfiles.body_received"


@dataclass(frozen=True)
class BodyRate:
    """``body_timeout`` seconds of waiting allowed at once; ``min_body_rate`` bytes/s to earn
    them back (0: any byte resets the allowance, as a plain per-read timeout)."""

    body_timeout: float = 10.0
    min_body_rate: int = 500


class BodyClock:
    """The waiting budget of one connection, restarted for each request."""

    def __init__(self, rate: BodyRate) -> None:
        self.rate = rate
        self.credit = rate.body_timeout
        self.expired = False

    def restart(self) -> None:
        self.credit = self.rate.body_timeout
        self.expired = False

    def allowance(self) -> float:
        """Seconds the next ``recv`` may wait; raises BodyTooSlow once the budget is spent."""
        if self.expired or self.credit <= 0:
            raise self.expire()
        return self.credit

    def account(self, waited: float, received: int) -> None:
        """Charge ``waited`` seconds, credit ``received`` bytes."""
        rate = self.rate
        earned = received / rate.min_body_rate if rate.min_body_rate else 0.0
        if received and not rate.min_body_rate:
            self.credit = rate.body_timeout
        else:
            self.credit = min(rate.body_timeout, self.credit - waited + earned)

    def expire(self) -> BodyTooSlow:
        """The client ran out of time: the error to raise (remembered for the answer)."""
        self.expired = True
        return BodyTooSlow(self.rate.min_body_rate, self.rate.body_timeout)


class SlowBodyAnswer:
    """Answers 408 with ``Connection: close`` for a request whose body came too slowly."""

    def __init__(self, app: WSGIApplication) -> None:
        self.app = app

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        clock: BodyClock | None = environ.get(BODY_CLOCK_KEY)
        if clock is None:
            return self.app(environ, start_response)
        return self._respond(environ, start_response, clock)

    def _respond(
        self, environ: WSGIEnvironment, start_response: StartResponse, clock: BodyClock
    ) -> Iterator[bytes]:
        replacement: list[bytes] = []

        def checked(status: str, headers: list[tuple[str, str]], *exc_info: Any) -> Any:
            if clock.expired:
                if not status.startswith("408"):
                    replacement.append(str(clock.expire()).encode() + b"\n")
                    status = "408 Request Timeout"
                    headers = [
                        ("Content-Type", "text/plain; charset=utf-8"),
                        ("Content-Length", str(len(replacement[0]))),
                    ]
                headers = [(k, v) for k, v in headers if k.lower() != "connection"]
                headers.append(("Connection", "close"))
            return start_response(status, headers, *exc_info)

        try:
            result = self.app(environ, checked)
        except BodyTooSlow as exc:
            # Raised before any answer began (an XML body read whole before the method runs).
            yield _timed_out(start_response, exc)
            return
        sent = False
        try:
            for chunk in result:
                if replacement:
                    break
                sent = True
                yield chunk
            if replacement:
                yield replacement[0]
        except BodyTooSlow as exc:
            if sent:
                raise
            yield _timed_out(start_response, exc)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()


def _timed_out(start_response: StartResponse, exc: BodyTooSlow) -> bytes:
    """Start the 408 answer (replacing any status not yet sent) and return its body."""
    body = f"{exc}\n".encode()
    headers = [
        ("Content-Type", "text/plain; charset=utf-8"),
        ("Content-Length", str(len(body))),
        ("Connection", "close"),
    ]
    start_response("408 Request Timeout", headers, sys.exc_info())
    return body
