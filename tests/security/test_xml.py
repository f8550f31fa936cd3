"""Safe XML: DTDs, entities, oversized, deep or namespace-heavy bodies are refused with a 4xx.

Every attack goes over a raw socket, framed by hand (Content-Length, chunked, or a lying
Content-Length), to each WebDAV mount and each method with an XML body. The limits come from
davfiles.xml_guard, so the tests pin the behaviour at and just past each limit.
"""

from __future__ import annotations

import json
import select
import socket
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from sqlalchemy import event

from davfiles.xml_guard import (
    MAX_BODY_BYTES,
    MAX_DEPTH,
    MAX_ELEMENTS,
    MAX_NAMESPACE_DECLARATIONS,
    MAX_NAMESPACES_IN_SCOPE,
    MAX_STORED_VALUE_BYTES,
    MAX_STORED_VALUES,
)
from tests.harness import LiveServer, TestUser
from tests.security.rawhttp import basic

# A refusal takes about a millisecond and reads no database row (test_refusals_do_no_database_work
# counts that); an expanded billion laughs or a stored namespace bomb takes minutes. So the time
# bound only catches those, far from the normal figure: a busy CI machine once took 1.29 s.
PROMPT = 10.0
MOUNTS = {
    "dav": "/dav/",
    "owncloud": "/remote.php/webdav/",
    "nextcloud": "/remote.php/dav/files/alice/",
}
XML_METHODS = ("PROPFIND", "PROPPATCH", "LOCK")
PASSWD_MARKER = b"root:"


@dataclass(frozen=True)
class Reply:
    status: int
    head: bytes
    body: bytes
    seconds: float


@pytest.fixture
def alice(live_server: LiveServer) -> TestUser:
    user = live_server.add_user("alice", "alice-pw")
    response = live_server.session(user).put(live_server.url("/dav/file.txt"), data=b"hello")
    assert response.status_code == 201
    return user


def request_bytes(
    method: str,
    target: str,
    user: TestUser,
    headers: dict[str, str],
    body: bytes = b"",
    content_type: str = "application/xml; charset=utf-8",
) -> bytes:
    lines = [
        f"{method} {target} HTTP/1.1",
        "Host: 127.0.0.1",
        f"Authorization: {basic(user)}",
        f"Content-Type: {content_type}",
    ]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def chunked(body: bytes, size: int = 64 * 1024, *, last: bool = True) -> bytes:
    """``body`` in chunked transfer coding; without the last chunk if ``last`` is False."""
    parts = [
        b"%x\r\n%s\r\n" % (len(body[i : i + size]), body[i : i + size])
        for i in range(0, len(body), size)
    ]
    return b"".join(parts) + (b"0\r\n\r\n" if last else b"")


def exchange(port: int, raw: bytes, *, shut_write: bool = False) -> Reply:
    """Send ``raw`` and read the first response only (its Content-Length, or up to EOF)."""
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
        connection.sendall(raw)
        if shut_write:
            connection.shutdown(socket.SHUT_WR)
        data = b""
        wanted: int | None = None
        for _ in range(100_000):
            if wanted is None and b"\r\n\r\n" in data:
                head = data.split(b"\r\n\r\n", 1)[0]
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        wanted = len(head) + 4 + int(value)
            if wanted is not None and len(data) >= wanted:
                break
            block = connection.recv(65536)
            if not block:
                break
            data += block
    seconds = time.monotonic() - started
    head, _, body = data.partition(b"\r\n\r\n")
    if b"\r\ntransfer-encoding: chunked" in head.lower():
        body = dechunked(body)
    return Reply(int(head.split(b" ", 2)[1]), head, body, seconds)


def dechunked(body: bytes) -> bytes:
    """A response body in chunked transfer coding, decoded (PROPFIND answers are streamed)."""
    decoded = b""
    for _ in range(100_000):
        size_line, _, rest = body.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            break
        decoded += rest[:size]
        body = rest[size + 2 :]
    return decoded


def send(
    server: LiveServer,
    user: TestUser,
    method: str,
    target: str,
    body: bytes,
    *,
    depth: str = "0",
    content_type: str = "application/xml; charset=utf-8",
) -> Reply:
    headers = {"Content-Length": str(len(body)), "Depth": depth, "Connection": "close"}
    raw = request_bytes(method, target, user, headers, body, content_type)
    return exchange(server.port, raw)


def propfind(prop_xml: str, declarations: str = "") -> bytes:
    return (
        f'<?xml version="1.0" encoding="utf-8"?>\n<D:propfind xmlns:D="DAV:"{declarations}>'
        f"<D:prop>{prop_xml}</D:prop></D:propfind>"
    ).encode()


def proppatch(props_xml: str, declarations: str = "") -> bytes:
    return (
        f'<?xml version="1.0" encoding="utf-8"?>\n<D:propertyupdate xmlns:D="DAV:"{declarations}>'
        f"<D:set><D:prop>{props_xml}</D:prop></D:set></D:propertyupdate>"
    ).encode()


def lockinfo(owner_xml: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<D:lockinfo xmlns:D="DAV:">'
        "<D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype>"
        f"<D:owner>{owner_xml}</D:owner></D:lockinfo>"
    ).encode()


def body_for(method: str, inner: str) -> bytes:
    """A body of ``method`` that carries ``inner`` where WsgiDAV would read or store it."""
    if method == "PROPFIND":
        return propfind(f"<D:displayname>{inner}</D:displayname>")
    if method == "PROPPATCH":
        return proppatch(f'<x:note xmlns:x="urn:test">{inner}</x:note>')
    return lockinfo(inner)


def with_dtd(dtd: str, document: bytes) -> bytes:
    """``document`` with a DOCTYPE whose internal subset is ``dtd``."""
    declaration, _, rest = document.partition(b"\n")
    return declaration + b"\n" + f"<!DOCTYPE x [{dtd}]>\n".encode() + rest


def target(mount: str) -> str:
    return MOUNTS[mount] + "file.txt"


def stored_state(server: LiveServer, user: TestUser) -> Reply:
    """All properties of the file (allprop PROPFIND), which also shows any lock."""
    return send(server, user, "PROPFIND", "/dav/file.txt", b"")


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    """A loopback port that records whether anybody (the server fetching an entity) connects."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(4)
        yield sock


def nobody_connected(sock: socket.socket) -> bool:
    readable, _, _ = select.select([sock], [], [], 0)
    return not readable


def assert_refused(reply: Reply, status: int = 400, context: object = None) -> None:
    assert reply.status == status, (context, reply.head + reply.body[:300])
    assert reply.seconds < PROMPT
    assert b"error" in reply.body
    assert b"Traceback" not in reply.body and PASSWD_MARKER not in reply.body


def assert_untouched(server: LiveServer, user: TestUser) -> None:
    """Nothing of a refused request was stored, and PROPFIND of the file is still quick."""
    reply = stored_state(server, user)
    assert reply.status == 207
    assert reply.seconds < PROMPT
    assert b"urn:attack" not in reply.body and b"activelock" not in reply.body
    assert PASSWD_MARKER not in reply.body


@pytest.mark.parametrize("mount", MOUNTS)
def test_external_entities_are_refused_and_never_fetched(
    live_server: LiveServer, alice: TestUser, listener: socket.socket, mount: str
) -> None:
    url = f"http://127.0.0.1:{listener.getsockname()[1]}/xxe"
    for method in XML_METHODS:
        for entity in ('SYSTEM "file:///etc/passwd"', f'SYSTEM "{url}"', f'PUBLIC "-//x" "{url}"'):
            body = with_dtd(f"<!ENTITY xxe {entity}>", body_for(method, "&xxe;"))
            reply = send(live_server, alice, method, target(mount), body)
            assert_refused(reply, context=(method, entity))
    assert nobody_connected(listener)
    assert_untouched(live_server, alice)


def test_parameter_entities_are_refused_and_never_fetched(
    live_server: LiveServer, alice: TestUser, listener: socket.socket
) -> None:
    url = f"http://127.0.0.1:{listener.getsockname()[1]}/xxe.dtd"
    for source in ("file:///etc/passwd", url):
        dtd = f'<!ENTITY % remote SYSTEM "{source}"> %remote;'
        body = with_dtd(dtd, body_for("PROPPATCH", "value"))
        assert_refused(send(live_server, alice, "PROPPATCH", "/dav/file.txt", body))
    assert nobody_connected(listener)


BILLION_LAUGHS = '<!ENTITY lol0 "lol">' + "".join(
    f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10)
)
QUADRATIC_BLOWUP = f'<!ENTITY big "{"x" * 50_000}">'


@pytest.mark.parametrize("mount", MOUNTS)
def test_billion_laughs_is_refused_quickly(
    live_server: LiveServer, alice: TestUser, mount: str
) -> None:
    for method in XML_METHODS:
        body = with_dtd(BILLION_LAUGHS, body_for(method, "&lol9;"))
        assert_refused(send(live_server, alice, method, target(mount), body), context=method)
    assert_untouched(live_server, alice)


def test_quadratic_blowup_is_refused(live_server: LiveServer, alice: TestUser) -> None:
    body = with_dtd(QUADRATIC_BLOWUP, body_for("PROPPATCH", "&big;" * 15))
    assert_refused(send(live_server, alice, "PROPPATCH", "/dav/file.txt", body))
    assert_untouched(live_server, alice)


DOCTYPES = (
    "<!DOCTYPE x>",
    '<!DOCTYPE x SYSTEM "http://127.0.0.1:9/x.dtd">',
    "<!DOCTYPE x [<!ELEMENT x ANY>]>",
    '<!DOCTYPE x [<!ATTLIST x a CDATA "b">]>',
    '<!DOCTYPE x [<!ENTITY harmless "text">]>',
)


def test_any_dtd_is_refused(live_server: LiveServer, alice: TestUser) -> None:
    for method in XML_METHODS:
        for doctype in DOCTYPES:
            declaration, _, rest = body_for(method, "value").partition(b"\n")
            body = declaration + b"\n" + doctype.encode() + rest
            reply = send(live_server, alice, method, "/dav/file.txt", body)
            assert_refused(reply, context=(method, doctype))
            assert b"DTD" in reply.body


@pytest.mark.parametrize("mount", MOUNTS)
def test_namespace_bomb_is_refused_and_later_propfinds_stay_fast(
    live_server: LiveServer, alice: TestUser, mount: str
) -> None:
    declarations = "".join(f' xmlns:n{i}="urn:attack:{i}"' for i in range(1000))
    one_property = proppatch("<n1:p>value</n1:p>", declarations)
    one_namespace_each = proppatch(
        "".join(f'<p{i} xmlns="urn:attack:{i}">value</p{i}>' for i in range(1000))
    )
    spread = proppatch(
        "".join(f"<n{i}:p>value</n{i}:p>" for i in range(1000)),
        declarations,
    )
    for body in (one_property, one_namespace_each, spread):
        assert_refused(send(live_server, alice, "PROPPATCH", target(mount), body))
        assert_untouched(live_server, alice)
    for method in ("PROPFIND", "LOCK"):
        document = body_for(method, "x")
        root_end = document.index(b'xmlns:D="DAV:"') + len(b'xmlns:D="DAV:"')
        bomb = document[:root_end] + declarations.encode() + document[root_end:]
        assert_refused(send(live_server, alice, method, target(mount), bomb))
    assert_untouched(live_server, alice)


def test_namespace_limits_hold_at_the_boundary(live_server: LiveServer, alice: TestUser) -> None:
    def in_scope(count: int) -> bytes:
        # xmlns:D plus count - 1 more on the root: count namespaces in scope at the property.
        declarations = "".join(f' xmlns:n{i}="urn:scope:{i}"' for i in range(count - 1))
        return proppatch("<n0:p>value</n0:p>", declarations)

    ok = send(live_server, alice, "PROPPATCH", "/dav/file.txt", in_scope(MAX_NAMESPACES_IN_SCOPE))
    assert ok.status == 207
    too_many = in_scope(MAX_NAMESPACES_IN_SCOPE + 1)
    assert_refused(send(live_server, alice, "PROPPATCH", "/dav/file.txt", too_many))

    # neon (litmus, cadaver, davfs2) declares a namespace on every requested property.
    def neon_style(count: int) -> bytes:
        # xmlns:D on the root plus count - 1 on the properties.
        return propfind("".join(f'<p{i} xmlns="urn:neon:{i}"/>' for i in range(count - 1)))

    ok = send(
        live_server, alice, "PROPFIND", "/dav/file.txt", neon_style(MAX_NAMESPACE_DECLARATIONS)
    )
    assert ok.status == 207
    too_many = neon_style(MAX_NAMESPACE_DECLARATIONS + 1)
    assert_refused(send(live_server, alice, "PROPFIND", "/dav/file.txt", too_many))


def test_deep_nesting_is_refused(live_server: LiveServer, alice: TestUser) -> None:
    deep = "<x:a>" * 10_000 + "</x:a>" * 10_000
    for method in XML_METHODS:
        body = body_for(method, f'<x:w xmlns:x="urn:deep">{deep}</x:w>')
        reply = send(live_server, alice, method, "/dav/file.txt", body)
        assert_refused(reply, context=method)
        assert b"nested" in reply.body
    assert_untouched(live_server, alice)


def test_nesting_limit_holds_at_the_boundary(live_server: LiveServer, alice: TestUser) -> None:
    def nested(levels: int) -> bytes:
        # propertyupdate, set, prop and the property itself are four levels.
        inner = levels - 4
        return proppatch(f'<x:p xmlns:x="urn:deep">{"<x:a>" * inner}{"</x:a>" * inner}</x:p>')

    assert send(live_server, alice, "PROPPATCH", "/dav/file.txt", nested(MAX_DEPTH)).status == 207
    assert_refused(send(live_server, alice, "PROPPATCH", "/dav/file.txt", nested(MAX_DEPTH + 1)))


def test_too_many_elements_are_refused(live_server: LiveServer, alice: TestUser) -> None:
    def names(count: int) -> bytes:
        # propfind and prop plus count - 2 property names.
        return propfind("".join(f"<x:p{i}/>" for i in range(count - 2)), ' xmlns:x="urn:many"')

    assert send(live_server, alice, "PROPFIND", "/dav/file.txt", names(MAX_ELEMENTS)).status == 207
    assert_refused(send(live_server, alice, "PROPFIND", "/dav/file.txt", names(MAX_ELEMENTS + 1)))
    assert_refused(send(live_server, alice, "PROPFIND", "/dav/file.txt", names(20_000)))


def test_properties_per_proppatch_are_bounded(live_server: LiveServer, alice: TestUser) -> None:
    def properties(count: int) -> bytes:
        props = "".join(f"<x:p{i}>v</x:p{i}>" for i in range(count))
        return proppatch(props, ' xmlns:x="urn:attack"')

    assert_refused(
        send(live_server, alice, "PROPPATCH", "/dav/file.txt", properties(MAX_STORED_VALUES + 1))
    )
    assert_untouched(live_server, alice)
    reply = send(live_server, alice, "PROPPATCH", "/dav/file.txt", properties(MAX_STORED_VALUES))
    assert reply.status == 207
    propstat = ET.fromstring(reply.body).find(".//{DAV:}propstat")
    assert propstat is not None and "200 OK" in propstat.findtext("{DAV:}status", "")
    assert len(propstat.findall("{DAV:}prop/*")) == MAX_STORED_VALUES


def test_stored_values_are_bounded_in_size(live_server: LiveServer, alice: TestUser) -> None:
    big = "x" * (MAX_STORED_VALUE_BYTES + 1)
    reply = send(
        live_server, alice, "PROPPATCH", "/dav/file.txt", body_for("PROPPATCH", f"urn:attack{big}")
    )
    assert_refused(reply, 413)
    reply = send(live_server, alice, "LOCK", "/dav/file.txt", lockinfo(f"urn:attack{big}"))
    assert_refused(reply, 413)
    assert_untouched(live_server, alice)
    # Long namespace URIs in scope count too: lxml copies them into the stored value.
    long_uri = "".join(f' xmlns:n{i}="urn:attack:{"u" * 4000}{i}"' for i in range(20))
    body = proppatch("<n0:p>value</n0:p>", long_uri)
    assert_refused(send(live_server, alice, "PROPPATCH", "/dav/file.txt", body), 413)
    assert_untouched(live_server, alice)


def test_ordinary_values_round_trip(live_server: LiveServer, alice: TestUser) -> None:
    structured = '<x:author xmlns:x="urn:meta"><x:name>Ann</x:name><x:tags><x:t>a</x:t></x:tags>'
    structured += "</x:author>"
    no_namespace = '<plain xmlns="">no namespace</plain>'
    body = proppatch(structured + no_namespace)
    assert send(live_server, alice, "PROPPATCH", "/dav/file.txt", body).status == 207
    body = propfind('<x:author/><plain xmlns=""/>', ' xmlns:x="urn:meta"')
    reply = send(live_server, alice, "PROPFIND", "/dav/file.txt", body)
    assert reply.status == 207
    found = ET.fromstring(reply.body)
    author = found.find(".//{urn:meta}author")
    assert author is not None
    assert [el.text for el in author.iter("{urn:meta}t")] == ["a"]
    assert found.findtext(".//{DAV:}prop/plain") == "no namespace"
    lock = send(live_server, alice, "LOCK", "/dav/file.txt", lockinfo("<D:href>ann</D:href>"))
    assert lock.status == 200
    owner = ET.fromstring(lock.body).find(".//{DAV:}owner/{DAV:}href")
    assert owner is not None and owner.text == "ann"


def test_body_over_the_limit_is_413(live_server: LiveServer, alice: TestUser) -> None:
    padded = propfind("<D:getcontentlength/>")
    padded += b" " * (MAX_BODY_BYTES - len(padded))
    assert send(live_server, alice, "PROPFIND", "/dav/file.txt", padded).status == 207
    for method in XML_METHODS:
        # Only the headers: the refusal must not wait for a body it will not read.
        headers = {"Content-Length": str(MAX_BODY_BYTES + 1), "Depth": "0"}
        raw = request_bytes(method, "/dav/file.txt", alice, headers)
        assert_refused(exchange(live_server.port, raw), 413)
        headers = {"Content-Length": str(10 * 1024**3), "Depth": "0"}
        raw = request_bytes(method, "/dav/file.txt", alice, headers)
        assert_refused(exchange(live_server.port, raw), 413)


def test_chunked_body_over_the_limit_is_413(live_server: LiveServer, alice: TestUser) -> None:
    document = propfind("<D:getcontentlength/>")
    document += b" " * (MAX_BODY_BYTES + 1 - len(document))
    headers = {"Transfer-Encoding": "chunked", "Depth": "0"}
    # No last chunk: the server has read everything sent when it refuses.
    raw = request_bytes("PROPFIND", "/dav/file.txt", alice, headers, chunked(document, last=False))
    assert_refused(exchange(live_server.port, raw), 413)


INVALID_BODIES = [
    b"not xml at all",
    b'<D:propfind xmlns:D="DAV:">',
    b'<D:propfind xmlns:D="DAV:"><D:prop></D:propfind>',
    b'<D:propfind xmlns:D="DAV:"><x:p/></D:propfind>',
    b'<D:propfind xmlns:D="DAV:"><D:prop><bar:foo xmlns:bar=""/></D:prop></D:propfind>',
    b'<D:propfind xmlns:D="DAV:">&undeclared;</D:propfind>',
    b'<D:propfind xmlns:D="DAV:">&#0;</D:propfind>',
    b'<D:propfind xmlns:D="DAV:"/><second/>',
    b'<?xml version="1.0" encoding="utf-8"?>\n<D:propfind xmlns:D="DAV:">\xff\xfe</D:propfind>',
    b"   ",
]


def test_invalid_xml_is_400(live_server: LiveServer, alice: TestUser) -> None:
    for method in XML_METHODS:
        for body in INVALID_BODIES:
            reply = send(live_server, alice, method, "/dav/file.txt", body)
            assert_refused(reply, context=(method, body))


def test_content_length_shorter_than_the_body(live_server: LiveServer, alice: TestUser) -> None:
    body = proppatch('<x:p xmlns:x="urn:attack">value</x:p>')
    headers = {"Content-Length": str(len(body) // 2)}
    # The rest reaches the server as a malformed next request, answered on its own.
    raw = request_bytes("PROPPATCH", "/dav/file.txt", alice, headers, body + b"\r\n\r\n")
    reply = exchange(live_server.port, raw)
    assert_refused(reply)
    assert b"well-formed" in reply.body
    assert_untouched(live_server, alice)


def test_content_length_longer_than_the_body(live_server: LiveServer, alice: TestUser) -> None:
    body = proppatch('<x:p xmlns:x="urn:attack">value</x:p>')
    headers = {"Content-Length": str(len(body) + 1000)}
    raw = request_bytes("PROPPATCH", "/dav/file.txt", alice, headers, body)
    reply = exchange(live_server.port, raw, shut_write=True)
    assert_refused(reply)
    assert f"ended after {len(body)} of {len(body) + 1000} bytes".encode() in reply.body
    assert_untouched(live_server, alice)


def test_content_length_and_chunked_together_are_400(
    live_server: LiveServer, alice: TestUser
) -> None:
    framed = chunked(proppatch('<x:p xmlns:x="urn:attack">value</x:p>'), size=40)
    headers = {"Content-Length": str(len(framed)), "Transfer-Encoding": "chunked"}
    raw = request_bytes("PROPPATCH", "/dav/file.txt", alice, headers, framed)
    reply = exchange(live_server.port, raw)
    assert_refused(reply)
    assert b"together" in reply.body
    assert_untouched(live_server, alice)


def test_chunked_xml_bodies_are_parsed_and_checked(
    live_server: LiveServer, alice: TestUser
) -> None:
    def send_chunked(method: str, body: bytes) -> Reply:
        headers = {"Transfer-Encoding": "chunked", "Depth": "0", "Connection": "close"}
        raw = request_bytes(method, "/dav/file.txt", alice, headers, chunked(body, size=16))
        return exchange(live_server.port, raw)

    reply = send_chunked("PROPPATCH", proppatch('<x:p xmlns:x="urn:chunked">stored</x:p>'))
    assert reply.status == 207
    reply = send_chunked("PROPFIND", propfind('<x:p xmlns:x="urn:chunked"/>'))
    assert reply.status == 207
    # Only the property asked for: the chunked body was read, not taken for an allprop.
    assert b"stored" in reply.body and b"getcontentlength" not in reply.body
    assert_refused(
        send_chunked("PROPFIND", with_dtd(BILLION_LAUGHS, body_for("PROPFIND", "&lol9;")))
    )
    xxe = with_dtd('<!ENTITY xxe SYSTEM "file:///etc/passwd">', body_for("PROPPATCH", "&xxe;"))
    assert_refused(send_chunked("PROPPATCH", xxe))
    assert_refused(send_chunked("LOCK", b"<unclosed>"))
    assert send_chunked("PROPFIND", b"").status == 207


def test_bodies_of_other_methods_are_not_xml_checked(
    live_server: LiveServer, alice: TestUser
) -> None:
    content = with_dtd(BILLION_LAUGHS, b'<?xml version="1.0"?>\n<x>&lol9;</x>')
    session = live_server.session(alice)
    assert session.put(live_server.url("/dav/laughs.xml"), data=content).status_code == 201
    assert session.get(live_server.url("/dav/laughs.xml")).content == content


CHUNK_FOLDER = "/remote.php/dav/uploads/alice/encodings/"
NO_CHARSET = "application/xml"


def declaring(method: str, encoding: str, inner: str = "caf\u00e9") -> str:
    """The text of a ``method`` body carrying ``inner`` whose XML declaration names ``encoding``."""
    text = body_for(method, inner).decode("utf-8")
    return text.replace('encoding="utf-8"', f'encoding="{encoding}"', 1)


# (body for a method, Content-Type): bytes that do not match the encoding they claim, or an
# encoding only a codec outside expat would read (it used to drop the connection).
ENCODING_REFUSALS: dict[str, tuple[Callable[[str], bytes], str]] = {
    "utf-16-declared-over-utf-8": (lambda m: declaring(m, "UTF-16").encode(), NO_CHARSET),
    "utf-32-declared": (lambda m: declaring(m, "UTF-32").encode(), NO_CHARSET),
    "multi-byte-codec": (
        lambda m: declaring(m, "Shift_JIS", "\u65e5\u672c").encode("shift_jis"),
        NO_CHARSET,
    ),
    "unknown-encoding": (lambda m: declaring(m, "x-no-such-encoding").encode(), NO_CHARSET),
    "single-byte-codec": (lambda m: declaring(m, "windows-1252").encode("cp1252"), NO_CHARSET),
    "invalid-utf-8": (
        lambda m: declaring(m, "utf-8").encode().replace(b"caf\xc3\xa9", b"caf\xff"),
        NO_CHARSET,
    ),
    "invalid-us-ascii": (lambda m: declaring(m, "US-ASCII").encode(), NO_CHARSET),
    "utf-16-bom-utf-8-declared": (
        lambda m: ("\ufeff" + declaring(m, "utf-8")).encode("utf-16-le"),
        NO_CHARSET,
    ),
    "utf-8-bom-utf-16-declared": (
        lambda m: b"\xef\xbb\xbf" + declaring(m, "UTF-16").encode(),
        NO_CHARSET,
    ),
    "charset-contradicts": (
        lambda m: declaring(m, "utf-8").encode(),
        "application/xml; charset=iso-8859-1",
    ),
    "charset-utf-16-over-utf-8": (
        lambda m: declaring(m, "utf-8").encode(),
        "text/xml; charset=utf-16",
    ),
    "charset-unknown": (lambda m: declaring(m, "utf-8").encode(), "text/xml; charset=x-nope"),
}


@pytest.fixture
def chunk_folder(live_server: LiveServer, alice: TestUser) -> str:
    reply = exchange(
        live_server.port,
        request_bytes("MKCOL", CHUNK_FOLDER, alice, {"Content-Length": "0", "Connection": "close"}),
    )
    assert reply.status == 201
    return CHUNK_FOLDER


@pytest.mark.parametrize("door", [*MOUNTS, "chunks"])
def test_bytes_that_do_not_match_their_encoding_are_400(
    live_server: LiveServer, alice: TestUser, chunk_folder: str, door: str
) -> None:
    where = chunk_folder if door == "chunks" else target(door)
    for method in XML_METHODS:
        for label, (make, content_type) in ENCODING_REFUSALS.items():
            reply = send(live_server, alice, method, where, make(method), content_type=content_type)
            assert_refused(reply, context=(door, method, label))
            assert json.loads(reply.body)["error"]
    assert_untouched(live_server, alice)


ENCODINGS_ACCEPTED: dict[str, tuple[bytes, str]] = {
    "utf-16-bom": (declaring("PROPPATCH", "UTF-16").encode("utf-16"), NO_CHARSET),
    "utf-16-bom-and-charset": (
        declaring("PROPPATCH", "UTF-16").encode("utf-16"),
        "text/xml; charset=UTF-16",
    ),
    "latin-1-and-charset": (
        declaring("PROPPATCH", "ISO-8859-1").encode("latin-1"),
        "application/xml; charset=iso-8859-1",
    ),
    "utf-8-bom-and-charset": (
        b"\xef\xbb\xbf" + declaring("PROPPATCH", "utf-8").encode(),
        'text/xml; charset="utf-8"',
    ),
    "ascii-text-any-ascii-charset": (
        declaring("PROPPATCH", "utf-8", "plain").encode(),
        "application/xml; charset=iso-8859-1",
    ),
}


@pytest.mark.parametrize("label", ENCODINGS_ACCEPTED)
def test_bodies_in_the_encodings_both_parsers_read_are_accepted(
    live_server: LiveServer, alice: TestUser, label: str
) -> None:
    body, content_type = ENCODINGS_ACCEPTED[label]
    reply = send(live_server, alice, "PROPPATCH", "/dav/file.txt", body, content_type=content_type)
    assert reply.status == 207, reply.body[:300]
    reply = send(
        live_server, alice, "PROPFIND", "/dav/file.txt", propfind('<x:note xmlns:x="urn:test"/>')
    )
    note = ET.fromstring(reply.body).findtext(".//{urn:test}note")
    assert note == ("plain" if label.startswith("ascii") else "caf\u00e9")


def test_refusals_do_no_database_work(in_process_server: LiveServer) -> None:
    """An XML refusal is decided from the body alone: no SQL statement, no connection taken
    from the pool, on SQLite and PostgreSQL alike (the stable figure instead of a time)."""
    user = in_process_server.add_user("alice", "alice-pw")
    engine = in_process_server.services.db.engine
    work = {"statements": 0, "checkouts": 0}

    def statement(*_args: object) -> None:
        work["statements"] += 1

    def checkout(*_args: object) -> None:
        work["checkouts"] += 1

    event.listen(engine, "before_cursor_execute", statement)
    event.listen(engine.pool, "checkout", checkout)
    try:
        for method in XML_METHODS:
            for body in INVALID_BODIES:
                assert_refused(send(in_process_server, user, method, "/dav/x", body))
            for make, content_type in ENCODING_REFUSALS.values():
                body = make(method)
                reply = send(
                    in_process_server, user, method, "/dav/x", body, content_type=content_type
                )
                assert_refused(reply)
            laughs = with_dtd(BILLION_LAUGHS, body_for(method, "&lol9;"))
            assert_refused(send(in_process_server, user, method, "/dav/x", laughs))
    finally:
        event.remove(engine, "before_cursor_execute", statement)
        event.remove(engine.pool, "checkout", checkout)
    assert work == {"statements": 0, "checkouts": 0}
