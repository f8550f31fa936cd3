"""Refuse a request head whose framing or routing is ambiguous, before anyone interprets it.

cheroot reads what it can of a sloppy head: of two ``Content-Length`` fields the last wins, it
reads a chunked body when ``Content-Length`` says otherwise, serves HTTP/1.1 without ``Host``,
folds continuation lines and takes ``Transfer-Encoding :`` (space before the colon) as
``Transfer-Encoding``. A proxy in front may read the same bytes differently, and the rest of
the connection then becomes a request the proxy never saw (request smuggling). So the head
gate checks every head here, as the bytes arrived, and answers a violation itself and closes
the connection, whichever door the request was aimed at (RFC 9112 sections 2 to 7):

- request line: ``method SP target SP HTTP/d.d`` with single spaces, else 400; a version other
  than 1.0 or 1.1 is 505 (there is no HTTP/1.2 to fall back from; HTTP/2 is not spoken here).
- target: origin-form (``/...``), ``*`` for OPTIONS, authority-form for CONNECT (cheroot answers
  405). Absolute-form (``http://host/dav/x``) is 400: davfiles is not a proxy and has no list of
  its own host names (it answers whatever ``Host`` the client used), so it cannot tell an
  authority that is its own from one that is not; cheroot refused absolute-form for every
  method but OPTIONS, which it served as local whatever the host.
- field lines: CRLF line ends (no bare CR or LF), a token as name with no space before the
  colon, no obsolete line folding: else 400. Other bytes of a value are the business of the
  door that reads the field (a NUL in credentials is a failed login there).
- ``Host``: exactly one in HTTP/1.1 (at most one in 1.0), a valid ``host[:port]``: else 400.
- ``Content-Length``: one field with one decimal value up to 2**63 - 1; repeated fields or a
  list are 400 even when the values agree (as nginx does: one rule, nothing to compare).
- ``Transfer-Encoding``: 400 beside ``Content-Length``, in HTTP/1.0, or when ``chunked`` is not
  the final coding or appears twice; another coding before ``chunked`` is 501.
"""

from __future__ import annotations

import re

TOKEN = rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"
_REQUEST_LINE = re.compile(rb"(" + TOKEN + rb") ([^ ]+) (.*)", re.DOTALL)
_VERSION = re.compile(rb"HTTP/([0-9])\.([0-9])")
_FIELD_NAME = re.compile(TOKEN)
_HOST = re.compile(
    rb"(?:\[[0-9A-Za-z:.\-_~!$&'()*+,;=]+\]|[0-9A-Za-z\-._~!$&'()*+,;=%]*)(?::[0-9]*)?"
)
MAX_CONTENT_LENGTH = 2**63 - 1
SERVED_VERSIONS = ((1, 0), (1, 1))

BAD_REQUEST = "400 Bad Request"
NOT_IMPLEMENTED = "501 Not Implemented"
VERSION_NOT_SUPPORTED = "505 HTTP Version Not Supported"

Refusal = tuple[str, str]


def head_problem(head: bytes | bytearray) -> Refusal | None:
    """Status and message for a head (through its blank line) that is refused, or None."""
    text = bytes(head)
    if text.startswith(b"\r\n"):
        text = text[2:]
    if not text.endswith(b"\r\n\r\n"):
        return BAD_REQUEST, "Lines of the request head must end with CRLF."
    lines = text[:-4].split(b"\r\n")
    if any(b"\n" in line or b"\r" in line for line in lines):
        return BAD_REQUEST, "Lines of the request head must end with CRLF."
    matched = _REQUEST_LINE.fullmatch(lines[0])
    if matched is None:
        return BAD_REQUEST, "Malformed request line."
    method, target, version = matched.groups()
    problem = _version_problem(version) or _target_problem(method, target)
    if problem is not None:
        return problem
    fields, problem = _fields(lines[1:])
    if problem is not None:
        return problem
    return _host_problem(version, fields.get(b"host", [])) or _body_problem(version, fields)


def _version_problem(version: bytes) -> Refusal | None:
    matched = _VERSION.fullmatch(version)
    if matched is None:
        return BAD_REQUEST, "Malformed HTTP version in the request line."
    if (int(matched.group(1)), int(matched.group(2))) not in SERVED_VERSIONS:
        return VERSION_NOT_SUPPORTED, "Only HTTP/1.0 and HTTP/1.1 are served."
    return None


def _target_problem(method: bytes, target: bytes) -> Refusal | None:
    if target.startswith(b"/") or method == b"CONNECT" or (method, target) == (b"OPTIONS", b"*"):
        return None
    if b"://" in target:
        return BAD_REQUEST, "Absolute-form request targets are refused: this is not a proxy."
    return BAD_REQUEST, "The request target must be a path starting with '/'."


def _fields(lines: list[bytes]) -> tuple[dict[bytes, list[bytes]], Refusal | None]:
    """Field values by lower-case name, in arrival order."""
    fields: dict[bytes, list[bytes]] = {}
    for line in lines:
        if line[:1] in (b" ", b"\t"):
            return fields, (BAD_REQUEST, "Obsolete line folding is refused.")
        name, colon, value = line.partition(b":")
        if not colon or _FIELD_NAME.fullmatch(name) is None:
            return fields, (BAD_REQUEST, "Malformed header field name (or space before ':').")
        fields.setdefault(name.lower(), []).append(value.strip(b" \t"))
    return fields, None


def _host_problem(version: bytes, hosts: list[bytes]) -> Refusal | None:
    if len(hosts) > 1:
        return BAD_REQUEST, "More than one Host header field."
    if not hosts:
        if version == b"HTTP/1.1":
            return BAD_REQUEST, "An HTTP/1.1 request needs a Host header field."
        return None
    if _HOST.fullmatch(hosts[0]) is None:
        return BAD_REQUEST, "The Host header field is not a valid host[:port]."
    return None


def _body_problem(version: bytes, fields: dict[bytes, list[bytes]]) -> Refusal | None:
    lengths = fields.get(b"content-length", [])
    encodings = fields.get(b"transfer-encoding", [])
    if lengths and encodings:
        return (
            BAD_REQUEST,
            "Transfer-Encoding and Content-Length together: the body length is ambiguous.",
        )
    if lengths:
        return _length_problem(lengths)
    if encodings:
        if version != b"HTTP/1.1":
            return BAD_REQUEST, "Transfer-Encoding is not defined in HTTP/1.0."
        return _coding_problem(encodings)
    return None


def _length_problem(lengths: list[bytes]) -> Refusal | None:
    if len(lengths) > 1 or b"," in lengths[0]:
        return BAD_REQUEST, "More than one Content-Length."
    value = lengths[0]
    if not value.isdigit():
        return BAD_REQUEST, "Content-Length must be a non-negative whole number."
    if len(value) > 19 or int(value) > MAX_CONTENT_LENGTH:
        return BAD_REQUEST, f"Content-Length is larger than {MAX_CONTENT_LENGTH}."
    return None


def _coding_problem(encodings: list[bytes]) -> Refusal | None:
    codings = [
        element.split(b";", 1)[0].strip(b" \t").lower()
        for value in encodings
        for element in value.split(b",")
        if element.strip(b" \t")
    ]
    if not codings or codings[-1] != b"chunked" or codings.count(b"chunked") > 1:
        return BAD_REQUEST, "Transfer-Encoding must end with chunked, applied once."
    if len(codings) > 1:
        unknown = codings[0].decode("latin-1")
        return NOT_IMPLEMENTED, f"Transfer coding {unknown!r} is not implemented."
    return None


def body_start(head: bytes | bytearray) -> tuple[int | None, bool]:
    """For a head ``head_problem`` accepted: its Content-Length (0 without one, None for a
    chunked body) and whether the client waits for ``100 Continue`` before sending the body."""
    fields, _problem = _fields(bytes(head).strip(b"\r\n").split(b"\r\n")[1:])
    expects_continue = [value.lower() for value in fields.get(b"expect", [])] == [b"100-continue"]
    if b"transfer-encoding" in fields:
        return None, expects_continue
    return int(fields.get(b"content-length", [b"0"])[0]), expects_continue
