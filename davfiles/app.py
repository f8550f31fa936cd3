"""Composition root: builds the services once and the WSGI application around them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from wsgidav.error_printer import ErrorPrinter
from wsgidav.request_resolver import RequestResolver
from wsgidav.wsgidav_app import WsgiDAVApp

from davfiles.auth.accounts import Accounts
from davfiles.auth.audit import AuditLog, AuditScope
from davfiles.auth.login_flows import LoginFlows
from davfiles.auth.login_tokens import LoginTokens, load_or_create_secret
from davfiles.auth.service import Authenticator
from davfiles.auth.throttle import LoginThrottle, ThrottleLimits
from davfiles.config import Settings
from davfiles.db import schema
from davfiles.db.engine import Database, make_engine
from davfiles.drain import DrainUnreadBody
from davfiles.fast.door import FastDoor
from davfiles.health import HealthEndpoints, ReadinessCheck
from davfiles.links.access import LinkGate
from davfiles.links.davlocks import LinkLocks
from davfiles.links.door import LinkDoor
from davfiles.metrics_middleware import observe_requests
from davfiles.nextcloud import NextcloudMiddleware
from davfiles.nextcloud.middleware import CLAIMED_PATHS as NEXTCLOUD_PATHS
from davfiles.provider.domain_controller import (
    AUTHENTICATOR_KEY,
    DavfilesDomainController,
    DavfilesHTTPAuthenticator,
)
from davfiles.provider.folder_get import FolderGet
from davfiles.provider.properties import DeadPropertyManager
from davfiles.provider.propfind import KeepStreamsAlive, quiet_wsgidav_about_streams
from davfiles.provider.provider import DavfilesProvider
from davfiles.provider.server_faults import HideServerFaults
from davfiles.proxy import forwarded_headers
from davfiles.request_guard import RequestGuard
from davfiles.rest.dialect import DialectContext
from davfiles.rest.middleware import RestMiddleware
from davfiles.rest.mounts import any_method
from davfiles.rest.openapi import build_openapi
from davfiles.rest.registry import build_dialects
from davfiles.sandbox import SandboxUnmarked
from davfiles.store import Store
from davfiles.store.locks import SqlLockStorage
from davfiles.store.retention import Keeping
from davfiles.web import WebApp, WebSessions
from davfiles.xml_guard import XmlGuard

DAV_MOUNT = "/dav"
# ownCloud/Nextcloud clients (rclone's owncloud and nextcloud vendors) expect these paths.
OC_WEBDAV_MOUNT = "/remote.php/webdav"
OC_DAV_MOUNT = "/remote.php/dav"
DAV_MOUNTS = (DAV_MOUNT, OC_WEBDAV_MOUNT, OC_DAV_MOUNT)


@dataclass(frozen=True)
class Services:
    settings: Settings
    db: Database
    store: Store
    authenticator: Authenticator
    accounts: Accounts
    audit: AuditLog

    def close(self) -> None:
        self.store.stop_keeper()
        self.db.dispose()


def create_services(settings: Settings) -> Services:
    """Raises SchemaOutOfDate for a database that needs ``davfiles db upgrade`` first."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.effective_database_url, settings.threads)
    try:
        schema.prepare(engine)
    except BaseException:
        engine.dispose()
        raise
    db = Database(engine)
    keeping = Keeping(
        trash_enabled=settings.trash_enabled,
        trash_days=settings.trash_days,
        trash_skip=settings.trash_skip,
        versions_enabled=settings.versions_enabled,
        versions_keep_last=settings.versions_keep_last,
        versions_max_age_days=settings.versions_max_age_days,
        versions_coalesce_seconds=settings.versions_coalesce_seconds,
        purge_interval=settings.retention_interval,
    )
    store = Store(db, settings.data_dir, settings.max_uploads_per_user, keeping)
    audit = AuditLog(settings.effective_audit_log)
    throttle = LoginThrottle(db, _throttle_limits(settings))
    return Services(
        settings=settings,
        db=db,
        store=store,
        authenticator=Authenticator(
            db,
            settings.realm,
            settings.auth_cache_size,
            LoginTokens(
                settings.jwt_secret or load_or_create_secret(settings.data_dir / "jwt-secret"),
                settings.jwt_lifetime,
            ),
            throttle,
            audit,
            settings.digest_nonce_lifetime,
        ),
        accounts=Accounts(db, store, settings.realm, audit),
        audit=audit,
    )


def _throttle_limits(settings: Settings) -> ThrottleLimits:
    return ThrottleLimits(
        per_user=settings.login_failures_per_user,
        per_address=settings.login_failures_per_address,
        max_delay=settings.login_delay_max,
    )


def wsgidav_config(services: Services) -> dict[str, Any]:
    """The WsgiDAV configuration: the user's pass-through keys plus what davfiles decides."""
    settings = services.settings
    config: dict[str, Any] = {
        "verbose": 2,
        "logging": {"enable": False},
        # Browsers get the web app (davfiles/web), not WsgiDAV's directory listing.
        "dir_browser": {"enable": False},
        **settings.wsgidav,
    }
    depth_infinity = settings.propfind_depth_infinity
    config.setdefault("hotfixes", {})
    # Windows' WebDAV client sends OPTIONS without credentials and gives up on a 401.
    config["hotfixes"] = {**config["hotfixes"], "win_accept_anonymous_options": True}
    config.update(
        {
            "provider_mapping": {
                DAV_MOUNT: DavfilesProvider(services.store, allow_depth_infinity=depth_infinity),
                OC_WEBDAV_MOUNT: DavfilesProvider(
                    services.store, allow_depth_infinity=depth_infinity
                ),
                OC_DAV_MOUNT: DavfilesProvider(
                    services.store, allow_depth_infinity=depth_infinity, nextcloud_layout=True
                ),
            },
            "http_authenticator": {
                "domain_controller": DavfilesDomainController,
                "accept_basic": True,
                "accept_digest": settings.accept_digest,
                "default_to_digest": settings.accept_digest,
                "trusted_auth_header": None,
            },
            "lock_storage": SqlLockStorage(services.db, settings.lock_timeout_max),
            "property_manager": DeadPropertyManager(services.store),
            "middleware_stack": [
                ErrorPrinter,
                DavfilesHTTPAuthenticator,
                *([FastDoor] if settings.fast_door else []),
                FolderGet,
                RequestResolver,
            ],
            "block_size": settings.block_size,
            AUTHENTICATOR_KEY: services.authenticator,
        }
    )
    return config


def web_sessions(services: Services) -> WebSessions:
    """The web app's browser sessions; their tokens' key is derived from the server's secret,
    so every worker (and a benchmark that logs in without the form) finds the same sessions."""
    settings = services.settings
    return WebSessions(
        services.db,
        services.authenticator.derive_key("web app sessions"),
        settings.web_session_lifetime,
        settings.web_session_idle,
    )


def create_app(services: Services) -> Any:
    """The WSGI application: the REST dialects in front of WebDAV at ``/dav/``.

    Raises ConfigError for a mount table in which two parts would answer the same request.
    """
    settings = services.settings
    context = DialectContext(
        store=services.store,
        authenticator=services.authenticator,
        accounts=services.accounts,
        block_size=settings.block_size,
        signup_enabled=settings.signup_enabled,
        default_max_bytes=settings.default_max_bytes,
        default_max_files=settings.default_max_files,
    )
    webdav_paths = [path for mount in DAV_MOUNTS for path in (mount, mount + "/<path:rest>")]
    reserved = any_method("WebDAV", webdav_paths) + any_method("Nextcloud", NEXTCLOUD_PATHS)
    reserved += any_method("share links", ["/s/<path:rest>", "/public.php/<path:rest>"])
    reserved += any_method("web app", ["/", "/app", "/app/<path:rest>"])
    dialects = build_dialects(settings, context, reserved)
    quiet_wsgidav_about_streams()
    dav = XmlGuard(HideServerFaults(KeepStreamsAlive(WsgiDAVApp(wsgidav_config(services)))))
    rest = RestMiddleware(dav, context, dialects, lambda: build_openapi(dialects))
    readiness = ReadinessCheck(services.db, settings.data_dir, settings.ready_min_free_bytes)
    flows = LoginFlows(services.db, services.accounts)
    nextcloud = NextcloudMiddleware(rest, services.store, services.authenticator, flows)
    # Share links are answered without an account, before any authentication.
    gate = LinkGate(
        services.store.links,
        services.authenticator.derive_key("share link cookies"),
        LoginThrottle(services.db, _throttle_limits(settings)),
    )
    # The main door's lock table: a lock taken through a link holds on /dav/ too.
    locks = LinkLocks(SqlLockStorage(services.db, settings.lock_timeout_max))
    links = LinkDoor(nextcloud, services.store, gate, settings.block_size, locks)
    web = WebApp(
        links,
        services.store,
        services.authenticator,
        services.accounts,
        web_sessions(services),
        settings.block_size,
    )
    # Users' files never run in the app's origin, whichever door serves them.
    health = HealthEndpoints(SandboxUnmarked(web), readiness)
    audited = AuditScope(DrainUnreadBody(health), services.audit)
    # Inside the proxy headers: the access log shows the client and the path from outside.
    observed = observe_requests(RequestGuard(audited, refusal=rest.refusal), services)
    return forwarded_headers(observed, settings.trusted_proxies)
