"""The streamed PROPFIND answers exactly what WsgiDAV's own handler answers, at a fixed SQL cost.

A conditional header sends the same request through WsgiDAV's do_PROPFIND, so every case is
compared with the reference on the same server and data: per href, the set of
(property, value, status).
"""

from __future__ import annotations

import http.client
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator

import pytest
import requests
from sqlalchemy import event

from davfiles.store import parse_user_path
from tests.dav.helpers import LOCK_BODY
from tests.harness import LiveServer, TestUser
from tests.security.rawhttp import basic

# Passes for every resource, and makes davfiles leave the request to WsgiDAV.
FALLBACK = {"If-None-Match": '"no-such-etag"'}
NAMES = ("plain.txt", "with space.txt", "ünïcødé €.bin", "100%.txt", "hash#tag.txt", "a&b'(q).txt")
FOLDERS = ("sub dir", "sub#2 ü")
OC = "http://owncloud.org/ns"
PROPPATCH = (
    '<?xml version="1.0" encoding="utf-8"?>'
    f'<D:propertyupdate xmlns:D="DAV:" xmlns:Z="http://example.com/z" xmlns:oc="{OC}">'
    "<D:set><D:prop>"
    "<Z:color>blue &amp; grün</Z:color>"
    '<Z:nested><Z:a x="1">one</Z:a><Z:b/></Z:nested>'
    "<oc:favorite>1</oc:favorite>"
    "</D:prop></D:set></D:propertyupdate>"
)

ALLPROP = '<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:allprop/></D:propfind>'
ALLPROP_INCLUDE = (
    '<?xml version="1.0"?><D:propfind xmlns:D="DAV:" xmlns:Z="http://example.com/z">'
    "<D:allprop/><D:include><Z:color/></D:include></D:propfind>"
)
# WsgiDAV 4.4 lists names for <D:name/>, and answers <D:propname/> (RFC 4918) with bare hrefs.
NAME = '<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:name/></D:propfind>'
PROPNAME = '<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:propname/></D:propfind>'
NAMED_DAV = (
    "getetag",
    "displayname",
    "resourcetype",
    "getcontentlength",
    "getcontenttype",
    "getlastmodified",
    "creationdate",
    "quota-used-bytes",
    "quota-available-bytes",
    "lockdiscovery",
    "supportedlock",
    "getcontentlanguage",
    "no-such-dav-prop",
)
NAMED_OTHER = (
    (OC, "fileid"),
    (OC, "id"),
    (OC, "permissions"),
    (OC, "size"),
    (OC, "checksums"),
    (OC, "favorite"),
    (OC, "no-such-oc-prop"),
    ("http://example.com/z", "color"),
    ("http://example.com/z", "nested"),
    ("http://example.com/unknown", "nope"),
)


def named(
    *, dav: tuple[str, ...] = NAMED_DAV, other: tuple[tuple[str, str], ...] = NAMED_OTHER
) -> str:
    inner = "".join(f"<D:{name}/>" for name in dav)
    inner += "".join(f'<X:{local} xmlns:X="{ns}"/>' for ns, local in other)
    return f'<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:prop>{inner}</D:prop></D:propfind>'


BODIES = {
    "empty": "",
    "allprop": ALLPROP,
    "allprop-include": ALLPROP_INCLUDE,
    "name": NAME,
    "propname": PROPNAME,
    "named": named(),
    "named-dav": named(other=()),
    "named-dead": named(dav=(), other=NAMED_OTHER[5:]),
    "empty-propfind": '<?xml version="1.0"?><D:propfind xmlns:D="DAV:"/>',
}

Property = tuple[str, object, str]


def _canonical(element: ET.Element) -> object:
    """An element as nested tuples; lock timeouts count down, so their seconds are dropped."""
    text = (element.text or "").strip()
    if element.tag == "{DAV:}timeout":
        text = re.sub(r"\d+", "N", text)
    attributes = tuple(sorted(element.attrib.items()))
    return (element.tag, text, attributes, tuple(_canonical(child) for child in element))


def parse_multistatus(content: bytes) -> dict[str, set[Property]]:
    """{href: {(property, canonical value, status)}} of a multistatus body."""
    root = ET.fromstring(content)
    assert root.tag == "{DAV:}multistatus"
    result: dict[str, set[Property]] = {}
    for response in root.findall("{DAV:}response"):
        href = response.findtext("{DAV:}href") or ""
        assert href not in result, f"{href} listed twice"
        found: set[Property] = set()
        for propstat in response.findall("{DAV:}propstat"):
            status = propstat.findtext("{DAV:}status") or ""
            prop = propstat.find("{DAV:}prop")
            assert prop is not None
            for child in prop:
                found.add((child.tag, _canonical(child), status))
        result[href] = found
    return result


@pytest.fixture
def tree(live_server: LiveServer) -> Iterator[tuple[LiveServer, TestUser, requests.Session]]:
    """A folder with files, subfolders, dead properties and locks, names that need quoting."""
    user = live_server.add_user("streamer", max_bytes=10**9)
    session = live_server.session(user)
    store, owner = live_server.services.store, user.owner
    store.mkdir(owner, parse_user_path("stuff"))
    for index, name in enumerate(NAMES):
        store.write_bytes(owner, parse_user_path(f"stuff/{name}"), b"x" * (index + 1))
    for folder in FOLDERS:
        store.mkdir(owner, parse_user_path(f"stuff/{folder}"))
        store.write_bytes(owner, parse_user_path(f"stuff/{folder}/inner.txt"), b"inner")
    base = live_server.url("/dav/stuff/")
    for target in ("", "with%20space.txt", "sub%20dir/", "100%25.txt"):
        response = session.request("PROPPATCH", base + target, data=PROPPATCH.encode())
        assert response.status_code == 207, response.text
    for target in ("plain.txt", "sub%232%20%C3%BC/"):
        assert session.request("LOCK", base + target, data=LOCK_BODY).status_code == 200
    yield live_server, user, session
    session.close()


def _both(
    session: requests.Session, url: str, body: str, depth: str
) -> tuple[requests.Response, requests.Response]:
    headers = {"Depth": depth, "Content-Type": "application/xml"}
    streamed = session.request("PROPFIND", url, data=body.encode(), headers=headers)
    reference = session.request(
        "PROPFIND", url, data=body.encode(), headers={**headers, **FALLBACK}
    )
    return streamed, reference


def _assert_same(streamed: requests.Response, reference: requests.Response) -> None:
    assert reference.status_code == 207, reference.text
    assert streamed.status_code == 207, streamed.text
    # The reference is WsgiDAV's buffered answer, the other one the stream.
    assert "Content-Length" in reference.headers
    assert streamed.headers.get("Transfer-Encoding") == "chunked"
    assert streamed.headers["Content-Type"] == reference.headers["Content-Type"]
    assert parse_multistatus(streamed.content) == parse_multistatus(reference.content)


@pytest.mark.parametrize("body", sorted(BODIES))
@pytest.mark.parametrize("depth", ["0", "1"])
def test_folder_as_wsgidav_answers(
    tree: tuple[LiveServer, TestUser, requests.Session], body: str, depth: str
) -> None:
    server, _user, session = tree
    streamed, reference = _both(session, server.url("/dav/stuff/"), BODIES[body], depth)
    _assert_same(streamed, reference)
    hrefs = set(parse_multistatus(streamed.content))
    assert len(hrefs) == (1 if depth == "0" else 1 + len(NAMES) + len(FOLDERS))


@pytest.mark.parametrize(
    "path",
    [
        "/dav/",
        "/dav/stuff",
        "/dav/stuff/plain.txt",
        "/dav/stuff/100%25.txt",
        "/dav/stuff/sub%232%20%C3%BC/",
        "/remote.php/webdav/stuff/",
        "/remote.php/dav/files/streamer/stuff/",
        "/remote.php/dav/files/streamer/",
    ],
)
@pytest.mark.parametrize("body", ["allprop", "name", "named"])
def test_every_mount_as_wsgidav_answers(
    tree: tuple[LiveServer, TestUser, requests.Session], path: str, body: str
) -> None:
    server, _user, session = tree
    for depth in ("0", "1"):
        streamed, reference = _both(session, server.url(path), BODIES[body], depth)
        _assert_same(streamed, reference)


def test_listing_shows_locks_dead_properties_and_quoted_names(
    tree: tuple[LiveServer, TestUser, requests.Session],
) -> None:
    """The comparison above must have had something to compare."""
    server, _user, session = tree
    streamed, _reference = _both(session, server.url("/dav/stuff/"), ALLPROP, "1")
    listing = parse_multistatus(streamed.content)
    assert "/dav/stuff/100%25.txt" in listing
    assert "/dav/stuff/hash%23tag.txt" in listing
    assert "/dav/stuff/%C3%BCn%C3%AFc%C3%B8d%C3%A9%20%E2%82%AC.bin" in listing
    assert "/dav/stuff/sub%232%20%C3%BC/" in listing
    tags = {(href, tag) for href, props in listing.items() for tag, _value, _status in props}
    assert ("/dav/stuff/with%20space.txt", "{http://example.com/z}nested") in tags
    locked = [
        href
        for href, props in listing.items()
        for tag, value, _status in props
        if tag == "{DAV:}lockdiscovery" and value[3]  # type: ignore[index]
    ]
    assert sorted(locked) == ["/dav/stuff/plain.txt", "/dav/stuff/sub%232%20%C3%BC/"]


def test_requests_left_to_wsgidav(tree: tuple[LiveServer, TestUser, requests.Session]) -> None:
    """Depth infinity, bodies WsgiDAV refuses and unknown paths get WsgiDAV's answers."""
    server, _user, session = tree
    url = server.url("/dav/stuff/")
    assert session.request("PROPFIND", url, headers={"Depth": "infinity"}).status_code == 403
    assert session.request("PROPFIND", url, headers={"Depth": "2"}).status_code == 400
    bad = '<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:allprop/><D:name/></D:propfind>'
    assert session.request("PROPFIND", url, data=bad, headers={"Depth": "1"}).status_code == 400
    other = '<?xml version="1.0"?><D:lockinfo xmlns:D="DAV:"/>'
    assert session.request("PROPFIND", url, data=other, headers={"Depth": "1"}).status_code == 400
    missing = server.url("/dav/stuff/missing.txt")
    assert session.request("PROPFIND", missing, headers={"Depth": "0"}).status_code == 404
    foreign = server.url("/remote.php/dav/files/someone-else/")
    assert session.request("PROPFIND", foreign, headers={"Depth": "0"}).status_code == 403


def _selects(server: LiveServer, session: requests.Session, url: str) -> int:
    engine = server.services.db.engine
    statements: list[str] = []

    def record(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            statements.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        response = session.request("PROPFIND", url, data=ALLPROP.encode(), headers={"Depth": "1"})
        assert response.status_code == 207
    finally:
        event.remove(engine, "before_cursor_execute", record)
    return len(statements)


def test_listing_costs_a_fixed_number_of_statements(in_process_server: LiveServer) -> None:
    server = in_process_server
    user = server.add_user("counter", max_bytes=10**9)
    store, owner = server.services.store, user.owner
    for folder, files in (("small", 10), ("large", 1000)):
        store.mkdir(owner, parse_user_path(folder))
        for index in range(files):
            store.write_bytes(owner, parse_user_path(f"{folder}/f{index:04}.txt"), b"data")
    session = server.session(user)
    # Once for the credential cache.
    assert session.request("PROPFIND", server.url("/dav/"), headers={"Depth": "0"}).ok
    small = _selects(server, session, server.url("/dav/small/"))
    large = _selects(server, session, server.url("/dav/large/"))
    # Authentication, the folder, its listing, dead properties, locks and quota.
    assert large == small
    assert small <= 10


def test_a_streamed_listing_keeps_the_connection_open(
    tree: tuple[LiveServer, TestUser, requests.Session],
) -> None:
    server, user, _session = tree
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    headers = {"Authorization": basic(user), "Depth": "1"}
    try:
        for _ in range(2):
            connection.request("PROPFIND", "/dav/", headers=headers)
            response = connection.getresponse()
            body = response.read()
            assert response.status == 207
            assert response.getheader("Transfer-Encoding") == "chunked"
            assert response.getheader("Connection") is None
            assert b"</D:multistatus>" in body
        # Both answers came over the one connection the client opened.
        assert connection.sock is not None
    finally:
        connection.close()
