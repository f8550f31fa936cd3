"""The one place that decides which XML request bodies WebDAV may parse and store.

WsgiDAV parses PROPFIND, PROPPATCH and LOCK bodies itself (with lxml when importable, else
defusedxml), keeps every PROPPATCH property and every LOCK owner as serialized XML, and parses
those again for each PROPFIND. lxml copies all namespace declarations in scope into such a
stored value, so one PROPPATCH with 1,000 declarations made every later PROPFIND of the file
take seconds.

``XmlGuard`` sits in front of WsgiDAV. It reads such a body once (Content-Length or chunked,
at most ``MAX_BODY_BYTES``), checks it with the standard library's expat in one pinned
configuration, whatever else is installed, and hands the same bytes on with an exact
Content-Length. Refused: any DTD (so no entities: no XXE, no billion laughs), malformed XML,
documents beyond the limits below, encodings outside ``ENCODINGS`` and a Content-Type charset
that reads the bytes differently from the document's own encoding. WsgiDAV's own parser then
only ever sees small, shallow documents without a DTD, in an encoding both parsers read alike.
"""

from __future__ import annotations

import codecs
import io
import json
import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, NoReturn
from xml.parsers import expat

from werkzeug.http import parse_options_header

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

logger = logging.getLogger(__name__)

# The WebDAV methods whose bodies WsgiDAV parses as XML.
XML_METHODS = frozenset({"PROPFIND", "PROPPATCH", "LOCK"})

MAX_BODY_BYTES = 1024 * 1024
MAX_DEPTH = 32
MAX_ELEMENTS = 500
# neon-based clients (litmus, cadaver, davfs2) declare a namespace on every property element.
MAX_NAMESPACE_DECLARATIONS = 256
MAX_NAMESPACES_IN_SCOPE = 32
MAX_STORED_VALUES = 100
MAX_STORED_VALUE_BYTES = 64 * 1024
# The encodings expat decodes itself (RFC 4918 requires UTF-8 and UTF-16). For any other name
# Python's expat would ask a codec (an unknown name or a multi-byte one raised, and the client
# got no answer), and lxml, reading the same bytes through libxml2, might read other text.
ENCODINGS = frozenset({"utf-8", "utf-16", "utf-16be", "utf-16le", "iso-8859-1", "us-ascii"})

BAD_REQUEST = "400 Bad Request"
TOO_LARGE = "413 Content Too Large"

_BLOCK = 64 * 1024
# Bytes a re-serialized declaration adds besides prefix and URI: ` xmlns:=""`.
_DECLARATION_OVERHEAD = 10
_PROPERTY_UPDATE = "DAV: propertyupdate"
_LOCK_INFO = "DAV: lockinfo"
_OWNER = "DAV: owner"


class XmlRefused(Exception):
    """A request body this server will not parse; ``status`` is the HTTP answer."""

    def __init__(self, status: str, message: str) -> None:
        super().__init__(message)
        self.status = status


def _refuse(status: str, message: str) -> NoReturn:
    raise XmlRefused(status, message)


def _is_stored(root: str, depth: int, name: str) -> bool:
    """PROPPATCH properties and the LOCK owner: WsgiDAV keeps them and re-parses them later."""
    return (root == _PROPERTY_UPDATE and depth == 4) or (
        root == _LOCK_INFO and depth == 2 and name == _OWNER
    )


class _Checker:
    """Expat handlers that count while the document streams by and stop at the first excess."""

    def __init__(self) -> None:
        self.parser = expat.ParserCreate(namespace_separator=" ")
        self.parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
        # Called before expat looks the declared encoding up, so no codec is ever consulted.
        self.parser.XmlDeclHandler = self._xml_declaration
        self.parser.StartDoctypeDeclHandler = self._doctype
        # Unreachable once the DOCTYPE is refused; kept so no entity can ever be declared.
        self.parser.EntityDeclHandler = self._doctype
        self.parser.ExternalEntityRefHandler = self._doctype
        self.parser.StartNamespaceDeclHandler = self._declaration
        self.parser.StartElementHandler = self._start
        self.parser.EndElementHandler = self._end
        self._root = ""
        self._elements = 0
        self._declarations = 0
        self._stored = 0
        # Per open element: how many namespaces it declared and their serialized bytes.
        self._open: list[tuple[int, int]] = []
        self._pending = (0, 0)
        self._scope = (0, 0)
        self._value: tuple[int, int] | None = None
        self.declared_encoding: str | None = None

    def _xml_declaration(self, _version: str, encoding: str | None, _standalone: int) -> None:
        if encoding is not None and encoding.lower() not in ENCODINGS:
            _refuse(
                BAD_REQUEST,
                f"the body declares the encoding {encoding[:40]!r}; XML bodies must be UTF-8, "
                "UTF-16, ISO-8859-1 or US-ASCII",
            )
        self.declared_encoding = encoding

    def _doctype(self, *_args: object) -> NoReturn:
        _refuse(BAD_REQUEST, "DTDs and entity declarations are not accepted")

    def _declaration(self, prefix: str | None, uri: str | None) -> None:
        """Count one declaration; ``xmlns=""`` (no namespace) comes with ``uri`` None."""
        self._declarations += 1
        if self._declarations > MAX_NAMESPACE_DECLARATIONS:
            _refuse(BAD_REQUEST, f"more than {MAX_NAMESPACE_DECLARATIONS} namespace declarations")
        size = len((prefix or "").encode()) + len((uri or "").encode()) + _DECLARATION_OVERHEAD
        self._pending = (self._pending[0] + 1, self._pending[1] + size)

    def _start(self, name: str, _attributes: dict[str, str]) -> None:
        self._elements += 1
        if self._elements > MAX_ELEMENTS:
            _refuse(BAD_REQUEST, f"more than {MAX_ELEMENTS} elements")
        if len(self._open) >= MAX_DEPTH:
            _refuse(BAD_REQUEST, f"elements nested deeper than {MAX_DEPTH} levels")
        ancestors_bytes = self._scope[1]
        declared, self._pending = self._pending, (0, 0)
        self._open.append(declared)
        self._scope = (self._scope[0] + declared[0], self._scope[1] + declared[1])
        if self._scope[0] > MAX_NAMESPACES_IN_SCOPE:
            _refuse(BAD_REQUEST, f"more than {MAX_NAMESPACES_IN_SCOPE} namespaces in scope")
        if not self._root:
            self._root = name
        if _is_stored(self._root, len(self._open), name):
            self._stored += 1
            if self._stored > MAX_STORED_VALUES:
                _refuse(BAD_REQUEST, f"more than {MAX_STORED_VALUES} properties in one request")
            self._value = (self.parser.CurrentByteIndex, ancestors_bytes)

    def _end(self, name: str) -> None:
        if self._value is not None and _is_stored(self._root, len(self._open), name):
            start, ancestors_bytes = self._value
            self._value = None
            if self.parser.CurrentByteIndex - start + ancestors_bytes > MAX_STORED_VALUE_BYTES:
                _refuse(
                    TOO_LARGE, f"a property value is larger than {MAX_STORED_VALUE_BYTES} bytes"
                )
        declared = self._open.pop()
        self._scope = (self._scope[0] - declared[0], self._scope[1] - declared[1])


def check_xml_body(body: bytes, charset: str | None = None) -> None:
    """Raise XmlRefused unless ``body`` is well-formed XML without DTD and within the limits,
    in one of ``ENCODINGS`` and read alike by ``charset`` (the Content-Type's) if given."""
    checker = _Checker()
    try:
        checker.parser.Parse(body, True)
    except expat.ExpatError as exc:
        _refuse(
            BAD_REQUEST,
            f"the body is not well-formed XML: {expat.ErrorString(exc.code)} "
            f"(line {exc.lineno}, column {exc.offset})",
        )
    if charset is not None:
        _check_charset(body, charset, _own_encoding(body, checker.declared_encoding))


def _own_encoding(body: bytes, declared: str | None) -> str:
    """The encoding the XML rules give the body: its BOM, its first bytes, its declaration."""
    if body.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if body.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if body.startswith(b"<\0"):
        return "utf-16-le"
    if body.startswith(b"\0<"):
        return "utf-16-be"
    return declared or "utf-8"


def _check_charset(body: bytes, charset: str, own: str) -> None:
    """RFC 7303 lets the Content-Type charset override the document, WsgiDAV's parser reads
    the document alone: both must give the same text, or the two readers disagree."""
    try:
        alike = body.decode(charset).lstrip("\ufeff") == body.decode(own).lstrip("\ufeff")
    except (LookupError, UnicodeDecodeError):
        alike = False
    if not alike:
        _refuse(
            BAD_REQUEST,
            f"the Content-Type charset {charset[:40]!r} does not read the body as its own "
            f"encoding ({own}) does",
        )


def _read_at_most(stream: Any, limit: int) -> bytes:
    """Up to ``limit`` bytes; fewer only when the stream ends first."""
    data = bytearray()
    while len(data) < limit:
        block = stream.read(min(_BLOCK, limit - len(data)))
        if not block:
            break
        data += block
    return bytes(data)


def read_body(environ: WSGIEnvironment) -> bytes:
    """The whole request body; raises XmlRefused if it is too long, cut short or framed twice."""
    length = environ.get("CONTENT_LENGTH", "").strip()
    chunked = "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()
    if chunked and length:
        _refuse(BAD_REQUEST, "Content-Length and chunked Transfer-Encoding together")
    if chunked:
        body = _read_at_most(environ["wsgi.input"], MAX_BODY_BYTES + 1)
        if len(body) > MAX_BODY_BYTES:
            _refuse(TOO_LARGE, f"XML bodies are limited to {MAX_BODY_BYTES} bytes")
        return body
    if not length:
        return b""
    if not length.isdigit():
        _refuse(BAD_REQUEST, "Content-Length must be a non-negative whole number")
    expected = int(length)
    if expected > MAX_BODY_BYTES:
        _refuse(TOO_LARGE, f"XML bodies are limited to {MAX_BODY_BYTES} bytes")
    body = _read_at_most(environ["wsgi.input"], expected)
    if len(body) < expected:
        _refuse(BAD_REQUEST, f"the body ended after {len(body)} of {expected} bytes")
    return body


class XmlGuard:
    """WSGI middleware: XML bodies reach the wrapped WebDAV app only after check_xml_body."""

    def __init__(self, app: WSGIApplication) -> None:
        self.app = app

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("REQUEST_METHOD") not in XML_METHODS:
            return self.app(environ, start_response)
        try:
            body = read_body(environ)
            if body:
                check_xml_body(body, _charset(environ))
        except XmlRefused as refused:
            logger.info(
                "refused the XML body of %s %s: %s",
                environ.get("REQUEST_METHOD"),
                environ.get("PATH_INFO"),
                refused,
            )
            return _refusal(refused, start_response)
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        environ.pop("HTTP_TRANSFER_ENCODING", None)
        return self.app(environ, start_response)


def _charset(environ: WSGIEnvironment) -> str | None:
    return parse_options_header(environ.get("CONTENT_TYPE", ""))[1].get("charset")


def _refusal(refused: XmlRefused, start_response: StartResponse) -> list[bytes]:
    body = json.dumps({"error": str(refused)}).encode()
    start_response(
        refused.status,
        [("Content-Type", "application/json"), ("Content-Length", str(len(body)))],
    )
    return [body]
