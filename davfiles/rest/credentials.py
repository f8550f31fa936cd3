"""Who is calling: every credential form the dialects document, checked by one authenticator.

Accepted everywhere: HTTP Basic (password or API token), ``Authorization: Token <api token>``,
``Authorization: Bearer <api token or login JWT>`` and ``x-molgenis-token: <api token>``.
"""

from __future__ import annotations

from werkzeug.wrappers import Request

from davfiles.auth.service import Authenticator, parse_basic
from davfiles.errors import AuthFailed
from davfiles.store import Owner


def authenticate(request: Request, authenticator: Authenticator) -> Owner:
    """Raise AuthFailed unless the request carries valid credentials (LoginThrottled: wait)."""
    client = request.remote_addr
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.strip().partition(" ")
    value = value.strip()
    scheme = scheme.lower()
    if scheme == "basic":
        name, password = parse_basic(value)
        return authenticator.verify(name, password, client=client)
    if scheme == "token" and value:
        return authenticator.verify_token(value, client=client)
    if scheme == "bearer" and value:
        return authenticator.verify_bearer(value, client=client)
    molgenis_token = request.headers.get("x-molgenis-token", "").strip()
    if molgenis_token:
        return authenticator.verify_token(molgenis_token, client=client)
    raise AuthFailed("authentication required")
