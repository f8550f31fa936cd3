"""Quota accounting: the only code that changes a user's usage counters.

Every increase is one conditional UPDATE, so the limit holds across threads, processes and
servers sharing the database; decreases are unconditional.
"""

from __future__ import annotations

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from davfiles.db.models import User
from davfiles.errors import NotFound, QuotaExceeded
from davfiles.store.models import QuotaFigures


def adjust(session: Session, user_id: int, bytes_delta: int, files_delta: int) -> None:
    """Add the deltas to the usage; raise QuotaExceeded (changing nothing) if over a limit."""
    if bytes_delta == 0 and files_delta == 0:
        return
    statement = update(User).where(User.id == user_id)
    if bytes_delta > 0:
        statement = statement.where(
            or_(User.max_bytes.is_(None), User.used_bytes + bytes_delta <= User.max_bytes)
        )
    if files_delta > 0:
        statement = statement.where(
            or_(User.max_files.is_(None), User.used_files + files_delta <= User.max_files)
        )
    statement = statement.values(
        used_bytes=User.used_bytes + bytes_delta, used_files=User.used_files + files_delta
    )
    if session.execute(statement).rowcount == 1:
        return
    current = figures(session, user_id)
    if (
        files_delta > 0
        and current.max_files is not None
        and current.used_files + files_delta > current.max_files
    ):
        raise QuotaExceeded("files", current.used_files, current.max_files, files_delta)
    raise QuotaExceeded("bytes", current.used_bytes, current.max_bytes or 0, bytes_delta)


def figures(session: Session, user_id: int) -> QuotaFigures:
    row = session.execute(
        select(User.used_bytes, User.used_files, User.max_bytes, User.max_files).where(
            User.id == user_id
        )
    ).one_or_none()
    if row is None:
        raise NotFound("no such user")
    return QuotaFigures(*row)


def set_usage(session: Session, user_id: int, used_bytes: int, used_files: int) -> None:
    """Overwrite the counters with figures recounted from the records (fsck); no limit applies."""
    session.execute(
        update(User).where(User.id == user_id).values(used_bytes=used_bytes, used_files=used_files)
    )
