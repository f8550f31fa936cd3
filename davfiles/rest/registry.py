"""Every dialect davfiles knows, and building the enabled ones from the settings."""

from __future__ import annotations

from davfiles.config import Settings
from davfiles.errors import ConfigError
from davfiles.rest.aptly import Aptly
from davfiles.rest.defdrive import Defdrive
from davfiles.rest.dialect import Dialect, DialectContext
from davfiles.rest.links import ShareLinksApi
from davfiles.rest.middleware import OPENAPI_PATH, PUBLIC_FALLBACK_PATHS
from davfiles.rest.molgenis import Molgenis
from davfiles.rest.mounts import Claim, any_method, check_claims
from davfiles.rest.okeanos import Okeanos
from davfiles.rest.recovery import Recovery
from davfiles.rest.spacedog import Spacedog

DIALECT_CLASSES: tuple[type[Dialect], ...] = (
    Okeanos,
    Defdrive,
    Aptly,
    Spacedog,
    Molgenis,
    Recovery,
    ShareLinksApi,
)


def build_dialects(
    settings: Settings, context: DialectContext, reserved: list[Claim]
) -> list[Dialect]:
    """The enabled dialects at their prefixes; ConfigError for unknown names or collisions."""
    known = {cls.name: cls for cls in DIALECT_CLASSES}
    unknown = sorted(set(settings.dialects) - set(known))
    if unknown:
        raise ConfigError(
            f"unknown dialect(s) in davfiles.dialects: {', '.join(unknown)} "
            f"(known: {', '.join(sorted(known))})"
        )
    dialects: list[Dialect] = []
    for name, cls in known.items():
        mount = settings.dialects.get(name)
        if mount is not None and not mount.enabled:
            continue
        prefix = cls.default_prefix if mount is None or mount.prefix is None else mount.prefix
        dialects.append(cls(context, prefix))
    claims = list(reserved)
    claims += any_method("/public", PUBLIC_FALLBACK_PATHS)
    claims.append(Claim("/openapi.json", OPENAPI_PATH, frozenset({"GET", "HEAD"})))
    for dialect in dialects:
        for route in dialect.routes:
            methods = set(route.methods) | ({"HEAD"} if "GET" in route.methods else set())
            claims.append(
                Claim(f"dialect {dialect.name}", dialect.prefix + route.path, frozenset(methods))
            )
    check_claims(claims)
    return dialects
