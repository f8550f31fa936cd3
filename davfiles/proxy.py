"""Behind a reverse proxy: take the client's address, scheme, host and path prefix from the
forwarding headers, but only when the immediate peer is a trusted proxy.

From a peer in ``trusted_proxies`` the WSGI environ is rewritten as if the client had reached
davfiles directly (PEP 3333): ``REMOTE_ADDR`` (so throttling and the audit log see the real
client), ``wsgi.url_scheme``, ``HTTP_HOST`` (with ``SERVER_NAME``/``SERVER_PORT``) and
``SCRIPT_NAME`` (the prefix, which every URL davfiles writes starts with). From anyone else
the forwarding headers are removed, so they change nothing.

Where each value comes from, for each one separately:

- client address: ``X-Forwarded-For`` if present, otherwise the ``for=`` of ``Forwarded``
  (RFC 7239); the list is walked from the right, skipping trusted proxies, and the first
  address that is not one is the client (all trusted: the leftmost);
- scheme and host: ``X-Forwarded-Proto`` / ``X-Forwarded-Host`` if present (their last value,
  which the trusted peer wrote), otherwise ``proto=`` / ``host=`` of the same ``Forwarded``
  element that named the client (the one the outermost trusted proxy wrote);
- prefix: ``X-Forwarded-Prefix`` (``Forwarded`` has none).

Werkzeug's ProxyFix trusts a number of hops rather than a list of addresses and does not read
``Forwarded``, hence this module. A value that does not parse (a scheme other than http or
https, a host that is not ``host[:port]``, a prefix that is not a plain absolute path) is
ignored. ``Destination`` (COPY, MOVE) carries the outside URL; its prefix is removed so the
WebDAV layer finds the target where the request path is.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, TypeVar
from urllib.parse import urlsplit, urlunsplit

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

_App = TypeVar("_App")
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

FORWARDING_HEADERS = (
    "HTTP_FORWARDED",
    "HTTP_X_FORWARDED_FOR",
    "HTTP_X_FORWARDED_PROTO",
    "HTTP_X_FORWARDED_HOST",
    "HTTP_X_FORWARDED_PREFIX",
)
_HOST = re.compile(r"(?:\[[0-9A-Fa-f:.]+\]|[0-9A-Za-z\-._~%]+)(?::([0-9]{1,5}))?")
# Unreserved characters only (RFC 3986), so the prefix reads the same quoted or not.
_PREFIX_SEGMENT = re.compile(r"[0-9A-Za-z\-._~]+")
# One forwarded-pair: token=token or token="quoted string".
_PAIR = re.compile(r'\s*([!#$%&\'*+\-.^_`|~0-9A-Za-z]+)=("(?:[^"\\]|\\.)*"|[^;,\s]*)\s*')


def parse_networks(entries: Iterable[str]) -> tuple[Network, ...]:
    """Addresses and CIDR networks; ValueError naming the first entry that is neither."""
    networks = []
    for entry in entries:
        try:
            networks.append(ipaddress.ip_network(entry.strip()))
        except ValueError as exc:
            raise ValueError(f"not an address or network: {entry!r} ({exc})") from None
    return tuple(networks)


def _ip(text: str) -> IPAddress | None:
    """An address as X-Forwarded-For or ``for=`` spell it: bare, ``[v6]``, with a port."""
    text = text.strip().strip('"')
    if text.startswith("["):
        text = text[1 : text.find("]")] if "]" in text else ""
    elif text.count(":") == 1:
        text = text.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped
    return address


def _forwarded_elements(value: str) -> list[dict[str, str]]:
    """RFC 7239 elements, left to right, as lower-cased keys; malformed pairs are dropped."""
    elements = []
    for element in value.split(","):
        pairs = {}
        for pair in element.split(";"):
            match = _PAIR.fullmatch(pair)
            if match:
                text = match.group(2)
                if text.startswith('"'):
                    text = re.sub(r"\\(.)", r"\1", text[1:-1])
                pairs[match.group(1).lower()] = text
        elements.append(pairs)
    return elements


def _last(value: str | None) -> str | None:
    """The last of a comma-separated list: the value the nearest (trusted) proxy wrote."""
    if value is None:
        return None
    return value.rsplit(",", 1)[-1].strip() or None


def clean_prefix(value: str | None) -> str | None:
    """A path prefix as SCRIPT_NAME takes it (no trailing slash), or None if unusable."""
    if value is None:
        return None
    prefix = value.strip().rstrip("/")
    if not prefix:
        return ""
    segments = prefix.split("/")
    if segments[0] != "" or any(
        segment in (".", "..") or not _PREFIX_SEGMENT.fullmatch(segment) for segment in segments[1:]
    ):
        return None
    return prefix


class ForwardedHeaders:
    """WSGI middleware: see the module docstring. Install it only with a non-empty list."""

    def __init__(self, app: WSGIApplication, trusted: Sequence[Network]) -> None:
        self.app = app
        self._trusted = tuple(trusted)
        # Parsing an address and testing the networks costs microseconds; peers repeat.
        self._hop = lru_cache(maxsize=4096)(self._parse_hop)

    def _parse_hop(self, text: str) -> tuple[str | None, bool]:
        """The address in one hop's text (canonical form), and whether it is a trusted proxy."""
        address = _ip(text)
        if address is None:
            return None, False
        return str(address), any(address in network for network in self._trusted)

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if self._hop(environ.get("REMOTE_ADDR", ""))[1]:
            self._apply(environ)
        for key in FORWARDING_HEADERS:
            environ.pop(key, None)
        return self.app(environ, start_response)

    def _apply(self, environ: WSGIEnvironment) -> None:
        forwarded = environ.get("HTTP_FORWARDED")
        elements = _forwarded_elements(forwarded) if forwarded else []
        x_for = environ.get("HTTP_X_FORWARDED_FOR")
        if x_for is not None:
            client, _index = self._client(x_for.split(","))
            hop: dict[str, str] = {}
        else:
            client, index = self._client([element.get("for", "") for element in elements])
            hop = elements[index] if index is not None else {}
        if client is not None:
            environ["REMOTE_ADDR"] = client
        scheme = _last(environ.get("HTTP_X_FORWARDED_PROTO")) or hop.get("proto")
        if scheme is not None and scheme.lower() in ("http", "https"):
            environ["wsgi.url_scheme"] = scheme.lower()
        host = _last(environ.get("HTTP_X_FORWARDED_HOST")) or hop.get("host")
        if host is not None:
            self._set_host(environ, host)
        prefix = clean_prefix(environ.get("HTTP_X_FORWARDED_PREFIX"))
        if prefix:
            environ["SCRIPT_NAME"] = prefix + environ.get("SCRIPT_NAME", "")
            _strip_destination_prefix(environ, prefix)

    def _client(self, hops: list[str]) -> tuple[str | None, int | None]:
        """The first address from the right that is not a trusted proxy, and its position."""
        for index in range(len(hops) - 1, -1, -1):
            address, trusted = self._hop(hops[index].strip())
            if address is None:
                return None, None
            if not trusted or index == 0:
                return address, index
        return None, None

    @staticmethod
    def _set_host(environ: WSGIEnvironment, host: str) -> None:
        match = _HOST.fullmatch(host)
        if match is None:
            return
        environ["HTTP_HOST"] = host
        environ["SERVER_NAME"] = host[: match.start(1) - 1] if match.group(1) else host
        default_port = "443" if environ.get("wsgi.url_scheme") == "https" else "80"
        environ["SERVER_PORT"] = match.group(1) or default_port


def _strip_destination_prefix(environ: WSGIEnvironment, prefix: str) -> None:
    """``https://outside/files/dav/x`` becomes ``https://outside/dav/x``: the request path
    (PATH_INFO) has no prefix either, and WebDAV resolves the target the same way."""
    destination = environ.get("HTTP_DESTINATION")
    if not destination:
        return
    try:
        parts = urlsplit(destination)
    except ValueError:
        return
    if parts.path.startswith(prefix + "/"):
        environ["HTTP_DESTINATION"] = urlunsplit(parts._replace(path=parts.path[len(prefix) :]))


def forwarded_headers(app: _App, trusted: Sequence[Network]) -> _App | ForwardedHeaders:
    """``app`` behind ForwardedHeaders, or ``app`` itself when no proxy is trusted (no cost)."""
    return ForwardedHeaders(app, trusted) if trusted else app
