"""The XML of a link's public WebDAV: PROPFIND entries, lock discovery, PROPPATCH bodies and
DAV error bodies, in the shapes Nextcloud's public WebDAV gives them."""

from __future__ import annotations

from dataclasses import dataclass
from email.utils import formatdate
from typing import Any
from xml.etree import ElementTree

from defusedxml import ElementTree as SafeTree
from werkzeug.wrappers import Response

from davfiles.provider.nextcloud import OC_NS, oc_property
from davfiles.store import FileInfo
from davfiles.store.links import LinkKind

DAV = "{DAV:}"
SABRE = "{http://sabredav.org/ns}"
ElementTree.register_namespace("d", "DAV:")
ElementTree.register_namespace("oc", OC_NS.strip("{}"))
ElementTree.register_namespace("s", SABRE.strip("{}"))
_XML = 'application/xml; charset="utf-8"'
# The oc: properties the main door serves that mean the same through a link.
_OC_NAMES = ("fileid", "id", "size")


def permissions(kind: LinkKind, info: FileInfo) -> str:
    """``oc:permissions`` as a link's kind allows: G read, D delete, N rename, V move,
    W write (files), C and K create files and folders."""
    if kind == LinkKind.DROP:
        return "C"
    if kind == LinkKind.VIEW:
        return "G"
    return "GDNVCK" if info.is_dir else "GDNVW"


def multistatus() -> ElementTree.Element:
    return ElementTree.Element(f"{DAV}multistatus")


def live_properties(
    info: FileInfo, kind: LinkKind, locks: list[dict[str, Any]] | None
) -> list[ElementTree.Element]:
    """The properties of ``info`` a link shows; ``locks`` (None where locks are not offered)
    adds the lock properties the main door gives."""
    prop = ElementTree.Element(f"{DAV}prop")
    _text(prop, f"{DAV}displayname", info.name)
    kind_element = ElementTree.SubElement(prop, f"{DAV}resourcetype")
    if info.is_dir:
        ElementTree.SubElement(kind_element, f"{DAV}collection")
    else:
        _text(prop, f"{DAV}getcontentlength", str(info.size))
        _text(prop, f"{DAV}getcontenttype", info.content_type)
    _text(prop, f"{DAV}getlastmodified", formatdate(info.modified_at, usegmt=True))
    _text(prop, f"{DAV}getetag", f'"{info.etag}"')
    _text(prop, f"{OC_NS}permissions", permissions(kind, info))
    if kind != LinkKind.DROP:
        for name in _OC_NAMES:
            _text(prop, OC_NS + name, str(oc_property(info, OC_NS + name)))
        if info.sha1 and info.md5 and not info.is_dir:
            checksums = ElementTree.SubElement(prop, f"{OC_NS}checksums")
            _text(checksums, f"{OC_NS}checksum", f"SHA1:{info.sha1} MD5:{info.md5}")
    if locks is not None:
        supported = ElementTree.SubElement(prop, f"{DAV}supportedlock")
        for scope in ("exclusive", "shared"):
            entry = ElementTree.SubElement(supported, f"{DAV}lockentry")
            ElementTree.SubElement(ElementTree.SubElement(entry, f"{DAV}lockscope"), DAV + scope)
            ElementTree.SubElement(ElementTree.SubElement(entry, f"{DAV}locktype"), f"{DAV}write")
        discovery = ElementTree.SubElement(prop, f"{DAV}lockdiscovery")
        for lock in locks:
            add_active_lock(discovery, lock, None)
    return list(prop)


def dead_properties(stored: dict[str, bytes]) -> list[ElementTree.Element]:
    """Dead properties as stored (each the serialized element); an unreadable one is left out."""
    found = []
    for value in stored.values():
        try:
            found.append(SafeTree.fromstring(value))
        except SafeTree.ParseError:
            continue
    return found


@dataclass(frozen=True)
class PropfindRequest:
    names: list[str] | None  # None: all properties
    names_only: bool = False


def parse_propfind(body: bytes) -> PropfindRequest:
    """What a PROPFIND asks for; an empty body asks for all properties (RFC 4918 9.1)."""
    if not body.strip():
        return PropfindRequest(None)
    root = SafeTree.fromstring(body)
    if root.tag != f"{DAV}propfind" or len(root) == 0:
        raise ValueError("the body is not a propfind")
    first = root[0]
    if first.tag == f"{DAV}propname":
        return PropfindRequest(None, names_only=True)
    if first.tag == f"{DAV}prop":
        return PropfindRequest([element.tag for element in first])
    if first.tag == f"{DAV}allprop":
        return PropfindRequest(None)
    raise ValueError("a propfind asks for prop, propname or allprop")


def add_entry(
    root: ElementTree.Element,
    href: str,
    properties: list[ElementTree.Element],
    wanted: PropfindRequest,
) -> None:
    """One PROPFIND response: the properties asked for (200) and those missing (404)."""
    response = _response(root, href)
    chosen, missing = properties, []
    if wanted.names is not None:
        found = {element.tag: element for element in properties}
        chosen = [found[name] for name in wanted.names if name in found]
        missing = [name for name in wanted.names if name not in found]
    if chosen or not missing:
        prop = _propstat(response, "HTTP/1.1 200 OK")
        for element in chosen:
            prop.append(ElementTree.Element(element.tag) if wanted.names_only else element)
    if missing:
        absent = _propstat(response, "HTTP/1.1 404 Not Found")
        for name in missing:
            ElementTree.SubElement(absent, name)


def add_active_lock(
    discovery: ElementTree.Element, lock: dict[str, Any], root_href: str | None
) -> None:
    active = ElementTree.SubElement(discovery, f"{DAV}activelock")
    ElementTree.SubElement(ElementTree.SubElement(active, f"{DAV}locktype"), f"{DAV}write")
    ElementTree.SubElement(ElementTree.SubElement(active, f"{DAV}lockscope"), DAV + lock["scope"])
    _text(active, f"{DAV}depth", lock["depth"])
    if lock.get("owner"):
        try:
            active.append(SafeTree.fromstring(lock["owner"]))
        except SafeTree.ParseError:
            pass
    _text(active, f"{DAV}timeout", f"Second-{int(lock['timeout'])}")
    token = ElementTree.SubElement(active, f"{DAV}locktoken")
    _text(token, f"{DAV}href", lock["token"])
    if root_href is not None:
        _text(ElementTree.SubElement(active, f"{DAV}lockroot"), f"{DAV}href", root_href)


def lock_answer(lock: dict[str, Any], root_href: str, status: int) -> Response:
    prop = ElementTree.Element(f"{DAV}prop")
    add_active_lock(ElementTree.SubElement(prop, f"{DAV}lockdiscovery"), lock, root_href)
    headers = {"Lock-Token": f"<{lock['token']}>"}
    return Response(_bytes(prop), status, headers, content_type=_XML)


@dataclass(frozen=True)
class LockRequest:
    scope: str
    owner: bytes


def parse_lockinfo(body: bytes) -> LockRequest | None:
    """The ``lockinfo`` of a LOCK body; None for an empty body (a refresh)."""
    if not body.strip():
        return None
    root = SafeTree.fromstring(body)
    if root.tag != f"{DAV}lockinfo":
        raise ValueError("the body is not a lockinfo")
    scope = root.find(f"{DAV}lockscope")
    if scope is None or len(scope) != 1:
        raise ValueError("the lockinfo has no lockscope")
    name = scope[0].tag.removeprefix(DAV)
    if name not in ("exclusive", "shared"):
        raise ValueError("the lockscope is neither exclusive nor shared")
    owner = root.find(f"{DAV}owner")
    return LockRequest(name, ElementTree.tostring(owner) if owner is not None else b"")


@dataclass(frozen=True)
class PropertyChange:
    name: str
    element: ElementTree.Element | None  # None: remove


def parse_propertyupdate(body: bytes) -> list[PropertyChange]:
    root = SafeTree.fromstring(body)
    if root.tag != f"{DAV}propertyupdate":
        raise ValueError("the body is not a propertyupdate")
    changes = []
    for action in root:
        if action.tag not in (f"{DAV}set", f"{DAV}remove"):
            continue
        for prop in action.iter(f"{DAV}prop"):
            for element in prop:
                keep = element if action.tag == f"{DAV}set" else None
                changes.append(PropertyChange(element.tag, keep))
    return changes


def proppatch_answer(href: str, statuses: dict[str, str]) -> Response:
    root = multistatus()
    response = _response(root, href)
    for status in sorted(set(statuses.values())):
        prop = _propstat(response, status)
        for name, its in statuses.items():
            if its == status:
                ElementTree.SubElement(prop, name)
    return multistatus_answer(root)


def multistatus_answer(root: ElementTree.Element) -> Response:
    return Response(_bytes(root), 207, content_type=_XML)


def error_answer(status: int, message: str, condition: str | None = None) -> Response:
    """A DAV error body, as Sabre (Nextcloud) gives one: a condition (``DAV:`` name) where
    RFC 4918 names one, and the message."""
    root = ElementTree.Element(f"{DAV}error")
    if condition is not None:
        ElementTree.SubElement(root, DAV + condition)
    _text(root, f"{SABRE}message", message)
    return Response(_bytes(root), status, content_type=_XML)


def _response(root: ElementTree.Element, href: str) -> ElementTree.Element:
    response = ElementTree.SubElement(root, f"{DAV}response")
    _text(response, f"{DAV}href", href)
    return response


def _propstat(response: ElementTree.Element, status: str) -> ElementTree.Element:
    propstat = ElementTree.SubElement(response, f"{DAV}propstat")
    prop = ElementTree.SubElement(propstat, f"{DAV}prop")
    _text(propstat, f"{DAV}status", status)
    return prop


def _text(parent: ElementTree.Element, tag: str, text: str) -> None:
    ElementTree.SubElement(parent, tag).text = text


def _bytes(root: ElementTree.Element) -> bytes:
    return b'<?xml version="1.0" encoding="utf-8"?>\n' + ElementTree.tostring(root)
