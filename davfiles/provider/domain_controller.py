"""WsgiDAV domain controller backed by the davfiles user database."""

from __future__ import annotations

from typing import Any

from wsgidav.dc.base_dc import BaseDomainController

from davfiles.auth.service import Authenticator
from davfiles.errors import AuthFailed
from davfiles.provider.provider import OWNER_KEY

AUTHENTICATOR_KEY = "davfiles.authenticator"


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
        try:
            environ[OWNER_KEY] = self._auth.verify(user_name, password)
        except AuthFailed:
            return False
        return True

    def supports_http_digest_auth(self) -> bool:
        return self._digest

    def digest_auth_user(self, realm: str, user_name: str, environ: dict[str, Any]) -> str | bool:
        credentials = self._auth.digest_credentials(user_name)
        if credentials is None:
            return False
        # WsgiDAV checks the response against this HA1 next and rejects the request if it fails.
        environ[OWNER_KEY], ha1 = credentials
        return ha1
