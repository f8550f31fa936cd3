"""Failed-login throttling per user name and per client address, in bounded memory.

The numbers (``ThrottleLimits`` defaults, set by the ``login_*`` options):

- A user name may fail 10 times, a client address 30 times (an IPv6 client counts by its
  /64, which one machine can fill with addresses). Failures are forgotten gradually, with a
  half-life of 15 minutes; a success does not erase them.
- From the limit on, every failure makes the key wait: 1 s after the 10th, then twice as long
  after each further failure, never longer than ``max_delay`` (120 s). While a key waits, its
  attempts are answered at once with ``LoginThrottled`` (429, ``Retry-After``) without checking
  any password, so waiting costs the server nothing and tells the client nothing. Over the
  limit, attempts of one key are checked one at a time, so parallel requests add no guesses.
- A real user is never kept out for long: no wait exceeds ``max_delay``, and the per-user
  limit does not apply to an address from which that user logged in successfully in the last
  30 days, so someone failing elsewhere cannot keep a user out of their usual places.
- At most 10,000 keys per table are remembered (least recently used go first), so memory stays
  bounded whatever names and addresses clients send. Keys are short hashes, not the names.

A sustained guesser of one key (one user from many addresses, or one address) gets about one
guess every 80 seconds (about 1,000 a day) once the half-life and the doubling balance.
"""

from __future__ import annotations

import hashlib
import ipaddress
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from davfiles.errors import AuthFailed

HALF_LIFE = 15 * 60.0
TRUST_PERIOD = 30 * 24 * 3600.0
MAX_TRACKED_KEYS = 10_000


class LoginThrottled(AuthFailed):
    """Too many failed logins: answer 429 with ``Retry-After: retry_after`` (whole seconds).

    ``scope`` is "user" or "address" (which limit refused); ``first`` is true for the first
    refusal of a wait, the one worth an audit line.
    """

    def __init__(self, retry_after: int, scope: str, first: bool) -> None:
        super().__init__(f"too many failed logins; retry after {retry_after} s")
        self.retry_after = retry_after
        self.scope = scope
        self.first = first


@dataclass(frozen=True)
class ThrottleLimits:
    """Failures allowed per user name and per address (0: no such limit); longest wait."""

    per_user: int = 10
    per_address: int = 30
    max_delay: int = 120


@dataclass
class _Counter:
    score: float = 0.0
    stamp: float = 0.0
    pending: int = 0
    reported_stamp: float = -1.0


@dataclass(frozen=True)
class Ticket:
    """One login attempt in progress; hand it back to ``LoginThrottle.finish``."""

    address: str | None
    user_key: bytes | None
    address_key: bytes | None


class _Table:
    """Failure counters of one kind of key, least recently used first."""

    def __init__(self, limit: int, max_delay: int, max_keys: int) -> None:
        self.limit = limit
        self._max_delay = max_delay
        self._max_keys = max_keys
        self._counters: OrderedDict[bytes, _Counter] = OrderedDict()

    def __len__(self) -> int:
        return len(self._counters)

    def refusal(self, key: bytes, now: float) -> tuple[int, bool] | None:
        """(retry after, first refusal of this wait) if ``key`` must wait now, else None."""
        counter = self._counters.get(key)
        if counter is None or round(_decayed(counter, now)) < self.limit:
            return None
        wait_until = counter.stamp + self._delay(counter.score)
        if now >= wait_until and counter.pending == 0:
            return None
        first = counter.reported_stamp != counter.stamp
        counter.reported_stamp = counter.stamp
        return max(1, math.ceil(wait_until - now)), first

    def start(self, key: bytes) -> None:
        # Only keys that failed before get a counter, so busy servers fill no table with
        # successes; "pending" matters only over the limit, long after the counter exists.
        counter = self._counters.get(key)
        if counter is not None:
            counter.pending += 1

    def finish(self, key: bytes, failed: bool, now: float) -> None:
        counter = self._get(key) if failed else self._counters.get(key)
        if counter is None:
            return
        counter.pending = max(0, counter.pending - 1)
        if failed:
            counter.score = _decayed(counter, now) + 1
            counter.stamp = now

    def _delay(self, score: float) -> float:
        excess = round(score) - self.limit
        return float(min(self._max_delay, 2 ** min(excess, 32)))

    def _get(self, key: bytes) -> _Counter:
        counter = self._counters.get(key)
        if counter is None:
            counter = self._counters[key] = _Counter()
            while len(self._counters) > self._max_keys:
                self._counters.popitem(last=False)
        self._counters.move_to_end(key)
        return counter


class LoginThrottle:
    """Counts failed logins; thread-safe. ``begin`` before checking credentials, then ``finish``."""

    def __init__(
        self,
        limits: ThrottleLimits,
        *,
        max_keys: int = MAX_TRACKED_KEYS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._users = _Table(limits.per_user, limits.max_delay, max_keys)
        self._addresses = _Table(limits.per_address, limits.max_delay, max_keys)
        self._trusted: OrderedDict[bytes, float] = OrderedDict()
        self._max_keys = max_keys
        self._clock = clock
        self._lock = threading.Lock()

    def begin(self, name: str | None, client: str | None) -> Ticket:
        """Start an attempt for ``name`` (None: no user named) from ``client`` (None: unknown).

        Raises LoginThrottled while the user name or the address must wait.
        """
        address = client_network(client) if client else None
        ticket = Ticket(
            address,
            _key(name) if name is not None and self._users.limit else None,
            _key(address) if address is not None and self._addresses.limit else None,
        )
        now = self._clock()
        with self._lock:
            refusals: list[tuple[int, bool, str]] = []
            if (
                name is not None
                and ticket.user_key is not None
                and not self._is_trusted(name, address, now)
            ):
                refused = self._users.refusal(ticket.user_key, now)
                if refused is not None:
                    refusals.append((*refused, "user"))
            if ticket.address_key is not None:
                refused = self._addresses.refusal(ticket.address_key, now)
                if refused is not None:
                    refusals.append((*refused, "address"))
            if refusals:
                retry_after, first, scope = max(refusals)
                raise LoginThrottled(retry_after, scope, first)
            if ticket.user_key is not None:
                self._users.start(ticket.user_key)
            if ticket.address_key is not None:
                self._addresses.start(ticket.address_key)
        return ticket

    def finish(self, ticket: Ticket, user: str | None) -> float | None:
        """End an attempt: ``user`` is who logged in, None if it failed.

        After a success, returns the seconds since this user last succeeded from this address
        (None if not within the trust period), which tells a new session from a running one.
        """
        now = self._clock()
        with self._lock:
            if ticket.user_key is not None:
                self._users.finish(ticket.user_key, user is None, now)
            if ticket.address_key is not None:
                self._addresses.finish(ticket.address_key, user is None, now)
            if user is None or ticket.address is None:
                return None
            pair = _key(f"{user}\0{ticket.address}")
            previous = self._trusted.pop(pair, None)
            self._trusted[pair] = now
            while len(self._trusted) > self._max_keys:
                self._trusted.popitem(last=False)
        if previous is None or now - previous >= TRUST_PERIOD:
            return None
        return now - previous

    @property
    def tracked_keys(self) -> int:
        """Keys held in memory (failure counters and trusted pairs); at most 3 * max_keys."""
        with self._lock:
            return len(self._users) + len(self._addresses) + len(self._trusted)

    def _is_trusted(self, name: str, address: str | None, now: float) -> bool:
        """True if ``name`` logged in from ``address`` within the trust period."""
        if address is None:
            return False
        last = self._trusted.get(_key(f"{name}\0{address}"))
        return last is not None and now - last < TRUST_PERIOD


def client_network(client: str) -> str:
    """The unit an address limit counts: the IPv4 address, or the /64 of an IPv6 address."""
    try:
        address = ipaddress.ip_address(client)
    except ValueError:
        return client
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((int(address) >> 64 << 64, 64)))
    return str(address)


def _decayed(counter: _Counter, now: float) -> float:
    return counter.score * 0.5 ** (max(0.0, now - counter.stamp) / HALF_LIFE)


def _key(text: str) -> bytes:
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()
