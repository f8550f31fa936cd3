"""The server's link policy: rules every new or changed share link must follow, whichever door
(web app, JSON API, OCS, CLI) made it. ``ShareLinks.create`` and ``update`` apply it; an admin
sets it (web app admin pages, ``davfiles links policy``).

- ``default_expiry_days``: a link created without an expiry expires after this many days.
- ``max_expiry_days``: a link must expire, at the latest at the end (midnight UTC) of the
  day this many days from today; a link created without an expiry gets the default, or this.
- ``password_kinds``: the kinds whose links need a password.

A policy governs what is set from then on; existing links keep their settings until changed.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from davfiles.db.engine import Database
from davfiles.db.models import LinkPolicy as LinkPolicyRow
from davfiles.errors import InvalidName, PermissionDenied
from davfiles.numbers import whole_number
from davfiles.store.link_values import LinkKind

DAY = 86400.0
POLICY_ID = 1
MAX_DAYS = 36500


@dataclass(frozen=True)
class LinkPolicy:
    default_expiry_days: int | None = None
    max_expiry_days: int | None = None
    password_kinds: frozenset[LinkKind] = frozenset()

    def __post_init__(self) -> None:
        for name in ("default_expiry_days", "max_expiry_days"):
            value = getattr(self, name)
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_DAYS
            ):
                raise InvalidName(f"{name} must be a whole number of days from 1 to {MAX_DAYS}")
        maximum = self.max_expiry_days
        if maximum is not None and (self.default_expiry_days or 0) > maximum:
            raise InvalidName("the default expiry cannot be longer than the maximum")

    def latest_expiry(self, now: float) -> float | None:
        """The latest expiry allowed: the end of the day ``max_expiry_days`` from today (UTC),
        so a date picked in a calendar (OCS ``expireDate``) N days ahead passes."""
        if self.max_expiry_days is None:
            return None
        today = now - now % DAY
        return today + (self.max_expiry_days + 1) * DAY

    def default_expiry(self, now: float) -> float | None:
        days = self.default_expiry_days or self.max_expiry_days
        return None if days is None else now + days * DAY

    def check_expiry(self, expires_at: float | None, now: float) -> None:
        latest = self.latest_expiry(now)
        if latest is None:
            return
        if expires_at is None:
            raise PermissionDenied(
                f"the link policy requires links to expire within {self.max_expiry_days} days"
            )
        if expires_at > latest:
            raise PermissionDenied(
                f"the link policy allows an expiry at most {self.max_expiry_days} days ahead"
            )

    def check_public_by_id(self) -> None:
        """A file public by id (``/public/<id>``) is a view link with no password that never
        expires: a policy that requires either refuses to make one."""
        if LinkKind.VIEW in self.password_kinds:
            raise PermissionDenied(
                "the link policy requires a password for view links: share the file by a link"
            )
        if self.max_expiry_days is not None:
            raise PermissionDenied(
                "the link policy requires links to expire: share the file by a link"
            )

    def check_password(self, kind: str, has_password: bool) -> None:
        if not has_password and kind in self.password_kinds:
            raise PermissionDenied(f"the link policy requires a password for {kind} links")

    def apply_to_new(self, values: dict[str, Any], now: float) -> dict[str, Any]:
        """``values`` (checked columns of a new link) with the default expiry filled in;
        PermissionDenied when they break the policy."""
        if values.get("expires_at") is None:
            values = {**values, "expires_at": self.default_expiry(now)}
        self.check_expiry(values["expires_at"], now)
        self.check_password(values["kind"], values.get("password_hash") is not None)
        return values


def parse_kinds(text: str) -> frozenset[LinkKind]:
    """Kinds from ``"view,drop"`` (empty: none); InvalidName for an unknown one."""
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = sorted(set(names) - set(LinkKind))
    if unknown:
        raise InvalidName(f"unknown link kind(s): {', '.join(unknown)} (view, drop, edit)")
    return frozenset(LinkKind(name) for name in names)


def parse_days(text: str) -> int | None:
    """A number of days from a form or the command line; blank or ``none`` is no rule."""
    value = text.strip().lower()
    if value in ("", "none"):
        return None
    days = whole_number(value)
    if days is None:
        raise InvalidName(f"not a number of days: {text!r} (or none)")
    return days


def kinds_text(kinds: frozenset[LinkKind]) -> str:
    return ",".join(kind for kind in LinkKind if kind in kinds)


def read(session: Session) -> LinkPolicy:
    row = session.get(LinkPolicyRow, POLICY_ID)
    if row is None:
        return LinkPolicy()
    return LinkPolicy(row.default_expiry_days, row.max_expiry_days, parse_kinds(row.password_kinds))


def load(db: Database) -> LinkPolicy:
    with db.read() as session:
        return read(session)


def save(db: Database, policy: LinkPolicy) -> None:
    with db.write() as session:
        row = session.get(LinkPolicyRow, POLICY_ID, with_for_update=True)
        if row is None:
            row = LinkPolicyRow(id=POLICY_ID)
            session.add(row)
        row.default_expiry_days = policy.default_expiry_days
        row.max_expiry_days = policy.max_expiry_days
        row.password_kinds = kinds_text(policy.password_kinds)
        row.updated_at = time.time()
