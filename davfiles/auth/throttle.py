"""Failed-login throttling per user name and per client address, held in the database.

The counters live in two small tables (``login_failures``, ``login_trust``), so every worker
process and server on the database applies one policy to one count: a guesser gains nothing
by landing on another process.

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
- At most 10,000 user names, 10,000 addresses and 10,000 trusted pairs are remembered (least
  recently used go first), so the tables stay small whatever names and addresses clients
  send. Keys are short hashes, not the names.

What it costs: an attempt reads its keys' rows (one small read transaction, none of them for a
key that never failed); it writes only on a failure, on a refusal worth an audit line, for an
attempt over the limit, and at most once a minute (``TRUST_REFRESH``) to note a user's success
from an address. A successful login from a cached credential adds no write per request.

A sustained guesser of one key (one user from many addresses, or one address) gets about one
guess every 80 seconds (about 1,000 a day) once the half-life and the doubling balance.
"""

from __future__ import annotations

import hashlib
import ipaddress
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Connection, bindparam, delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from davfiles.db.engine import Database
from davfiles.db.models import LoginFailure, LoginTrust
from davfiles.errors import AuthFailed

HALF_LIFE = 15 * 60.0
TRUST_PERIOD = 30 * 24 * 3600.0
MAX_TRACKED_KEYS = 10_000
# A success renews its user-and-address stamp only when the stored one is this old.
TRUST_REFRESH = 60.0
# How long an attempt over the limit holds its key if its process never finishes it.
BUSY_LEASE = 30.0
_USER, _ADDRESS = "user", "address"
_Row = TypeVar("_Row", LoginFailure, LoginTrust)


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


@dataclass(frozen=True)
class Ticket:
    """One login attempt in progress; hand it back to ``LoginThrottle.finish``.

    ``claimed`` are the keys this attempt marked busy; ``trust`` is the last success of
    ``name`` from ``address`` as read at the start (None: none known).
    """

    name: str | None
    address: str | None
    user_key: bytes | None
    address_key: bytes | None
    claimed: tuple[bytes, ...] = ()
    trust: float | None = None


@dataclass(frozen=True)
class Snapshot:
    """An attempt's throttle state as read by the caller's statement (``TRUST_COLUMN`` and
    ``FAILURES_COLUMN``): the trusted stamp and how many failure counters its keys have."""

    trust: float | None
    failures: int


@dataclass(frozen=True)
class _Counter:
    key: bytes
    kind: str
    score: float
    stamp: float
    busy_until: float
    reported_stamp: float


class LoginThrottle:
    """Counts failed logins in the database. ``begin`` before checking credentials, then
    ``finish``; safe across threads, processes and servers sharing the database."""

    def __init__(
        self,
        db: Database,
        limits: ThrottleLimits,
        *,
        max_keys: int = MAX_TRACKED_KEYS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._db = db
        self._limits = {_USER: limits.per_user, _ADDRESS: limits.per_address}
        self._max_delay = limits.max_delay
        self._max_keys = max_keys
        self._clock = clock

    def _keys(
        self, name: str | None, client: str | None
    ) -> tuple[str | None, bytes | None, bytes | None]:
        """The attempt's address (network) and the keys of its user and address counters."""
        address = client_network(client) if client else None
        user_key = _key(f"{_USER}\0{name}") if name is not None and self._limits[_USER] else None
        address_key = (
            _key(f"{_ADDRESS}\0{address}")
            if address is not None and self._limits[_ADDRESS]
            else None
        )
        return address, user_key, address_key

    def snapshot_parameters(self, name: str, client: str | None) -> dict[str, bytes | None]:
        """Parameters for ``TRUST_COLUMN`` and ``FAILURES_COLUMN`` in a caller's statement."""
        address, user_key, address_key = self._keys(name, client)
        pair = _pair_key(name, address) if address is not None else None
        return {"throttle_pair": pair, "throttle_key0": user_key, "throttle_key1": address_key}

    def begin(
        self, name: str | None, client: str | None, snapshot: Snapshot | None = None
    ) -> Ticket:
        """Start an attempt for ``name`` (None: no user named) from ``client`` (None: unknown).

        ``snapshot``: what the caller's own statement read of this attempt's state; with no
        failure counter in it, nothing more is read.
        Raises LoginThrottled while the user name or the address must wait.
        """
        address, user_key, address_key = self._keys(name, client)
        keys = [key for key in (user_key, address_key) if key is not None]
        now = self._clock()
        if snapshot is not None and snapshot.failures == 0:
            counters, trust = {}, snapshot.trust
        else:
            trust = None
            with self._db.connect() as connection:
                counters = _counters(connection, keys)
                if name is not None and address is not None:
                    trust = connection.scalar(_TRUST, {"key": _pair_key(name, address)})
        if user_key in counters and trust is not None and now - trust < TRUST_PERIOD:
            del counters[user_key]
        over = [counter for counter in counters.values() if self._over_limit(counter, now)]
        ticket = Ticket(name, address, user_key, address_key, trust=trust)
        if not over:
            return ticket
        self._refuse_waiting(over, now)
        return Ticket(name, address, user_key, address_key, self._claim(over, now), trust=trust)

    def finish(self, ticket: Ticket, user: str | None) -> float | None:
        """End an attempt: ``user`` is who logged in, None if it failed.

        After a success, returns the seconds since this user last succeeded from this address
        (None if not within the trust period), which tells a new session from a running one.
        The stamp is renewed at most every ``TRUST_REFRESH`` seconds, so within a running
        session the figure may be up to that much larger than the time since its last request.
        """
        now = self._clock()
        if user is None:
            self._count_failure(ticket, now)
            return None
        self.release(ticket)
        if ticket.address is None:
            return None
        return self._note_success(user, ticket, now)

    def release(self, ticket: Ticket) -> None:
        """End an attempt that counts neither way (the keys it held are free again)."""
        if not ticket.claimed:
            return
        with self._db.write() as session:
            session.execute(
                update(LoginFailure)
                .where(LoginFailure.key.in_(ticket.claimed))
                .values(busy_until=0.0)
            )

    @property
    def tracked_keys(self) -> int:
        """Keys held (failure counters and trusted pairs); at most 3 * max_keys."""
        with self._db.read() as session:
            failures = session.scalar(select(func.count()).select_from(LoginFailure)) or 0
            trusted = session.scalar(select(func.count()).select_from(LoginTrust)) or 0
        return failures + trusted

    def _over_limit(self, counter: _Counter, now: float) -> bool:
        return round(_decayed(counter.score, counter.stamp, now)) >= self._limits[counter.kind]

    def _delay(self, score: float, kind: str) -> float:
        excess = round(score) - self._limits[kind]
        return float(min(self._max_delay, 2 ** min(excess, 32)))

    def _wait_until(self, counter: _Counter) -> float:
        return counter.stamp + self._delay(counter.score, counter.kind)

    def _refuse_waiting(self, over: Sequence[_Counter], now: float) -> None:
        """Raise LoginThrottled if a key over its limit must still wait or is being checked."""
        waiting = [c for c in over if now < self._wait_until(c) or now < c.busy_until]
        if not waiting:
            return
        refusals = []
        for counter in waiting:
            first = counter.reported_stamp != counter.stamp and self._mark_reported(counter)
            retry_after = max(1, math.ceil(self._wait_until(counter) - now))
            refusals.append((retry_after, first, counter.kind))
        retry_after, first, scope = max(refusals)
        raise LoginThrottled(retry_after, scope, first)

    def _mark_reported(self, counter: _Counter) -> bool:
        """True for the one attempt, of all processes, that reports this wait first."""
        with self._db.write() as session:
            marked = session.execute(
                update(LoginFailure)
                .where(
                    LoginFailure.key == counter.key,
                    LoginFailure.stamp == counter.stamp,
                    LoginFailure.reported_stamp != LoginFailure.stamp,
                )
                .values(reported_stamp=LoginFailure.stamp)
            )
            return bool(marked.rowcount)

    def _claim(self, over: Sequence[_Counter], now: float) -> tuple[bytes, ...]:
        """Mark the keys busy for this attempt, or refuse it if another one was quicker."""
        with self._db.write() as session:
            for counter in over:
                claimed = session.execute(
                    update(LoginFailure)
                    .where(
                        LoginFailure.key == counter.key,
                        LoginFailure.stamp == counter.stamp,
                        LoginFailure.busy_until <= now,
                    )
                    .values(busy_until=now + BUSY_LEASE)
                )
                if not claimed.rowcount:
                    raise LoginThrottled(1, counter.kind, False)
        return tuple(counter.key for counter in over)

    def _count_failure(self, ticket: Ticket, now: float) -> None:
        kinds = ((ticket.user_key, _USER), (ticket.address_key, _ADDRESS))
        with self._db.write() as session:
            for key, kind in kinds:
                if key is None:
                    continue
                row, created = _locked_row(
                    session, LoginFailure, key, kind=kind, score=0.0, stamp=now
                )
                row.score = _decayed(row.score, row.stamp, now) + 1
                row.stamp = now
                if key in ticket.claimed:
                    row.busy_until = 0.0
                session.flush()
                if created:
                    _prune(
                        session,
                        LoginFailure,
                        LoginFailure.stamp,
                        self._max_keys,
                        LoginFailure.kind == kind,
                    )

    def _note_success(self, user: str, ticket: Ticket, now: float) -> float | None:
        assert ticket.address is not None
        pair = _pair_key(user, ticket.address)
        previous = ticket.trust
        if user != ticket.name:
            # A token or JWT names its user only once checked: read the stamp now.
            with self._db.connect() as connection:
                previous = connection.scalar(_TRUST, {"key": pair})
        if previous is None or now - previous >= TRUST_REFRESH:
            with self._db.write() as session:
                row, created = _locked_row(session, LoginTrust, pair, last=now)
                row.last = now
                session.flush()
                if created:
                    _prune(session, LoginTrust, LoginTrust.last, self._max_keys)
        if previous is None or now - previous >= TRUST_PERIOD:
            return None
        return now - previous


# Read on every login attempt, cached credentials included: built once, for one key (a name
# or an address) and for two (an expanding IN list is compiled again on every execution).
_COUNTER_COLUMNS = select(
    LoginFailure.key,
    LoginFailure.kind,
    LoginFailure.score,
    LoginFailure.stamp,
    LoginFailure.busy_until,
    LoginFailure.reported_stamp,
)
_COUNTERS = (
    _COUNTER_COLUMNS.where(LoginFailure.key == bindparam("key0")),
    _COUNTER_COLUMNS.where(
        or_(LoginFailure.key == bindparam("key0"), LoginFailure.key == bindparam("key1"))
    ),
)
_TRUST = select(LoginTrust.last).where(LoginTrust.key == bindparam("key"))
# The same state as columns of a caller's own statement, so that a login reads the user and
# the throttle in one query (parameters from ``LoginThrottle.snapshot_parameters``).
TRUST_COLUMN = (
    select(LoginTrust.last)
    .where(LoginTrust.key == bindparam("throttle_pair"))
    .scalar_subquery()
    .label("throttle_trust")
)
FAILURES_COLUMN = (
    select(func.count())
    .select_from(LoginFailure)
    .where(
        or_(
            LoginFailure.key == bindparam("throttle_key0"),
            LoginFailure.key == bindparam("throttle_key1"),
        )
    )
    .scalar_subquery()
    .label("throttle_failures")
)


def _counters(connection: Connection, keys: Sequence[bytes]) -> dict[bytes, _Counter]:
    """The failure counters of ``keys`` (at most two: a user name and an address)."""
    if not keys:
        return {}
    parameters = {f"key{index}": key for index, key in enumerate(keys)}
    rows = connection.execute(_COUNTERS[len(keys) - 1], parameters).all()
    return {row.key: _Counter(*row) for row in rows}


def _locked_row(
    session: Session, model: type[_Row], key: bytes, **values: object
) -> tuple[_Row, bool]:
    """The row of ``key``, locked for this transaction, created with ``values`` if missing."""
    row = session.get(model, key, with_for_update=True)
    if row is not None:
        return row, False
    try:
        with session.begin_nested():
            row = model(key=key, **values)
            session.add(row)
    except IntegrityError:
        # Another server inserted it meanwhile (PostgreSQL; SQLite writers take turns).
        row = session.get(model, key, with_for_update=True, populate_existing=True)
        assert row is not None
        return row, False
    return row, True


def _prune(session: Session, model: type[_Row], stamp: Any, keep: int, *where: Any) -> None:
    """Forget all but the ``keep`` most recently stamped rows (of those matching ``where``)."""
    stale = select(model.key).where(*where).order_by(stamp.desc()).offset(keep)
    session.execute(delete(model).where(model.key.in_(stale)))


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


def _decayed(score: float, stamp: float, now: float) -> float:
    return score * 0.5 ** (max(0.0, now - stamp) / HALF_LIFE)


def _pair_key(user: str, address: str) -> bytes:
    return _key(f"{user}\0{address}")


def _key(text: str) -> bytes:
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()
