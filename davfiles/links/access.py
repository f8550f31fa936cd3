"""The password gate of a share link: every URL of a link with a password passes here.

A visitor proves the password once, by the page's form (a POST body, never the query string)
or by HTTP Basic (any user name, the link password: curl, public WebDAV). The form answers a
cookie scoped to the link's URLs: an HMAC, under a key derived from the server secret, of the
token, the password's argon2 hash and the time it was issued. A new password (new hash, new
salt) or a new token ends every cookie at once, and cookies last ``COOKIE_LIFETIME``.

Failed passwords go through the login throttle (``auth/throttle.py``) under the name
``share-link/<id>`` (never a user name: those have no slash) and the client's address: a
guesser of one link waits, and so does one address guessing many links; a visitor who gave
the right password from an address is trusted there, so a guesser elsewhere keeps no one
out who got in before.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import threading
import time
from collections import OrderedDict

from werkzeug.wrappers import Request, Response

from davfiles.auth import audit
from davfiles.auth.audit import AuditEvent
from davfiles.auth.throttle import LoginThrottle, LoginThrottled
from davfiles.numbers import whole_number
from davfiles.store.links import ShareLinks, Visit

COOKIE_NAME = "davfiles_link"
COOKIE_LIFETIME = 12 * 3600
# Right Basic passwords remembered per process (least recently checked go first).
MAX_REMEMBERED = 1000


class LinkGate:
    def __init__(self, links: ShareLinks, key: bytes, throttle: LoginThrottle) -> None:
        self._links = links
        self._key = key
        self._throttle = throttle
        self._verified: OrderedDict[bytes, float] = OrderedDict()
        self._lock = threading.Lock()

    def _mac(self, visit: Visit, issued: int) -> str:
        message = f"{visit.link.token}\0{visit.link.password_hash}\0{issued}".encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()

    def has_cookie(self, request: Request, visit: Visit) -> bool:
        issued_text, _dot, mac = request.cookies.get(COOKIE_NAME, "").partition(".")
        issued = whole_number(issued_text)
        if issued is None or not mac.isascii():
            return False
        if not 0 <= time.time() - issued <= COOKIE_LIFETIME:
            return False
        return hmac.compare_digest(mac, self._mac(visit, issued))

    def admitted(self, request: Request, visit: Visit) -> bool:
        """True for a link without password, a valid cookie, or the right Basic password.

        A right Basic password is remembered (as an HMAC, with the link's password hash, for
        ``COOKIE_LIFETIME``), so a WebDAV client's every request costs no argon2 check.
        Raises LoginThrottled while this link or this address must wait after failures."""
        if visit.link.password_hash is None or self.has_cookie(request, visit):
            return True
        password = basic_password(request)
        if password is None:
            return False
        key = hmac.new(
            self._key, f"{visit.link.password_hash}\0{password}".encode(), hashlib.sha256
        ).digest()
        with self._lock:
            verified_at = self._verified.get(key)
        if verified_at is not None and time.monotonic() - verified_at < COOKIE_LIFETIME:
            return True
        if not self.check(request, visit, password):
            return False
        with self._lock:
            self._verified[key] = time.monotonic()
            self._verified.move_to_end(key)
            while len(self._verified) > MAX_REMEMBERED:
                self._verified.popitem(last=False)
        return True

    def check(self, request: Request, visit: Visit, password: str) -> bool:
        """Check a password through the throttle (LoginThrottled while it must wait)."""
        name = f"share-link/{visit.link.id}"
        target = f"link {visit.link.id}"
        try:
            ticket = self._throttle.begin(name, request.remote_addr)
        except LoginThrottled as exc:
            if exc.first:
                audit.record(AuditEvent.LINK_THROTTLED, user=visit.owner.name, target=target)
            raise
        right = self._links.check_password(visit, password)
        self._throttle.finish(ticket, name if right else None)
        if not right:
            audit.record(AuditEvent.LINK_FAIL, user=visit.owner.name, target=target)
        return right

    def set_cookie(self, request: Request, response: Response, visit: Visit, path: str) -> None:
        issued = int(time.time())
        response.set_cookie(
            COOKIE_NAME,
            f"{issued}.{self._mac(visit, issued)}",
            max_age=COOKIE_LIFETIME,
            path=path,
            secure=request.scheme == "https",
            httponly=True,
            samesite="Lax",
        )


def _basic(request: Request) -> tuple[str, str] | None:
    """The user name and password of an ``Authorization: Basic`` header, else None."""
    scheme, _space, value = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, colon, password = decoded.partition(":")
    return (user, password) if colon else None


def basic_password(request: Request) -> str | None:
    """The password of HTTP Basic (any user name), else None."""
    credentials = _basic(request)
    return None if credentials is None else credentials[1]


def basic_user(request: Request) -> str | None:
    """The user name of HTTP Basic (the token, on the legacy public WebDAV), else None."""
    credentials = _basic(request)
    return None if credentials is None else credentials[0]
