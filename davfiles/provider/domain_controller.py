"""WsgiDAV authentication backed by the davfiles user database, with login throttling.

The rules (what a credential may be, nonces, throttling, audit) live in ``auth.service``;
this module only translates between them and WsgiDAV's HTTPAuthenticator.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from wsgidav import util
from wsgidav.dc.base_dc import BaseDomainController
from wsgidav.http_authenticator import HTTPAuthenticator

from davfiles.auth.digest_nonces import NonceCheck
from davfiles.auth.service import Authenticator, parse_basic
from davfiles.auth.throttle import LoginThrottled
from davfiles.errors import AuthFailed
from davfiles.provider.provider import OWNER_KEY

AUTHENTICATOR_KEY = "davfiles.authenticator"
# The Digest check begun by the domain controller, ended by DavfilesHTTPAuthenticator.
_LOGIN_ATTEMPT_KEY = "davfiles.login_attempt"
# The nonce and nonce-count (None without qop) of the Digest response WsgiDAV is checking.
_DIGEST_NONCE_KEY = "davfiles.digest_nonce"


class _TwoChallengesAreMeant(logging.Filter):
    """WsgiDAVApp logs an error for every header field sent twice; two challenges are meant."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.getMessage() != "Duplicate header in response: WWW-Authenticate"


_TWO_CHALLENGES = _TwoChallengesAreMeant()


def client_address(environ: dict[str, Any]) -> str | None:
    return environ.get("REMOTE_ADDR") or None


class DavfilesDomainController(BaseDomainController):
    """Basic (password or API token) and Digest; the authenticated owner goes into environ."""

    def __init__(self, wsgidav_app: Any, config: dict[str, Any]) -> None:
        super().__init__(wsgidav_app, config)
        self._auth: Authenticator = config[AUTHENTICATOR_KEY]
        self._digest = bool(config["http_authenticator"].get("accept_digest"))

    def __str__(self) -> str:
        return self.__class__.__name__

    def get_domain_realm(self, path_info: str, environ: dict[str, Any]) -> str:
        return self._auth.realm

    def require_authentication(self, realm: str, environ: dict[str, Any]) -> bool:
        return True

    def basic_auth_user(
        self, realm: str, user_name: str, password: str, environ: dict[str, Any]
    ) -> bool:
        """True if valid; LoginThrottled passes through for DavfilesHTTPAuthenticator's 429."""
        try:
            environ[OWNER_KEY] = self._auth.verify(
                user_name, password, client=client_address(environ)
            )
        except LoginThrottled:
            raise
        except AuthFailed:
            return False
        return True

    def supports_http_digest_auth(self) -> bool:
        return self._digest

    def digest_auth_user(self, realm: str, user_name: str, environ: dict[str, Any]) -> str | bool:
        try:
            attempt = self._auth.begin_login(user_name, client_address(environ), "digest")
        except LoginThrottled:
            raise
        except AuthFailed:
            return False
        environ[_LOGIN_ATTEMPT_KEY] = attempt
        credentials = self._auth.digest_credentials(user_name)
        if credentials is None:
            return False
        # WsgiDAV checks the response against this HA1 next and rejects the request if it fails.
        environ[OWNER_KEY], ha1 = credentials
        return ha1


class DavfilesHTTPAuthenticator(HTTPAuthenticator):
    """WsgiDAV's HTTPAuthenticator: malformed credentials get 401, throttled logins 429.

    What each override adds to wsgidav 4.4.0 ``http_authenticator.py``, and why:

    - ``__call__`` checks ``Authorization: Bearer`` (API token or login JWT, the rule every
      REST dialect uses); WsgiDAV knows only Basic and Digest and would challenge it.
    - ``send_basic_auth_response`` and ``send_digest_auth_response`` both send both
      challenges, Digest first (Windows refuses Basic over plain HTTP), so clients that speak
      only Basic learn they may. The Digest nonce is signed and dated by ``auth.service``:
      WsgiDAV's is random and never checked, so a captured header could be replayed for ever.
    - ``_compute_digest_response`` notes the nonce and ``nc`` WsgiDAV parsed, which
      ``_authenticated`` has checked once the response matched: a stale nonce gets 401 with
      ``stale=true``, a replayed ``nc`` or a nonce not made here 401.
    - ``handle_basic_auth_request`` and ``handle_digest_auth_request``: WsgiDAV answers 500
      when the first meets bad base64, non-UTF-8, no colon or an empty value (unguarded
      ``base64.decodebytes``, ``str(..., "utf8")``, ``split(":", 1)``), and when the second
      meets a ``uri`` that ``urlsplit`` rejects (``http://[x``: ValueError, hence also
      ``_is_digest_uri_valid``) or a non-ASCII ``response`` (TypeError in
      ``hmac.compare_digest``). The second also ends the Digest login attempts that the
      domain controller begins.
    """

    def __init__(self, wsgidav_app: Any, next_app: Any, config: dict[str, Any]) -> None:
        super().__init__(wsgidav_app, next_app, config)
        self._auth: Authenticator = config[AUTHENTICATOR_KEY]
        # WsgiDAV calls next_app the moment a Digest response matched: ending the attempt
        # there, not after the request, keeps a long upload from holding the attempt open.
        self._protected_app = next_app
        self.next_app = self._authenticated
        wsgidav_logger = logging.getLogger("wsgidav.wsgidav_app")
        if _TWO_CHALLENGES not in wsgidav_logger.filters:
            wsgidav_logger.addFilter(_TWO_CHALLENGES)

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        scheme, _, credential = environ.get("HTTP_AUTHORIZATION", "").strip().partition(" ")
        # WsgiDAV lets OPTIONS through without looking at credentials (Windows sends it
        # anonymously): the same for Bearer.
        if scheme.lower() != "bearer" or environ["REQUEST_METHOD"] == "OPTIONS":
            return super().__call__(environ, start_response)  # type: ignore[no-any-return]
        try:
            owner = self._auth.verify_bearer(credential, client=client_address(environ))
        except LoginThrottled as exc:
            return _send_throttled(start_response, exc)
        except AuthFailed:
            return self._send_challenges(environ, start_response)
        environ[OWNER_KEY] = owner
        environ["wsgidav.auth.realm"] = self._auth.realm
        environ["wsgidav.auth.user_name"] = owner.name
        environ["wsgidav.auth.roles"] = None
        environ["wsgidav.auth.permissions"] = None
        return self._protected_app(environ, start_response)  # type: ignore[no-any-return]

    def send_basic_auth_response(
        self, environ: dict[str, Any], start_response: Any
    ) -> Iterable[bytes]:
        return self._send_challenges(environ, start_response)

    def send_digest_auth_response(
        self, environ: dict[str, Any], start_response: Any
    ) -> Iterable[bytes]:
        return self._send_challenges(environ, start_response)

    def _send_challenges(
        self, environ: dict[str, Any], start_response: Any, *, stale: bool = False
    ) -> list[bytes]:
        """401 with a Digest challenge (when accepted) and a Basic one."""
        realm = self._auth.realm
        challenges = []
        if self.accept_digest:
            nonce = self._auth.issue_digest_nonce()
            digest = f'Digest realm="{realm}", nonce="{nonce}", algorithm=MD5, qop="auth"'
            challenges.append(digest + (", stale=true" if stale else ""))
        challenges.append(f'Basic realm="{realm}"')
        body = self.error_message_401.encode()
        start_response(
            "401 Not Authorized",
            [("WWW-Authenticate", challenge) for challenge in challenges]
            + [
                ("Content-Type", "text/html; charset=utf-8"),
                ("Content-Length", str(len(body))),
                ("Date", util.get_rfc1123_time()),
            ],
        )
        return [body]

    def handle_basic_auth_request(
        self, environ: dict[str, Any], start_response: Any
    ) -> Iterable[bytes]:
        realm = self.domain_controller.get_domain_realm(environ["PATH_INFO"], environ)
        # WsgiDAV routes here when the header's first word is "basic" in any case.
        value = environ["HTTP_AUTHORIZATION"].strip()[len("basic") :]
        try:
            user_name, password = parse_basic(value)
        except AuthFailed:
            return self.send_basic_auth_response(environ, start_response)
        try:
            accepted = self.domain_controller.basic_auth_user(realm, user_name, password, environ)
        except LoginThrottled as exc:
            return _send_throttled(start_response, exc)
        if not accepted:
            return self.send_basic_auth_response(environ, start_response)
        environ["wsgidav.auth.realm"] = realm
        environ["wsgidav.auth.user_name"] = user_name
        return self._protected_app(environ, start_response)  # type: ignore[no-any-return]

    def handle_digest_auth_request(
        self, environ: dict[str, Any], start_response: Any
    ) -> Iterable[bytes]:
        # Digest parameters are ASCII (davfiles' user names are too); anything else would reach
        # hmac.compare_digest as a non-ASCII str.
        if not environ["HTTP_AUTHORIZATION"].isascii():
            return self.send_digest_auth_response(environ, start_response)
        try:
            return super().handle_digest_auth_request(environ, start_response)  # type: ignore[no-any-return]
        except LoginThrottled as exc:
            return _send_throttled(start_response, exc)
        finally:
            # Still here only if WsgiDAV rejected the response (a match pops it in _authenticated).
            attempt = environ.pop(_LOGIN_ATTEMPT_KEY, None)
            if attempt is not None:
                self._auth.end_login(attempt, None)

    def _is_digest_uri_valid(self, req_uri: Any, environ: dict[str, Any]) -> bool:
        try:
            return super()._is_digest_uri_valid(req_uri, environ)  # type: ignore[no-any-return]
        except ValueError:
            return False

    def _compute_digest_response(
        self,
        realm: str,
        user_name: str,
        method: str,
        uri: str,
        nonce: str,
        cnonce: str | None,
        qop: str | None,
        nc: str | None,
        environ: dict[str, Any],
    ) -> str | bool:
        environ[_DIGEST_NONCE_KEY] = (nonce, nc if qop else None)
        return super()._compute_digest_response(  # type: ignore[no-any-return]
            realm, user_name, method, uri, nonce, cnonce, qop, nc, environ
        )

    def _authenticated(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        """The protected app; first ends a matched Digest attempt (Basic ends its own), which
        succeeds only with a fresh nonce and a new nonce-count."""
        attempt = environ.pop(_LOGIN_ATTEMPT_KEY, None)
        if attempt is not None:
            nonce, nonce_count = environ.pop(_DIGEST_NONCE_KEY)
            verdict = self._auth.end_digest_login(attempt, environ[OWNER_KEY], nonce, nonce_count)
            if verdict is not NonceCheck.FRESH:
                # A replayed count with a matching response may be a client's own requests
                # overtaking each other: stale=true lets it retry without asking anyone.
                stale = verdict in (NonceCheck.STALE, NonceCheck.REPLAYED)
                return self._send_challenges(environ, start_response, stale=stale)
        return self._protected_app(environ, start_response)  # type: ignore[no-any-return]


def _send_throttled(start_response: Any, exc: LoginThrottled) -> list[bytes]:
    body = f"Too many failed logins; retry after {exc.retry_after} seconds.\n".encode()
    start_response(
        "429 Too Many Requests",
        [
            ("Content-Type", "text/plain; charset=utf-8"),
            ("Content-Length", str(len(body))),
            ("Retry-After", str(exc.retry_after)),
        ],
    )
    return [body]
