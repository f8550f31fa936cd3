"""The cap on uploads one user may have in progress at once, held in the database.

Each upload takes a slot, a row of ``upload_slots``, in the transaction that starts it and
gives it back in the one that commits or aborts it, so the cap binds every worker process and
server on the database. A slot is a lease rather than a lock: it expires ``LEASE`` seconds
after it was taken or last renewed, and an upload renews it while its bytes arrive (at most
one UPDATE per ``RENEW_EVERY`` seconds). A process killed mid-upload therefore blocks nobody
for longer than the lease; no start-up sweep is needed, which would be wrong anyway with
several workers, where one restarting must not free the slots of its living siblings.
Expired slots are deleted by the next acquisition for the same user.

A client that stalls longer than the lease (the server's socket timeout cuts it off much
earlier) may let one more upload through; the cap bounds resources, it is not a lock.
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import bindparam, delete, func, insert, select, update
from sqlalchemy.orm import Session

from davfiles.db.engine import Database
from davfiles.db.models import UploadSlot, User
from davfiles.db.prepared import Prepared
from davfiles.errors import TooManyUploads

# Room for the parallel transfers of sync clients (rclone 4, Nextcloud's client 6) and more.
DEFAULT_MAX_UPLOADS_PER_USER = 16
LEASE = 120.0
RENEW_EVERY = 30.0
# What a refused client is told to wait: running uploads may end any moment.
RETRY_AFTER = 5


# Run for every upload: built once.
_USER = bindparam("user_id")
_LOCK_USER = select(User.id).where(User.id == _USER).with_for_update()
# No session holds UploadSlot objects: the ORM need not bring any up to date.
_DELETE_EXPIRED = (
    delete(UploadSlot)
    .where(UploadSlot.user_id == _USER, UploadSlot.expires_at < bindparam("now"))
    .execution_options(synchronize_session=False)
)
_RELEASE = (
    delete(UploadSlot)
    .where(UploadSlot.id == bindparam("slot_id"))
    .execution_options(synchronize_session=False)
)
_SLOTS: Any = UploadSlot.__table__
# Run by every small upload: on the driver's cursor (``Prepared``).
_COUNT = Prepared(select(func.count()).select_from(_SLOTS).where(_SLOTS.c.user_id == _USER))
_INSERT = (
    insert(UploadSlot)
    .values(user_id=_USER, expires_at=bindparam("expires_at"))
    .returning(UploadSlot.id)
)


def acquire(session: Session, user_id: int, limit: int, now: float) -> int | None:
    """Take a slot for ``user_id`` and return its id (None when ``limit`` is 0: no cap).

    Raises TooManyUploads, taking nothing, when ``limit`` slots are taken. Call inside a write
    transaction: on PostgreSQL the user's row lock queues concurrent acquisitions, on SQLite
    the write transaction is exclusive already.
    """
    if limit <= 0:
        return None
    mine = {"user_id": user_id}
    session.execute(_LOCK_USER, mine)
    session.execute(_DELETE_EXPIRED, {**mine, "now": now})
    taken = _COUNT.scalar(session.connection(), mine)
    if taken is not None and taken >= limit:
        raise TooManyUploads(limit, RETRY_AFTER)
    return int(session.execute(_INSERT, {**mine, "expires_at": now + LEASE}).scalar_one())


def check_free(session: Session, user_id: int, limit: int, now: float) -> None:
    """Raise TooManyUploads if ``limit`` slots are taken, taking none: for an upload whose body
    has arrived whole and is stored in this one transaction. Expired slots are deleted as by
    ``acquire``; with none at all (the common case) this is one statement."""
    if limit <= 0:
        return
    mine = {"user_id": user_id}
    if not _COUNT.scalar(session.connection(), mine):
        return
    session.execute(_DELETE_EXPIRED, {**mine, "now": now})
    taken = _COUNT.scalar(session.connection(), mine)
    if taken is not None and taken >= limit:
        raise TooManyUploads(limit, RETRY_AFTER)


def renew(session: Session, slot_id: int, now: float) -> None:
    """Extend the lease of a running upload's slot."""
    session.execute(
        update(UploadSlot).where(UploadSlot.id == slot_id).values(expires_at=now + LEASE)
    )


def release(session: Session, slot_id: int) -> None:
    session.execute(_RELEASE, {"slot_id": slot_id})


class Lease:
    """A running upload's slot: renewed while its bytes arrive, given back once at the end."""

    def __init__(self, slot_id: int | None) -> None:
        self.slot_id = slot_id
        self._renew_at = time.monotonic() + RENEW_EVERY

    def keep(self, db: Database) -> None:
        """Renew the lease if it is due; called for every block received."""
        if self.slot_id is None or time.monotonic() < self._renew_at:
            return
        with db.write() as session:
            renew(session, self.slot_id, time.time())
        self._renew_at = time.monotonic() + RENEW_EVERY

    def give_back(self, session: Session) -> None:
        if self.slot_id is not None:
            release(session, self.slot_id)
            self.slot_id = None
