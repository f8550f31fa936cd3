"""Request sequences of clients that cannot run here: Windows Explorer, macOS Finder, KDE,
Microsoft Office and the safe saves of Word, LibreOffice and macOS apps, written from their
documented behaviour (see shared/CLIENTS.md)."""

from __future__ import annotations

import http.client
import xml.etree.ElementTree as ET

import requests
from requests.auth import HTTPDigestAuth

from davfiles.store import parse_user_path
from tests.dav.helpers import LOCK_BODY, propfind
from tests.harness import LiveServer, TestUser

WIN32_PROPPATCH = """<?xml version="1.0" encoding="utf-8" ?>
<D:propertyupdate xmlns:D="DAV:" xmlns:Z="urn:schemas-microsoft-com:"><D:set><D:prop>
<Z:Win32CreationTime>Mon, 01 Jan 2024 10:00:00 GMT</Z:Win32CreationTime>
<Z:Win32LastAccessTime>Tue, 02 Jan 2024 10:00:00 GMT</Z:Win32LastAccessTime>
<Z:Win32LastModifiedTime>Wed, 03 Jan 2024 10:00:00 GMT</Z:Win32LastModifiedTime>
<Z:Win32FileAttributes>00000020</Z:Win32FileAttributes>
</D:prop></D:set></D:propertyupdate>"""
MINIREDIR = {"User-Agent": "Microsoft-WebDAV-MiniRedir/10.0.19045"}


def statuses(response: requests.Response) -> list[str]:
    root = ET.fromstring(response.content)
    return [node.text or "" for node in root.iter("{DAV:}status")]


def test_windows_explorer_session(live_server: LiveServer) -> None:
    live_server.add_user("winuser", "win-pw")
    digest = HTTPDigestAuth("winuser", "win-pw")
    anonymous = requests.options(live_server.url("/dav/"), headers=MINIREDIR)
    assert anonymous.status_code == 200
    assert "2" in anonymous.headers["DAV"]
    assert anonymous.headers["MS-Author-Via"] == "DAV"
    session = requests.Session()
    session.auth = digest
    session.headers.update(MINIREDIR)
    assert session.request("MKCOL", live_server.url("/dav/New folder")).status_code == 201
    no_slash = session.request(
        "PROPFIND",
        live_server.url("/dav/New folder"),
        headers={"Depth": "0"},
        allow_redirects=False,
    )
    assert no_slash.status_code == 207
    assert session.get(live_server.url("/dav/New folder"), allow_redirects=False).status_code == 200
    url = live_server.url("/dav/New folder/report.docx")
    assert session.put(url, data=b"first").status_code == 201
    patched = session.request("PROPPATCH", url, data=WIN32_PROPPATCH)
    assert patched.status_code == 207
    assert statuses(patched) and all(" 200 " in status for status in statuses(patched))
    props = propfind(session, url, props=("getlastmodified",))
    assert props["/dav/New%20folder/report.docx"]["getlastmodified"] == (
        "Wed, 03 Jan 2024 10:00:00 GMT"
    )
    assert session.put(url, data=b"replaced").status_code == 204
    session.put(live_server.url("/dav/New folder/other.docx"), data=b"other")
    renamed = session.request(
        "MOVE",
        live_server.url("/dav/New folder/other.docx"),
        headers={"Destination": url, "Overwrite": "T"},
    )
    assert renamed.status_code == 204
    assert session.get(url).content == b"other"
    assert session.delete(live_server.url("/dav/New folder")).status_code == 204


def test_macos_finder_chunked_put_with_expected_length(live_server: LiveServer) -> None:
    user = live_server.add_user("macuser", "mac-pw", max_bytes=10_000)
    session = live_server.session(user)
    options = session.options(live_server.url("/dav/"))
    assert "2" in options.headers["DAV"]

    def finder_put(path: str, chunks: list[bytes], expected: int) -> int:
        connection = http.client.HTTPConnection("127.0.0.1", live_server.port, timeout=30)
        connection.putrequest("PUT", path)
        connection.putheader("Authorization", requests.auth._basic_auth_str(*user.auth))
        connection.putheader("Transfer-Encoding", "chunked")
        connection.putheader("X-Expected-Entity-Length", str(expected))
        connection.putheader("User-Agent", "WebDAVFS/3.0.0 (03008000) Darwin/22.1.0")
        connection.endheaders()
        for chunk in chunks:
            connection.send(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        connection.send(b"0\r\n\r\n")
        status = connection.getresponse().status
        connection.close()
        return status

    assert finder_put("/dav/photo.jpg", [b"a" * 3000, b"b" * 3000], 6000) == 201
    assert session.get(live_server.url("/dav/photo.jpg")).content == b"a" * 3000 + b"b" * 3000
    assert finder_put("/dav/huge.mov", [b"c" * 100], 50_000) == 507
    assert session.get(live_server.url("/dav/huge.mov")).status_code == 404
    for name in ("._photo.jpg", ".DS_Store"):
        assert (
            session.put(live_server.url(f"/dav/{name}"), data=b"\x00\x05\x16\x07").status_code
            == 201
        )
        assert session.get(live_server.url(f"/dav/{name}")).content == b"\x00\x05\x16\x07"
    locked = session.request("LOCK", live_server.url("/dav/photo.jpg"), data=LOCK_BODY)
    assert locked.status_code == 200
    token = locked.headers["Lock-Token"]
    assert (
        session.request(
            "UNLOCK", live_server.url("/dav/photo.jpg"), headers={"Lock-Token": token}
        ).status_code
        == 204
    )
    listing = propfind(
        session,
        live_server.url("/dav/"),
        depth="1",
        props=("quota-available-bytes", "quota-used-bytes"),
    )
    assert listing["/dav/"]["quota-used-bytes"] == "6008"


def test_kde_gets_a_challenge_not_a_refusal(live_server: LiveServer) -> None:
    user = live_server.add_user("kdeuser", "kde-pw")
    live_server.session(user).put(live_server.url("/dav/keep.txt"), data=b"keep")
    for method in ("DELETE", "PUT", "MKCOL", "PROPFIND", "MOVE", "GET"):
        response = requests.request(method, live_server.url("/dav/keep.txt"))
        assert response.status_code == 401, method
        assert "WWW-Authenticate" in response.headers
    assert live_server.session(user).get(live_server.url("/dav/keep.txt")).content == b"keep"


def test_office_lock_token_in_lock_token_header(live_server: LiveServer) -> None:
    user = live_server.add_user("office", "office-pw")
    session = live_server.session(user)
    url = live_server.url("/dav/budget.xlsx")
    session.put(url, data=b"v1")
    locked = session.request("LOCK", url, data=LOCK_BODY, headers={"Timeout": "Second-3600"})
    assert locked.status_code == 200
    token = locked.headers["Lock-Token"]
    assert session.put(url, data=b"no token").status_code == 423
    assert session.put(url, data=b"v2", headers={"Lock-Token": token}).status_code == 204
    assert session.put(url, data=b"v3", headers={"If": f"({token})"}).status_code == 204
    assert session.get(url).content == b"v3"
    unlocked = session.request("UNLOCK", url, headers={"Lock-Token": token})
    assert unlocked.status_code == 204


def test_davfs2_lock_creates_an_empty_locked_file(live_server: LiveServer) -> None:
    user = live_server.add_user("davfs", "davfs-pw")
    session = live_server.session(user)
    url = live_server.url("/dav/new-file.txt")
    locked = session.request("LOCK", url, data=LOCK_BODY)
    assert locked.status_code == 201
    assert session.get(url).content == b""
    assert (
        session.put(
            url, data=b"content", headers={"If": f"({locked.headers['Lock-Token']})"}
        ).status_code
        == 204
    )


def saved_versions(live_server: LiveServer, user: TestUser, file_id: int) -> list[bytes]:
    """A file's versions as Nextcloud's versions WebDAV serves them, newest first."""
    session = live_server.session(user)
    url = live_server.url(f"/remote.php/dav/versions/{user.name}/versions/{file_id}")
    answer = session.request("PROPFIND", url, headers={"Depth": "1"})
    assert answer.status_code == 207
    hrefs = [node.text or "" for node in ET.fromstring(answer.content).iter("{DAV:}href")]
    newest_first = sorted(hrefs[1:], key=lambda href: -int(href.rsplit("/", 1)[1]))
    return [session.get(live_server.url(href)).content for href in newest_first]


def test_a_word_save_keeps_the_documents_id_and_previous_content(
    live_server: LiveServer,
) -> None:
    """Word through the mini-redirector: its owner file, the new content to ~WRD0000.tmp, the
    locked document renamed to ~WRL0001.tmp, the new content renamed into place, the old one
    deleted, the document locked again."""
    user = live_server.add_user("word", "word-pw")
    session = live_server.session(user)
    session.headers.update(MINIREDIR)

    def dav(name: str) -> str:
        return live_server.url(f"/dav/Reports/{name}")

    assert session.request("MKCOL", live_server.url("/dav/Reports")).status_code == 201
    assert session.put(dav("report.docx"), data=b"version one").status_code == 201
    [original] = live_server.services.store.list_files(user.owner)
    assert session.put(dav("~$report.docx"), data=b"owner: word").status_code == 201
    locked = session.request("LOCK", dav("report.docx"), data=LOCK_BODY)
    assert locked.status_code == 200
    token = locked.headers["Lock-Token"]
    assert session.put(dav("~WRD0000.tmp"), data=b"version two").status_code == 201
    away = session.request(
        "MOVE",
        dav("report.docx"),
        headers={"Destination": dav("~WRL0001.tmp"), "Overwrite": "F", "If": f"({token})"},
    )
    assert away.status_code == 201
    back = session.request(
        "MOVE", dav("~WRD0000.tmp"), headers={"Destination": dav("report.docx"), "Overwrite": "F"}
    )
    assert back.status_code == 201
    assert back.headers["OC-FileId"] == str(original.id)
    assert session.delete(dav("~WRL0001.tmp")).status_code == 204
    relocked = session.request("LOCK", dav("report.docx"), data=LOCK_BODY)
    assert relocked.status_code == 200
    unlock = {"Lock-Token": relocked.headers["Lock-Token"]}
    assert session.request("UNLOCK", dav("report.docx"), headers=unlock).status_code == 204
    assert session.delete(dav("~$report.docx")).status_code == 204

    assert session.get(dav("report.docx")).content == b"version two"
    store = live_server.services.store
    [document] = store.list_files(user.owner)
    assert (document.path.text, document.id) == ("Reports/report.docx", original.id)
    assert saved_versions(live_server, user, original.id) == [b"version one"]
    assert store.trash_list(user.owner) == []
    assert store.fsck(hashes=True).findings == []


def test_libreoffice_and_finder_saves_replace_the_documents_content(
    live_server: LiveServer,
) -> None:
    """LibreOffice (through gvfs or davfs2) writes lu*.tmp beside the document and renames it
    over it, with its .~lock file around; a macOS app (TextEdit through Finder's WebDAV) writes
    into .TemporaryItems and renames the new content over the document."""
    user = live_server.add_user("writer", "writer-pw")
    session = live_server.session(user)
    store = live_server.services.store

    def dav(path: str) -> str:
        return live_server.url(f"/dav/{path}")

    def replace_by_move(temporary: str, document: str) -> requests.Response:
        return session.request(
            "MOVE", dav(temporary), headers={"Destination": dav(document), "Overwrite": "T"}
        )

    assert session.put(dav("notes.odt"), data=b"odt one").status_code == 201
    assert session.put(dav("diary.txt"), data=b"txt one").status_code == 201
    odt = store.stat(user.owner, parse_user_path("/notes.odt"))
    txt = store.stat(user.owner, parse_user_path("/diary.txt"))
    assert odt is not None and txt is not None

    assert session.put(dav(".~lock.notes.odt%23"), data=b",writer,host,").status_code == 201
    assert session.put(dav("lu1q2w3e.tmp"), data=b"odt two").status_code == 201
    moved = replace_by_move("lu1q2w3e.tmp", "notes.odt")
    assert (moved.status_code, moved.headers["OC-FileId"]) == (204, str(odt.id))
    assert session.delete(dav(".~lock.notes.odt%23")).status_code == 204

    assert session.request("MKCOL", dav(".TemporaryItems")).status_code == 201
    temporary = ".TemporaryItems/(A Document Being Saved By TextEdit)"
    assert session.request("MKCOL", dav(temporary)).status_code == 201
    assert session.put(dav(f"{temporary}/diary.txt"), data=b"txt two").status_code == 201
    moved = replace_by_move(f"{temporary}/diary.txt", "diary.txt")
    assert (moved.status_code, moved.headers["OC-FileId"]) == (204, str(txt.id))
    assert session.delete(dav(temporary)).status_code == 204

    assert session.get(dav("notes.odt")).content == b"odt two"
    assert session.get(dav("diary.txt")).content == b"txt two"
    assert saved_versions(live_server, user, odt.id) == [b"odt one"]
    assert saved_versions(live_server, user, txt.id) == [b"txt one"]
    # Only the emptied folder of the macOS save went to the trash.
    assert [entry.name for entry in store.trash_list(user.owner)] == [
        "(A Document Being Saved By TextEdit)"
    ]
    assert store.fsck(hashes=True).findings == []
