"""Settings: parsed once from wsgidav.yaml's ``davfiles:`` section plus ``DAVFILES_*`` variables.

Every option has a type, a default and a help text in ``OPTIONS``; unknown keys are errors, so
a typo in the config file is reported at start-up instead of being silently ignored.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from davfiles.errors import ConfigError
from davfiles.numbers import whole_number
from davfiles.proxy import Network, parse_networks

UNLIMITED = "unlimited"
_SIZE_RE = re.compile(r"^\s*(\d+)\s*([KMGT]?)(i?B?)?\s*$", re.IGNORECASE)
_UNITS = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}

# WsgiDAV keys that davfiles computes itself; setting them in the config file is refused.
RESERVED_WSGIDAV_KEYS = (
    "provider_mapping",
    "middleware_stack",
    "http_authenticator",
    "lock_storage",
    "property_manager",
    "host",
    "port",
    "server",
)


def parse_size(value: object) -> int | None:
    """Parse ``5G``, ``500M``, ``1024`` or ``unlimited`` (None) into bytes."""
    if value is None or (isinstance(value, str) and value.strip().lower() == UNLIMITED):
        return None
    if isinstance(value, bool):
        raise ConfigError(f"not a size: {value!r}")
    if isinstance(value, int):
        if value < 0:
            raise ConfigError(f"a size cannot be negative: {value}")
        return value
    match = _SIZE_RE.match(str(value))
    if not match:
        raise ConfigError(f"not a size: {value!r} (use e.g. 5G, 500M, 1024 or unlimited)")
    return int(match.group(1)) * _UNITS[match.group(2).upper()]


def parse_count(value: object) -> int | None:
    """Parse a whole number or ``unlimited`` (None)."""
    if value is None or (isinstance(value, str) and value.strip().lower() == UNLIMITED):
        return None
    try:
        number = int(str(value))
    except ValueError:
        raise ConfigError(f"not a whole number: {value!r}") from None
    if number < 0:
        raise ConfigError(f"a count cannot be negative: {value}")
    return number


def _parse_bool(value: object) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"not a boolean: {value!r}")


def _parse_int(value: object) -> int:
    try:
        return int(str(value))
    except ValueError:
        raise ConfigError(f"not a whole number: {value!r}") from None


def _parse_positive_int(value: object) -> int:
    number = _parse_int(value)
    if number < 1:
        raise ConfigError(f"must be at least 1, not {number}")
    return number


def _parse_seconds(value: object) -> float:
    try:
        seconds = float(str(value))
    except ValueError:
        raise ConfigError(f"not a number of seconds: {value!r}") from None
    if not 0 < seconds < float("inf"):
        raise ConfigError(f"must be a positive number of seconds, not {value!r}")
    return seconds


def _parse_positive_size(value: object) -> int:
    size = parse_size(value)
    if not size:
        raise ConfigError(f"must be a size of at least 1 byte, not {value!r}")
    return size


@dataclass(frozen=True)
class DialectMount:
    """Where a REST dialect is served; None fields mean "the dialect's default"."""

    enabled: bool = True
    prefix: str | None = None


def _parse_dialects(value: object) -> dict[str, DialectMount]:
    if isinstance(value, str):
        try:
            value = yaml.safe_load(value) or {}
        except yaml.YAMLError:
            raise ConfigError("not a YAML mapping of dialect names") from None
    if not isinstance(value, dict):
        raise ConfigError("a mapping of dialect name to {enabled, prefix}")
    mounts: dict[str, DialectMount] = {}
    for name, entry in value.items():
        entry = entry or {}
        if not isinstance(entry, dict) or set(entry) - {"enabled", "prefix"}:
            raise ConfigError(f"{name}: give only enabled and prefix")
        prefix = entry.get("prefix")
        if prefix is not None:
            prefix = str(prefix).rstrip("/")
            if prefix and not prefix.startswith("/"):
                raise ConfigError(f"{name}: a prefix starts with / (or is empty)")
        mounts[str(name)] = DialectMount(_parse_bool(entry.get("enabled", True)), prefix)
    return mounts


def _parse_networks(value: object) -> tuple[Network, ...]:
    """A YAML list, or a string of entries separated by commas or spaces (the variable)."""
    if value is None:
        return ()
    entries = value.replace(",", " ").split() if isinstance(value, str) else value
    if not isinstance(entries, list | tuple):
        raise ConfigError("a list of addresses and networks, e.g. [127.0.0.1, 10.0.0.0/8]")
    try:
        return parse_networks(str(entry) for entry in entries)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


def _parse_str(value: object) -> str:
    return str(value)


def _parse_optional_str(value: object) -> str | None:
    return None if value in (None, "") else str(value)


def parse_listen_address(value: str) -> tuple[str, int]:
    """``host:port`` or ``[ipv6]:port`` into its parts; raises ConfigError."""
    host, colon, port = value.rpartition(":")
    host = host.removeprefix("[").removesuffix("]")
    number = whole_number(port)
    if not colon or not host or number is None or number > 65535:
        raise ConfigError(f"not host:port: {value!r} (e.g. 127.0.0.1:9464 or [::1]:9464)")
    return host, number


def _parse_listen(value: object) -> str | None:
    text = _parse_optional_str(value)
    if text is not None:
        parse_listen_address(text)
    return text


# A metrics_token given as its digest; anything else is the token itself.
METRICS_TOKEN_HASH = re.compile(r"^sha256:[0-9a-f]{64}$")
METRICS_TOKEN_MIN = 16


def _parse_metrics_token(value: object) -> str | None:
    token = _parse_optional_str(value)
    if token is not None and not METRICS_TOKEN_HASH.match(token) and len(token) < METRICS_TOKEN_MIN:
        raise ConfigError(
            f"at least {METRICS_TOKEN_MIN} characters, or sha256:<hex digest of the token>"
        )
    return token


def _parse_access_log(value: object) -> str | None:
    text = _parse_optional_str(value)
    return None if text is None or text.strip().lower() in ("off", "false", "no") else text


ACCESS_LOG_FORMATS = ("common", "json")


def _parse_access_log_format(value: object) -> str:
    text = str(value).strip().lower()
    if text not in ACCESS_LOG_FORMATS:
        raise ConfigError(f"one of {', '.join(ACCESS_LOG_FORMATS)}, not {value!r}")
    return text


def _parse_patterns(value: object) -> tuple[str, ...]:
    """A YAML list of name patterns, or one comma-separated string (an environment variable)."""
    if isinstance(value, str):
        return tuple(part.strip() for part in value.split(",") if part.strip())
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ConfigError("a list of name patterns like '*.tmp'")
    return tuple(value)


@dataclass(frozen=True)
class Option:
    name: str
    parse: Callable[[object], Any]
    default: object
    help: str


OPTIONS: tuple[Option, ...] = (
    Option(
        "data_dir",
        _parse_str,
        "./data",
        "Folder holding users' homes, staging files and the SQLite database.",
    ),
    Option(
        "database_url",
        _parse_optional_str,
        None,
        "SQLAlchemy URL of the metadata database; default: SQLite in data_dir.",
    ),
    Option("host", _parse_str, "127.0.0.1", "Address to listen on."),
    Option("port", _parse_int, 8080, "TCP port to listen on."),
    Option(
        "threads",
        _parse_int,
        32,
        "Request threads: requests processed at once. A connection gets one only with its "
        "whole request head, so idle and slow clients hold none; transfers hold one each.",
    ),
    Option(
        "workers",
        _parse_int,
        0,
        "Server processes sharing the port (0: one per CPU core); state lives in the database.",
    ),
    Option(
        "certfile", _parse_optional_str, None, "TLS certificate (PEM); with keyfile, serve HTTPS."
    ),
    Option("keyfile", _parse_optional_str, None, "TLS private key (PEM) for certfile."),
    Option(
        "realm",
        _parse_str,
        "davfiles",
        "HTTP authentication realm (part of Digest hashes: changing it needs new passwords).",
    ),
    Option(
        "accept_digest",
        _parse_bool,
        True,
        "Offer HTTP Digest auth (Windows refuses Basic over plain HTTP).",
    ),
    Option(
        "digest_nonce_lifetime",
        _parse_int,
        300,
        "Seconds a Digest nonce is accepted; then 401 with stale=true and the client takes a "
        "new one without asking for the password.",
    ),
    Option(
        "default_max_bytes",
        parse_size,
        None,
        "Byte quota given to new users: a size like 5G, or unlimited.",
    ),
    Option(
        "default_max_files", parse_count, None, "File-count quota given to new users, or unlimited."
    ),
    Option("propfind_depth_infinity", _parse_bool, False, "Allow PROPFIND with Depth: infinity."),
    Option(
        "fast_door",
        _parse_bool,
        True,
        "Answer plain GET, HEAD, small PUT, MKCOL and DELETE without WsgiDAV's generic pipeline.",
    ),
    Option(
        "lock_timeout_max",
        _parse_int,
        86400,
        "Longest lock lifetime in seconds; longer or infinite requests are capped.",
    ),
    Option("block_size", parse_size, 1024 * 1024, "Read/write block size for file bodies."),
    Option(
        "max_uploads_per_user",
        _parse_int,
        16,
        "Uploads one user may have in progress at once, over all server processes; more get "
        "429 with Retry-After (0: no cap).",
    ),
    Option(
        "auth_cache_size",
        _parse_int,
        1024,
        "Successful credential checks remembered (0 disables the cache).",
    ),
    Option(
        "login_failures_per_user",
        _parse_int,
        10,
        "Failed logins one user name may have before each further attempt waits (0: no limit).",
    ),
    Option(
        "login_failures_per_address",
        _parse_int,
        30,
        "Failed logins from one client address (IPv6: its /64) before each further attempt "
        "waits (0: no limit, e.g. behind a reverse proxy, where all clients share an address).",
    ),
    Option(
        "login_delay_max",
        _parse_int,
        120,
        "Longest wait in seconds after failed logins (waits double from 1 s up to this).",
    ),
    Option(
        "audit_log",
        _parse_optional_str,
        None,
        "Append-only security audit log (JSON Lines); default: data_dir/audit.log.",
    ),
    Option(
        "jwt_secret",
        _parse_optional_str,
        None,
        "Key signing login JWTs; default: generated into data_dir/jwt-secret.",
    ),
    Option("jwt_lifetime", _parse_int, 86400, "Seconds a login JWT stays valid."),
    Option(
        "web_session_lifetime",
        _parse_positive_int,
        7 * 86400,
        "Seconds a web app login lasts at most (then the browser logs in again).",
    ),
    Option(
        "web_session_idle",
        _parse_positive_int,
        86400,
        "Seconds a web app login lasts without being used.",
    ),
    Option(
        "signup_enabled", _parse_bool, False, "Allow open sign-up through the defdrive dialect."
    ),
    Option(
        "header_timeout",
        _parse_seconds,
        10.0,
        "Seconds a client has to send a whole request head (total, not per read); then 408.",
    ),
    Option(
        "idle_timeout",
        _parse_seconds,
        30.0,
        "Seconds a kept-alive connection may wait for its next request before it is closed.",
    ),
    Option(
        "max_header_bytes",
        _parse_positive_size,
        64 * 1024,
        "Largest request head (request line and header fields); 431 above.",
    ),
    Option("max_header_fields", _parse_positive_int, 100, "Most header fields a request may have."),
    Option(
        "max_connections",
        _parse_positive_int,
        1000,
        "Most open connections per server process; further ones get 503. Idle ones cost a "
        "socket, not a thread.",
    ),
    Option(
        "body_timeout",
        _parse_seconds,
        10.0,
        "Seconds a request body may stall at once; slower than min_body_rate, this allowance "
        "runs out: 408 and the upload is not stored.",
    ),
    Option(
        "min_body_rate",
        parse_size,
        500,
        "Bytes per second a request body must average (over about body_timeout seconds); "
        "0: only the stall limit applies.",
    ),
    Option(
        "trash_enabled",
        _parse_bool,
        True,
        "Keep what users delete in a trash (counted in their byte quota, evicted for room).",
    ),
    Option("trash_days", _parse_int, 30, "Days a deleted item stays in the trash (1 to 3650)."),
    Option(
        "trash_skip",
        _parse_patterns,
        ("~$*", ".~lock.*#", "*.tmp", "._*", ".DS_Store", "Thumbs.db"),
        "File names whose deletion bypasses the trash unless the file has versions, and "
        "which keep no versions (editors' and desktops' temporaries).",
    ),
    Option(
        "versions_enabled",
        _parse_bool,
        True,
        "Keep the content a write replaces as a version (counted in the byte quota).",
    ),
    Option(
        "versions_keep_last",
        _parse_int,
        10,
        "Newest versions of a file always kept (1 to 10000); older ones are thinned.",
    ),
    Option(
        "versions_max_age_days",
        _parse_int,
        365,
        "Days after which an unlabelled version is purged, except the newest "
        "versions_keep_last (1 to 36500).",
    ),
    Option(
        "versions_coalesce_seconds",
        _parse_int,
        60,
        "A save this soon after the same user's previous save keeps no version (0 to 86400).",
    ),
    Option(
        "retention_interval",
        _parse_int,
        3600,
        "Seconds between retention purges (60 to 86400); one server process runs each.",
    ),
    Option(
        "trusted_proxies",
        _parse_networks,
        (),
        "Addresses and networks of reverse proxies whose X-Forwarded-* and Forwarded headers "
        "are honoured (client address, scheme, host, path prefix); from others they are ignored.",
    ),
    Option(
        "ready_min_free_bytes",
        parse_size,
        100 * 1024**2,
        "Free disk space in data_dir below which /readyz answers 503.",
    ),
    Option(
        "metrics_listen",
        _parse_listen,
        None,
        "host:port of a separate listener serving Prometheus metrics without credentials "
        "(e.g. 127.0.0.1:9464; port 0 picks one); default: none.",
    ),
    Option(
        "metrics_token",
        _parse_metrics_token,
        None,
        "Bearer token (or sha256:<its hex digest>) that opens /metrics on the main port; "
        "default: no /metrics there.",
    ),
    Option(
        "access_log",
        _parse_access_log,
        None,
        "Access log, one line per request: a file, - for stderr, or off (the default).",
    ),
    Option(
        "access_log_format",
        _parse_access_log_format,
        "common",
        "common (Apache's combined format plus door, bytes in and milliseconds) or json.",
    ),
    Option(
        "dialects",
        _parse_dialects,
        {},
        "REST dialects: name -> {enabled, prefix}; unnamed ones keep their defaults.",
    ),
)


@dataclass(frozen=True)
class Settings:
    """Validated configuration; build with ``load_settings``."""

    data_dir: Path = Path("./data")
    database_url: str | None = None
    host: str = "127.0.0.1"
    port: int = 8080
    threads: int = 32
    workers: int = 0
    certfile: str | None = None
    keyfile: str | None = None
    realm: str = "davfiles"
    accept_digest: bool = True
    digest_nonce_lifetime: int = 300
    default_max_bytes: int | None = None
    default_max_files: int | None = None
    propfind_depth_infinity: bool = False
    fast_door: bool = True
    lock_timeout_max: int = 86400
    block_size: int = 1024 * 1024
    max_uploads_per_user: int = 16
    auth_cache_size: int = 1024
    login_failures_per_user: int = 10
    login_failures_per_address: int = 30
    login_delay_max: int = 120
    audit_log: str | None = None
    jwt_secret: str | None = None
    jwt_lifetime: int = 86400
    web_session_lifetime: int = 7 * 86400
    web_session_idle: int = 86400
    signup_enabled: bool = False
    header_timeout: float = 10.0
    idle_timeout: float = 30.0
    max_header_bytes: int = 64 * 1024
    max_header_fields: int = 100
    max_connections: int = 1000
    body_timeout: float = 10.0
    min_body_rate: int = 500
    trash_enabled: bool = True
    trash_days: int = 30
    trash_skip: tuple[str, ...] = ("~$*", ".~lock.*#", "*.tmp", "._*", ".DS_Store", "Thumbs.db")
    versions_enabled: bool = True
    versions_keep_last: int = 10
    versions_max_age_days: int = 365
    versions_coalesce_seconds: int = 60
    retention_interval: int = 3600
    trusted_proxies: tuple[Network, ...] = ()
    ready_min_free_bytes: int = 100 * 1024**2
    metrics_listen: str | None = None
    metrics_token: str | None = None
    access_log: str | None = None
    access_log_format: str = "common"
    dialects: Mapping[str, DialectMount] = field(default_factory=dict)
    wsgidav: Mapping[str, Any] = field(default_factory=dict)

    @property
    def effective_audit_log(self) -> Path:
        return Path(self.audit_log) if self.audit_log else self.data_dir / "audit.log"

    @property
    def metrics_enabled(self) -> bool:
        return bool(self.metrics_listen or self.metrics_token)

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'davfiles.sqlite3').resolve()}"


_ENV_PREFIX = "DAVFILES_"
# Admin bounds of the retention settings.
_RETENTION_BOUNDS = (
    ("trash_days", 1, 3650),
    ("versions_keep_last", 1, 10000),
    ("versions_max_age_days", 1, 36500),
    ("versions_coalesce_seconds", 0, 86400),
    ("retention_interval", 60, 86400),
)


def load_settings(
    config_file: str | os.PathLike[str] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, object] | None = None,
) -> Settings:
    """Read ``config_file`` (if any), then ``DAVFILES_*`` variables, then ``overrides``.

    Raises ConfigError with one readable line for a missing file, bad YAML or a bad value.
    """
    environ = os.environ if environ is None else environ
    raw: dict[str, Any] = {}
    wsgidav_keys: dict[str, Any] = {}
    if config_file is not None:
        raw, wsgidav_keys = _read_config_file(Path(config_file))
    known = {option.name: option for option in OPTIONS}
    values: dict[str, Any] = {}
    for key, value in raw.items():
        if key not in known:
            raise ConfigError(f"unknown option davfiles.{key} in {config_file}")
        values[key] = _parse_option(known[key], value, f"davfiles.{key}")
    for option in OPTIONS:
        env_name = _ENV_PREFIX + option.name.upper()
        if env_name in environ:
            values[option.name] = _parse_option(option, environ[env_name], env_name)
    for key, value in (overrides or {}).items():
        if value is not None:
            values[key] = _parse_option(known[key], value, f"--{key.replace('_', '-')}")
    if "data_dir" in values:
        values["data_dir"] = Path(values["data_dir"])
    settings = Settings(**values, wsgidav=wsgidav_keys)
    if not 1 <= settings.threads <= 1024:
        raise ConfigError(f"davfiles.threads must be between 1 and 1024, not {settings.threads}")
    if not 0 <= settings.workers <= 64:
        raise ConfigError(f"davfiles.workers must be between 0 and 64, not {settings.workers}")
    if not 0 <= settings.port <= 65535:
        raise ConfigError(f"davfiles.port must be between 0 and 65535, not {settings.port}")
    if settings.lock_timeout_max < 1:
        raise ConfigError("davfiles.lock_timeout_max must be at least 1 second")
    if bool(settings.certfile) != bool(settings.keyfile):
        raise ConfigError("HTTPS needs both davfiles.certfile and davfiles.keyfile")
    for name in ("certfile", "keyfile"):
        path = getattr(settings, name)
        if path and not Path(path).is_file():
            raise ConfigError(f"davfiles.{name}: no such file: {path}")
    for name in ("login_failures_per_user", "login_failures_per_address"):
        if getattr(settings, name) < 0:
            raise ConfigError(f"davfiles.{name} cannot be negative")
    if settings.max_uploads_per_user < 0:
        raise ConfigError("davfiles.max_uploads_per_user cannot be negative")
    if settings.login_delay_max < 1:
        raise ConfigError("davfiles.login_delay_max must be at least 1 second")
    if settings.digest_nonce_lifetime < 1:
        raise ConfigError("davfiles.digest_nonce_lifetime must be at least 1 second")
    if settings.jwt_lifetime < 1:
        raise ConfigError("davfiles.jwt_lifetime must be at least 1 second")
    if settings.min_body_rate is None:
        raise ConfigError("davfiles.min_body_rate must be a number of bytes per second")
    for name, low, high in _RETENTION_BOUNDS:
        if not low <= getattr(settings, name) <= high:
            raise ConfigError(f"davfiles.{name} must be between {low} and {high}")
    if not settings.block_size:
        raise ConfigError("davfiles.block_size must be a size, not unlimited")
    if settings.ready_min_free_bytes is None:
        raise ConfigError("davfiles.ready_min_free_bytes must be a size, not unlimited")
    return settings


def _parse_option(option: Option, value: object, where: str) -> Any:
    try:
        return option.parse(value)
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None


def _read_config_file(path: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
    try:
        document = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"config file {path} is not valid YAML: {exc}".splitlines()[0]) from None
    if not isinstance(document, dict):
        raise ConfigError(f"config file {path} must be a mapping of options")
    section = document.pop("davfiles", None) or {}
    if not isinstance(section, dict):
        raise ConfigError(f"davfiles section of {path} must be a mapping of options")
    for key in RESERVED_WSGIDAV_KEYS:
        if key in document:
            raise ConfigError(f"{key} is set by davfiles itself; remove it from {path}")
    return section, document
