"""PROPPATCH on both doors (``/dav/`` and an edit link's public WebDAV): a time outside
1970 … 9999 (or not a number at all) is refused before anything is kept, and a PROPPATCH is
all or nothing: when one change fails, none is applied."""

from __future__ import annotations

from xml.etree import ElementTree

import pytest
import requests

from davfiles.errors import PermissionDenied
from davfiles.store import parse_user_path as p
from davfiles.store.store import MAX_DEAD_PROPERTIES
from tests.harness import LiveServer, TestUser
from tests.links.helpers import make_link
from tests.links.test_public_webdav_edit import prepared

BAD_TIMES = ["nan", "inf", "-inf", "1e12", "-5", "253402300800"]


def _patch(time_text: str, extra: str = "") -> bytes:
    return (
        '<d:propertyupdate xmlns:d="DAV:" xmlns:z="urn:x-test:"><d:set><d:prop>'
        f"{extra}<d:getlastmodified>{time_text}</d:getlastmodified>"
        "</d:prop></d:set></d:propertyupdate>"
    ).encode()


def _statuses(body: bytes) -> dict[str, str]:
    """Each property's status in a PROPPATCH's multistatus answer."""
    found: dict[str, str] = {}
    for propstat in ElementTree.fromstring(body).iter("{DAV:}propstat"):
        status = propstat.findtext("{DAV:}status", "")
        for prop in propstat.iterfind("{DAV:}prop/*"):
            found[prop.tag] = status
    return found


def _doors(server: LiveServer, user: TestUser) -> list[tuple[requests.Session, str]]:
    """(session, URL of team/doc.txt) through /dav/ and through an edit link."""
    link = make_link(server, user, "team", "edit")
    return [
        (server.session(user), server.url("/dav/team/doc.txt")),
        (requests.Session(), server.url(f"/public.php/dav/files/{link.token}/doc.txt")),
    ]


@pytest.mark.parametrize("time_text", BAD_TIMES)
def test_a_time_out_of_range_is_refused_on_both_doors(
    live_server: LiveServer, time_text: str
) -> None:
    alice = prepared(live_server)
    store = live_server.services.store
    before = store.stat(alice.owner, p("team/doc.txt"))
    assert before is not None
    for session, url in _doors(live_server, alice):
        body = _patch(time_text, "<z:note>kept?</z:note>")
        answer = session.request("PROPPATCH", url, data=body, timeout=30)
        assert answer.status_code == 207, (url, answer.text)
        assert b"400 Bad Request" in answer.content and b"424 Failed Dependency" in answer.content
        after = store.stat(alice.owner, p("team/doc.txt"))
        assert after is not None and after.modified_at == before.modified_at
        assert store.dead_properties(alice.owner, p("team/doc.txt")) == {}
        listed = session.request("PROPFIND", url, headers={"Depth": "0"}, timeout=30)
        assert listed.status_code == 207, listed.text


def test_the_last_second_of_9999_is_a_time(live_server: LiveServer) -> None:
    alice = prepared(live_server)
    store = live_server.services.store
    for session, url in _doors(live_server, alice):
        answer = session.request("PROPPATCH", url, data=_patch("253402300799"), timeout=30)
        assert answer.status_code == 207 and b"200 OK" in answer.content, answer.text
        info = store.stat(alice.owner, p("team/doc.txt"))
        assert info is not None and info.modified_at == 253402300799
        listed = session.request("PROPFIND", url, headers={"Depth": "0"}, timeout=30)
        assert listed.status_code == 207 and b"9999" in listed.content


def test_an_x_oc_mtime_out_of_range_is_refused(live_server: LiveServer) -> None:
    alice = prepared(live_server)
    dav = live_server.session(alice)
    for value in ("nan", "1e12", "-5"):
        put = dav.put(
            live_server.url("/dav/team/doc.txt"), data=b"v2", headers={"X-OC-Mtime": value}
        )
        assert put.status_code == 400, (value, put.text)


def test_a_link_proppatch_that_fails_in_the_store_applies_nothing(live_server: LiveServer) -> None:
    alice = prepared(live_server)
    store = live_server.services.store
    link = make_link(live_server, alice, "team", "edit")
    url = live_server.url(f"/public.php/dav/files/{link.token}/doc.txt")
    before = store.stat(alice.owner, p("team/doc.txt"))
    assert before is not None
    # A file two properties short of the most it may hold: a PROPPATCH adding three with a
    # time fails at the third in the store, and neither the first two nor the time are kept.
    path = p("team/doc.txt")
    for i in range(MAX_DEAD_PROPERTIES - 2):
        store.set_dead_property(alice.owner, path, f"{{urn:x-test:}}old{i}", b"<old/>")
    three = "".join(f"<z:p{i}>v</z:p{i}>" for i in range(3))
    answer = requests.request("PROPPATCH", url, data=_patch("1600000000", three), timeout=30)
    # As the main door answers it: a multistatus, the properties the store refused 403
    # and the time, refused with them, 424.
    assert answer.status_code == 207, answer.text
    assert _statuses(answer.content) == {
        **{f"{{urn:x-test:}}p{i}": "HTTP/1.1 403 Forbidden" for i in range(3)},
        "{DAV:}getlastmodified": "HTTP/1.1 424 Failed Dependency",
    }
    assert len(store.dead_properties(alice.owner, path)) == MAX_DEAD_PROPERTIES - 2
    after = store.stat(alice.owner, path)
    assert after is not None and after.modified_at == before.modified_at
    # Two fit: both are kept, with the time.
    two = "".join(f"<z:p{i}>v</z:p{i}>" for i in range(2))
    answer = requests.request("PROPPATCH", url, data=_patch("1600000000", two), timeout=30)
    assert answer.status_code == 207 and b"200 OK" in answer.content, answer.text
    assert len(store.dead_properties(alice.owner, path)) == MAX_DEAD_PROPERTIES
    after = store.stat(alice.owner, path)
    assert after is not None and after.modified_at == 1600000000


def test_only_an_edit_visit_may_patch_properties(live_server: LiveServer) -> None:
    alice = prepared(live_server)
    links = live_server.services.store.links
    view = links.open(make_link(live_server, alice, "team", "view").token)
    with pytest.raises(PermissionDenied):
        links.edit_proppatch(view, "doc.txt", {"{urn:x-test:}note": b"<note/>"}, 1600000000)
    assert live_server.services.store.dead_properties(alice.owner, p("team/doc.txt")) == {}
