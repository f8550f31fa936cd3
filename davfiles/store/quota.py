"""Quota accounting: the only code that changes a user's usage counters.

Every increase is one conditional UPDATE, so the limit holds across threads, processes and
servers sharing the database; decreases are unconditional. The one exception, ``overdraw``,
is an upload's reservation that eviction covers when it commits. Refusals are audited.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, Connection, bindparam, or_, select, update
from sqlalchemy.orm import Session

from davfiles.auth import audit
from davfiles.db.models import User
from davfiles.db.prepared import Prepared
from davfiles.errors import NotFound, QuotaExceeded
from davfiles.store.models import Owner, QuotaFigures


def adjust(session: Session, user_id: int, bytes_delta: int, files_delta: int) -> None:
    """Add the deltas to the usage; raise QuotaExceeded (changing nothing) if over a limit."""
    if try_adjust(session, user_id, bytes_delta, files_delta):
        return
    row = session.execute(
        select(User.name, User.used_bytes, User.used_files, User.max_bytes, User.max_files).where(
            User.id == user_id
        )
    ).one_or_none()
    if row is None:
        raise NotFound("no such user")
    if (
        files_delta > 0
        and row.max_files is not None
        and row.used_files + files_delta > row.max_files
    ):
        refusal = QuotaExceeded("files", row.used_files, row.max_files, files_delta)
    else:
        refusal = QuotaExceeded("bytes", row.used_bytes, row.max_bytes or 0, bytes_delta)
    raise _audited(row.name, refusal)


def check_room(current: QuotaFigures, owner: Owner, extra_bytes: int) -> None:
    """Raise QuotaExceeded unless ``extra_bytes`` more fit what a write can use (the free
    bytes and the reclaimable ones, of ``Store.usage``); reserves nothing.

    For bytes held outside the counters until they become a file (Nextcloud's waiting chunks).
    """
    available = current.available_bytes
    if current.max_bytes is not None and available is not None and extra_bytes > available:
        refusal = QuotaExceeded("bytes", current.used_bytes, current.max_bytes, extra_bytes)
        raise _audited(owner.name, refusal)


def _audited(user: str, refusal: QuotaExceeded) -> QuotaExceeded:
    audit.record(audit.AuditEvent.QUOTA_REFUSED, user=user, target=str(refusal))
    return refusal


_BYTES = bindparam("bytes_delta", type_=BigInteger)
_FILES = bindparam("files_delta", type_=BigInteger)
_USERS: Any = User.__table__
# One conditional UPDATE, built once and run on the driver's cursor (every write runs it): a
# growing counter must stay within its limit. No session holds User objects, so none needs
# bringing up to date.
_ADJUST = Prepared(
    update(_USERS)
    .where(
        _USERS.c.id == bindparam("user_id"),
        or_(
            _BYTES <= 0,
            _USERS.c.max_bytes.is_(None),
            _USERS.c.used_bytes + _BYTES <= _USERS.c.max_bytes,
        ),
        or_(
            _FILES <= 0,
            _USERS.c.max_files.is_(None),
            _USERS.c.used_files + _FILES <= _USERS.c.max_files,
        ),
    )
    .values(used_bytes=_USERS.c.used_bytes + _BYTES, used_files=_USERS.c.used_files + _FILES)
)


def try_adjust(session: Session, user_id: int, bytes_delta: int, files_delta: int) -> bool:
    """``adjust`` that answers False instead of refusing (not audited): for probing attempts."""
    if bytes_delta == 0 and files_delta == 0:
        return True
    parameters = {"user_id": user_id, "bytes_delta": bytes_delta, "files_delta": files_delta}
    return _ADJUST.run(session.connection(), parameters) == 1


_FIGURES = select(User.used_bytes, User.used_files, User.max_bytes, User.max_files).where(
    User.id == bindparam("user_id")
)


def figures(session: Session | Connection, user_id: int) -> QuotaFigures:
    row = session.execute(_FIGURES, {"user_id": user_id}).one_or_none()
    if row is None:
        raise NotFound("no such user")
    return QuotaFigures(*row)


def overdraw(session: Session, user_id: int, bytes_delta: int) -> None:
    """Add bytes past the byte limit: only for a reservation that eviction covers
    (``retention.reserve_ahead``), taken back when the upload commits or aborts."""
    session.execute(
        update(User)
        .where(User.id == user_id)
        .values(used_bytes=User.used_bytes + bytes_delta)
        .execution_options(synchronize_session=False)
    )


def set_usage(session: Session, user_id: int, used_bytes: int, used_files: int) -> None:
    """Overwrite the counters with figures recounted from the records (fsck); no limit applies."""
    session.execute(
        update(User).where(User.id == user_id).values(used_bytes=used_bytes, used_files=used_files)
    )
