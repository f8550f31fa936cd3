"""A streaming PROPFIND (Depth 0 or 1) for davfiles' own files and folders.

WsgiDAV builds the whole multistatus as an element tree before it sends the first byte, which
for a folder of 10,000 files costs seconds and tens of MB. This writer answers the same
request with the same properties, values and statuses, but writes each ``<response>`` as text
and hands the body out in chunks of ``ENTRIES_PER_CHUNK`` entries.

What it needs from the database is read before the first byte: the listing and every
member's dead properties (``FolderResource.iter_members``), and the locks of the folder and
its members (the request's lock snapshot ends when the handler returns). Everything else is
formatting. Requests it does not answer (conditional headers, Depth infinity, the chunk
upload area, a body WsgiDAV would refuse) are left to WsgiDAV, which then reads the same body.
"""

from __future__ import annotations

import io
import logging
import math
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from wsgidav import util
from wsgidav.dav_error import HTTP_NOT_FOUND, DAVError, as_DAVError, get_http_status_string
from wsgidav.lock_man.lock_manager import normalize_lock_root
from wsgidav.xml_tools import etree, is_etree_element

from davfiles.provider.resources import FileResource, FolderResource
from davfiles.store.locks import request_scope
from davfiles.xml_guard import read_body

ENTRIES_PER_CHUNK = 100
# Set in the environ of a request answered by the streaming writer.
STREAMED_KEY = "davfiles.streamed"
# What WsgiDAVApp logs for every response without Content-Length, as a streamed one is.
_WSGIDAV_LENGTH_NOISE = (
    "Missing required Content-Length header in 207-response",
    "Adding 'Connection: close' header.",
)

# Headers WsgiDAV evaluates against the resource before answering.
_CONDITIONAL_HEADERS = (
    "HTTP_IF",
    "HTTP_IF_MATCH",
    "HTTP_IF_NONE_MATCH",
    "HTTP_IF_MODIFIED_SINCE",
    "HTTP_IF_UNMODIFIED_SINCE",
)
_DAV = "{DAV:}"
_LOCKDISCOVERY = "{DAV:}lockdiscovery"
_SUPPORTEDLOCK = "{DAV:}supportedlock"
_HEAD = "<?xml version='1.0' encoding='UTF-8'?>\n<D:multistatus xmlns:D=\"DAV:\">"
_TAIL = "</D:multistatus>"
_OK = "200 OK"
_SPECIAL = re.compile("[&<>\r]")
# Distinct property-name lists whose response plan is kept (allprop lists vary with dead
# properties; a listing rarely has more than a few).
_MAX_PLANS = 64

Resource = FileResource | FolderResource
# A property's value as WsgiDAV's get_property_value gives it: text, an element, None (an
# empty element), or the error that becomes the propstat's status.
Value = Any


class _Markup(str):
    """An element already serialized, placed into ``<D:prop>`` as it is."""


_EMPTY_LOCKDISCOVERY = _Markup("<D:lockdiscovery/>")
_COLLECTION = _Markup("<D:resourcetype><D:collection/></D:resourcetype>")


@dataclass(frozen=True)
class PropfindRequest:
    """What the body asks for, as WsgiDAV's do_PROPFIND reads it."""

    mode: str  # "allprop", "name" or "named"
    names: tuple[str, ...]


def parse_propfind(body: bytes) -> PropfindRequest | None:
    """The request in ``body``; None where WsgiDAV answers 400 (it will, on the fallback)."""
    if not body:
        return PropfindRequest("allprop", ())
    try:
        root = etree.XML(body, parser=etree.XMLParser(resolve_entities=False))
    except etree.XMLSyntaxError:
        return None
    if root.tag != "{DAV:}propfind":
        return None
    mode: str | None = None
    names: list[str] = []
    for child in root:
        if child.tag == "{DAV:}allprop" or child.tag == "{DAV:}name":
            if mode:
                return None
            mode = "allprop" if child.tag == "{DAV:}allprop" else "name"
        elif child.tag == "{DAV:}prop":
            if mode not in (None, "named"):
                return None
            mode = "named"
            for prop in child:
                if not isinstance(prop.tag, str):
                    return None  # a comment: WsgiDAV would ask for a property named by it
                names.append(prop.tag)
    return PropfindRequest(mode or "named", tuple(names))


def stream_propfind(
    provider: Any, environ: dict[str, Any], start_response: Callable[..., Any]
) -> Iterator[bytes] | None:
    """Answer a PROPFIND with a streamed multistatus, or None to leave it to WsgiDAV."""
    if environ.get("HTTP_DEPTH") not in ("0", "1") or provider.lock_manager is None:
        return None
    if any(header in environ for header in _CONDITIONAL_HEADERS):
        return None
    body = read_body(environ)
    environ["wsgi.input"] = io.BytesIO(body)
    request = parse_propfind(body)
    if request is None:
        return None
    try:
        resource = provider.get_resource_inst(environ["PATH_INFO"], environ)
    except DAVError:
        return None
    if not isinstance(resource, FileResource | FolderResource):
        return None
    environ["wsgi.input"] = io.BytesIO()
    environ["wsgidav.all_input_read"] = 1
    environ[STREAMED_KEY] = True
    start_response(
        "207 Multi-Status",
        [
            ("Content-Type", "application/xml; charset=utf-8"),
            ("Date", util.get_rfc1123_time()),
        ],
    )
    return _Writer(provider, request).chunks(resource, list_members=environ["HTTP_DEPTH"] == "1")


class KeepStreamsAlive:
    """Keeps the connection of a streamed multistatus open.

    WsgiDAVApp adds ``Connection: close`` to any response without Content-Length; cheroot
    sends a streamed one chunked, so the connection can serve the client's next request, and
    sync clients list folder after folder on one connection. Wraps WsgiDAVApp.
    """

    def __init__(self, app: Callable[..., Any]) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        def keep_alive(status: str, headers: list[tuple[str, str]], *exc_info: Any) -> Any:
            if environ.get(STREAMED_KEY):
                headers = [
                    (name, value)
                    for name, value in headers
                    if (name.lower(), value.lower()) != ("connection", "close")
                ]
            return start_response(status, headers, *exc_info)

        return self.app(environ, keep_alive)


class _QuietStreamedResponses(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith(_WSGIDAV_LENGTH_NOISE)


_QUIET = _QuietStreamedResponses()


def quiet_wsgidav_about_streams() -> None:
    """Drop WsgiDAVApp's error and warning about every streamed reply's missing length."""
    wsgidav_logger = logging.getLogger("wsgidav.wsgidav_app")
    if _QUIET not in wsgidav_logger.filters:
        wsgidav_logger.addFilter(_QUIET)


@dataclass(frozen=True)
class _Plan:
    """A response's start up to its href, and per property: its name, its element name, the
    element when empty, its opening and closing tags, and the getter of a DAV: live property
    (None for the others)."""

    opening: str
    properties: tuple[tuple[str, str, str, str, str, Callable[[Resource], Value] | None], ...]


class _Writer:
    """Formats ``<response>`` elements the way util.add_property_response builds them.

    The body is produced after the request handler has returned, so ``chunks`` opens a lock
    scope of its own: one lock query answers every resource's lockdiscovery.
    """

    def __init__(self, provider: Any, request: PropfindRequest) -> None:
        self._provider = provider
        self._request = request
        self._lock_roots: frozenset[str] = frozenset()
        self._supportedlock: _Markup | None = None
        # Prefixes are per request (add_property_response numbers them per response): the
        # names they stand for are the same.
        self._prefixes: dict[str, str] = {}
        self._plans: dict[tuple[str, ...], _Plan] = {}
        self._times: dict[tuple[str, int], str] = {}
        self._live: dict[str, Callable[[Resource], Value]] = {
            **_LIVE,
            _LOCKDISCOVERY: self._lockdiscovery,
            _SUPPORTEDLOCK: self._supported_lock,
            "{DAV:}getlastmodified": lambda r: self._time(
                r.get_last_modified(), util.get_rfc1123_time
            ),
            "{DAV:}creationdate": lambda r: self._time(
                r.get_creation_date(), util.get_rfc3339_time
            ),
        }

    def chunks(self, resource: Resource, *, list_members: bool) -> Iterator[bytes]:
        with request_scope():
            locks = self._provider.lock_manager.get_url_lock_list(
                resource.get_ref_url(), recursive=list_members
            )
            self._lock_roots = frozenset(lock["root"] for lock in locks)
            # The resource itself goes out before the listing is read.
            yield (_HEAD + self._response(resource)).encode()
            members = resource.iter_members() if list_members and resource.is_collection else ()
            parts: list[str] = []
            for member in members:
                parts.append(self._response(member))
                if len(parts) == ENTRIES_PER_CHUNK:
                    yield "".join(parts).encode()
                    parts = []
            parts.append(_TAIL)
            yield "".join(parts).encode()

    def _response(self, resource: Resource) -> str:
        """One ``<response>``: _DAVResource.get_properties and util.add_property_response."""
        mode = self._request.mode
        if mode == "named":
            names: Any = self._request.names
        else:
            names = tuple(resource.get_property_names(is_allprop=mode == "allprop"))
        plan = self._plans.get(names) or self._plan(names)
        found: list[str] = []
        failed: dict[str, list[str]] = {}
        for name, tag, empty, opening, closing, live in plan.properties:
            if mode == "name":
                found.append(empty)
                continue
            try:
                value = live(resource) if live is not None else self._value(resource, name)
            except Exception as error:  # noqa: BLE001 - WsgiDAV reports these per property too
                status = get_http_status_string(as_DAVError(error))
                failed.setdefault(status, []).append(empty)
                continue
            if type(value) is str:
                found.append(f"{opening}{_text(value)}{closing}")
            else:
                found.append(_element(tag, value))
        parts = [plan.opening, _text(resource.get_href()), "</D:href>"]
        # add_property_response orders the propstats by first appearance; the order carries
        # no meaning (RFC 4918, 14.22).
        if found:
            failed = {_OK: found, **failed}
        for status, elements in failed.items():
            parts.append("<D:propstat><D:prop>")
            parts.extend(elements)
            parts.append(f"</D:prop><D:status>HTTP/1.1 {status}</D:status></D:propstat>")
        parts.append("</D:response>")
        return "".join(parts)

    def _plan(self, names: tuple[str, ...]) -> _Plan:
        """What every response for this list of names shares, worked out once per list."""
        declared: dict[str, str] = {}
        properties = []
        for name in names:
            tag, namespace = self._tag(name)
            if namespace is not None:
                declared[namespace] = self._prefixes[namespace]
            empty, live = f"<{tag}/>", self._live.get(name)
            properties.append((name, tag, empty, f"<{tag}>", f"</{tag}>", live))
        plan = _Plan(f"<D:response{_declarations(declared)}><D:href>", tuple(properties))
        if len(self._plans) < _MAX_PLANS:
            self._plans[names] = plan
        return plan

    def _value(self, resource: Resource, name: str) -> Value:
        """_DAVResource.get_property_value for the DAV: names; the rest is the resource's."""
        live = self._live.get(name)
        if live is not None:
            return live(resource)
        if name.startswith(_DAV):
            raise DAVError(HTTP_NOT_FOUND)
        return resource.get_property_value(name)

    def _lockdiscovery(self, resource: Resource) -> Value:
        if self._lock_roots and normalize_lock_root(resource.get_ref_url()) in self._lock_roots:
            return resource.get_property_value(_LOCKDISCOVERY)
        return _EMPTY_LOCKDISCOVERY

    def _supported_lock(self, resource: Resource) -> Value:
        """The same element for every resource: WsgiDAV's, serialized once."""
        if self._supportedlock is None:
            self._supportedlock = _markup(resource.get_property_value(_SUPPORTEDLOCK))
        return self._supportedlock

    def _time(self, secs: float | None, format_time: Callable[[float], str]) -> str:
        """A formatted time; both formats show whole seconds, and a listing repeats them."""
        if secs is None:
            raise DAVError(HTTP_NOT_FOUND)
        key = (format_time.__name__, math.floor(secs))
        text = self._times.get(key)
        if text is None:
            text = self._times[key] = format_time(secs)
        return text

    def _tag(self, name: str) -> tuple[str, str | None]:
        """The element name to write for a property, and the namespace its prefix declares."""
        namespace, local = util.split_namespace(name)
        if namespace == "DAV:":
            known: tuple[str, str | None] = ("D:" + local, None)
        elif namespace:
            prefix = self._prefixes.setdefault(namespace, f"NS{len(self._prefixes) + 1}")
            known = (f"{prefix}:{local}", namespace)
        else:
            known = (local, None)
        return known


def _declarations(declared: dict[str, str]) -> str:
    return "".join(f' xmlns:{prefix}="{_attribute(ns)}"' for ns, prefix in declared.items())


def _element(tag: str, value: Value) -> str:
    kind = type(value)
    if kind is str:
        return f"<{tag}>{_text(value)}</{tag}>"
    if kind is _Markup:
        return value  # type: ignore[no-any-return]
    if value is None:
        return f"<{tag}/>"
    if is_etree_element(value):
        return _markup(value)
    return f"<{tag}>{_text(util.to_unicode_safe(value))}</{tag}>"


def _markup(element: Any) -> _Markup:
    return _Markup(etree.tostring(element, encoding="unicode", with_tail=False))


def _text(value: str) -> str:
    """Character data escaped as lxml writes it."""
    if _SPECIAL.search(value) is None:
        return value
    return (
        value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\r", "&#13;")
    )


def _attribute(value: str) -> str:
    return _text(value).replace('"', "&quot;")


def _present(getter: Callable[[Resource], Value]) -> Callable[[Resource], Value]:
    """A getter whose None means the property is not there (404)."""

    def value(resource: Resource) -> Value:
        found = getter(resource)
        if found is None:
            raise DAVError(HTTP_NOT_FOUND)
        return found

    return value


def _content_length(resource: Resource) -> str | None:
    length = resource.get_content_length()
    return None if length is None else str(length)


# The DAV: live properties of _DAVResource.get_property_value, by the getters it calls. The
# quota figures may be None, which WsgiDAV reports as an empty element.
_LIVE: dict[str, Callable[[Resource], Value]] = {
    "{DAV:}getcontenttype": _present(lambda r: r.get_content_type()),
    "{DAV:}resourcetype": lambda r: _COLLECTION if r.is_collection else "",
    "{DAV:}quota-used-bytes": lambda r: r.get_used_bytes(),
    "{DAV:}quota-available-bytes": lambda r: r.get_available_bytes(),
    "{DAV:}getcontentlength": _present(_content_length),
    "{DAV:}getetag": _present(lambda r: r.get_etag()),
    "{DAV:}displayname": _present(lambda r: r.get_display_name()),
}
