"""HTTP Digest nonces the server can recognise: signed, dated, each nonce-count used once.

Without this, any nonce was accepted, so a captured ``Authorization: Digest`` header could be
sent again for ever. A nonce here is 40 bytes in base64url: the issue time (8 bytes,
milliseconds), 16 random bytes (its id) and the first 16 bytes of an HMAC-SHA256 over both, under a
key derived from the login-token secret. So any server process on the same data can check one
without shared state: a nonce it did not make fails the tag, an old one shows its age.

Only the nonce-count (``nc``, RFC 7616 §3.4) needs state: the highest one accepted per nonce,
in the ``digest_nonces`` table, so a count replayed to another worker process is refused too.
Checking it is one conditional upsert (insert the row, or raise ``max_nc`` only if the new
count is higher) that returns a row only if the count was new. Rows are written only for
nonces that authenticated a request, never when a nonce is handed out, so anonymous clients
cannot fill the table; once a minute per process (or once a lifetime, if shorter) the same
transaction deletes rows whose nonce has gone stale.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Callable
from enum import Enum
from typing import Any

from sqlalchemy import bindparam, delete
from sqlalchemy.dialects import postgresql, sqlite

from davfiles.db.engine import Database
from davfiles.db.models import DigestNonce

_TIME_BYTES = 8
_ID_BYTES = 16
_TAG_BYTES = 16
_NONCE_BYTES = _TIME_BYTES + _ID_BYTES + _TAG_BYTES
# Unpadded base64url of _NONCE_BYTES bytes.
_NONCE_TEXT = re.compile(r"[A-Za-z0-9_-]{54}")
# RFC 7616: nc is exactly 8 hexadecimal digits; the first request on a nonce sends 00000001.
_NONCE_COUNT = re.compile(r"[0-9a-fA-F]{8}")
SWEEP_INTERVAL = 60.0


class NonceCheck(Enum):
    """What a Digest request's nonce and nonce-count amount to, once its response matched."""

    FRESH = "fresh"  # ours, within its lifetime, a count higher than any before: accept
    STALE = "stale"  # ours but too old: refuse with stale=true, the client retries
    REPLAYED = "replayed"  # ours, but this count (or a higher one) was accepted already
    UNKNOWN = "unknown"  # not made by this server, or no nonce-count to guard it with


class DigestNonces:
    def __init__(
        self,
        db: Database,
        key: bytes,
        lifetime: int,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._db = db
        self._key = key
        self.lifetime = lifetime
        self._clock = clock
        self._upsert = _count_upsert(db.engine.dialect.name)
        self._sweep_interval = min(SWEEP_INTERVAL, float(lifetime))
        self._next_sweep = 0.0

    def issue(self) -> str:
        """A new nonce, valid for ``lifetime`` seconds."""
        issued = int(self._clock() * 1000)
        body = issued.to_bytes(_TIME_BYTES, "big") + secrets.token_bytes(_ID_BYTES)
        return base64.urlsafe_b64encode(body + self._tag(body)).decode("ascii").rstrip("=")

    def check(self, nonce: str, nc: str | None) -> NonceCheck:
        """Judge ``nonce`` with the request's ``nc`` (None: the request sent no qop).

        Records ``nc`` as the nonce's highest when it is FRESH.
        """
        body = self._body(nonce)
        if body is None:
            return NonceCheck.UNKNOWN
        issued = int.from_bytes(body[:_TIME_BYTES], "big") / 1000
        now = self._clock()
        if now - issued >= self.lifetime:
            return NonceCheck.STALE
        if nc is None or not _NONCE_COUNT.fullmatch(nc) or int(nc, 16) == 0:
            return NonceCheck.UNKNOWN
        values = {"id": body[_TIME_BYTES:], "nc": int(nc, 16), "expires": issued + self.lifetime}
        with self._db.write() as session:
            connection = session.connection()
            counted = connection.execute(self._upsert, values).first() is not None
            if now >= self._next_sweep:
                self._next_sweep = now + self._sweep_interval
                connection.execute(delete(DigestNonce).where(DigestNonce.expires_at <= now))
        return NonceCheck.FRESH if counted else NonceCheck.REPLAYED

    def _body(self, nonce: str) -> bytes | None:
        """The time and id of a nonce this server made, or None."""
        if not _NONCE_TEXT.fullmatch(nonce):
            return None
        raw = base64.urlsafe_b64decode(nonce + "==")
        body, tag = raw[:-_TAG_BYTES], raw[-_TAG_BYTES:]
        return body if hmac.compare_digest(tag, self._tag(body)) else None

    def _tag(self, body: bytes) -> bytes:
        return hmac.new(self._key, body, hashlib.sha256).digest()[:_TAG_BYTES]


def _count_upsert(dialect: str) -> Any:
    """INSERT the nonce's first count, or raise ``max_nc`` to a higher one; no row: replayed.

    RETURNING tells the cases apart on both databases (psycopg's rowcount is -1 here).
    """
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(DigestNonce).values(
        nonce_id=bindparam("id"), max_nc=bindparam("nc"), expires_at=bindparam("expires")
    )
    return statement.on_conflict_do_update(
        index_elements=[DigestNonce.nonce_id],
        set_={"max_nc": statement.excluded.max_nc},
        where=DigestNonce.max_nc < statement.excluded.max_nc,
    ).returning(DigestNonce.max_nc)
