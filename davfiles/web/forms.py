"""What a change request must show to be the user's own: the session's CSRF token in the form
and no foreign origin. Browsers send ``Origin`` on every POST (``null`` from privacy-minded
contexts, which this refuses too) and ``Sec-Fetch-Site`` on recent versions."""

from __future__ import annotations

import hmac

from werkzeug.wrappers import Request

from davfiles.errors import InvalidName, PermissionDenied

CSRF_FIELD = "csrf"


def same_origin(request: Request) -> bool:
    """No sign that another site made the browser send this request."""
    if request.headers.get("Sec-Fetch-Site", "same-origin") not in ("same-origin", "none"):
        return False
    origin = request.headers.get("Origin")
    return origin is None or origin.rstrip("/") == request.host_url.rstrip("/")


def check_change(request: Request, fields: dict[str, str], expected: str) -> None:
    """Raise PermissionDenied unless the form carries ``expected`` and came from this site."""
    if not same_origin(request):
        raise PermissionDenied("this request came from another site")
    sent = fields.get(CSRF_FIELD, "")
    if not sent or not hmac.compare_digest(sent, expected):
        raise PermissionDenied("the form is out of date: reload the page and try again")


def one(fields: dict[str, list[str]], name: str, default: str | None = None) -> str:
    """The first value of the field ``name``; without one, ``default`` or InvalidName."""
    values = fields.get(name)
    if values:
        return values[0]
    if default is None:
        raise InvalidName(f"the form lacks the field {name}")
    return default
