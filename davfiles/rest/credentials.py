"""Who is calling: every credential form the dialects document, checked by one authenticator.

Accepted everywhere: HTTP Basic (password or API token), ``Authorization: Token <api token>``,
``Authorization: Bearer <api token or login JWT>`` and ``x-molgenis-token: <api token>``.
"""

from __future__ import annotations

import base64
import binascii

from werkzeug.wrappers import Request

from davfiles.auth.service import Authenticator
from davfiles.errors import AuthFailed
from davfiles.store import Owner


def authenticate(request: Request, authenticator: Authenticator) -> Owner:
    """Raise AuthFailed unless the request carries valid credentials."""
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.strip().partition(" ")
    value = value.strip()
    scheme = scheme.lower()
    if scheme == "basic":
        name, password = _decode_basic(value)
        return authenticator.verify(name, password)
    if scheme == "token" and value:
        return authenticator.verify_token(value)
    if scheme == "bearer" and value:
        return authenticator.verify_bearer(value)
    molgenis_token = request.headers.get("x-molgenis-token", "").strip()
    if molgenis_token:
        return authenticator.verify_token(molgenis_token)
    raise AuthFailed("authentication required")


def _decode_basic(value: str) -> tuple[str, str]:
    try:
        decoded = base64.b64decode(value, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise AuthFailed("malformed Basic credentials") from None
    name, colon, password = decoded.partition(":")
    if not colon or "\0" in decoded:
        raise AuthFailed("malformed Basic credentials")
    return name, password
