"""Folder ETags and sizes follow every change below the folder, through every door.

Nextcloud's and ownCloud's sync clients list only folders whose ETag changed since the last
sync, so a change at any depth must change the ETag of every folder above it (and no other),
and ``oc:size`` of a folder is the total below it. A file's ETag and id survive a MOVE.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, replace
from urllib.parse import quote

import requests
from sqlalchemy import event

from davfiles.store import parse_user_path
from tests.harness import LiveServer, TestUser
from tests.rest.conftest import make_rest_user
from tests.security.rawhttp import basic, exchange

OC = "{http://owncloud.org/ns}"
PROPS = (
    '<?xml version="1.0"?><d:propfind xmlns:d="DAV:" xmlns:oc="http://owncloud.org/ns">'
    "<d:prop><d:getetag/><oc:id/><oc:size/><oc:permissions/></d:prop></d:propfind>"
)
FOLDERS = ("", "a", "a/b", "a/b/c", "a/b/c/d", "x", "x/y", "z")


@dataclass(frozen=True)
class Entry:
    etag: str
    id: str
    size: int
    permissions: str


def entry(session: requests.Session, url: str) -> Entry:
    response = session.request("PROPFIND", url, data=PROPS, headers={"Depth": "0"})
    assert response.status_code == 207, response.text
    found = ET.fromstring(response.content).find("{DAV:}response")
    assert found is not None
    return Entry(
        etag=found.findtext(".//{DAV:}getetag") or "",
        id=found.findtext(f".//{OC}id") or "",
        size=int(found.findtext(f".//{OC}size") or "-1"),
        permissions=found.findtext(f".//{OC}permissions") or "",
    )


class Tree:
    """A user's home seen over WebDAV at the Nextcloud path."""

    def __init__(self, server: LiveServer, user: TestUser) -> None:
        self.server = server
        self.session = server.session(user)
        self.base = f"/remote.php/dav/files/{user.name}/"

    def url(self, path: str) -> str:
        return self.server.url(self.base + quote(path))

    def folders(self, *paths: str) -> dict[str, Entry]:
        return {path: entry(self.session, self.url(path + "/" if path else "")) for path in paths}

    def mkdirs(self, *paths: str) -> None:
        for path in paths:
            assert self.session.request("MKCOL", self.url(path)).status_code == 201, path

    def put(self, path: str, data: bytes) -> requests.Response:
        response = self.session.put(self.url(path), data=data)
        assert response.status_code in (201, 204), response.text
        return response

    def move(self, source: str, target: str) -> requests.Response:
        destination = self.base + quote(target)
        return self.session.request("MOVE", self.url(source), headers={"Destination": destination})


def changed(before: dict[str, Entry], after: dict[str, Entry]) -> set[str]:
    return {path for path in before if before[path].etag != after[path].etag}


def make_tree(server: LiveServer, name: str = "alice") -> Tree:
    tree = Tree(server, server.add_user(name))
    tree.mkdirs(*FOLDERS[1:])
    tree.put("z/keep.txt", b"sentinel")
    return tree


def test_a_deep_write_changes_every_folder_above_and_no_other(live_server: LiveServer) -> None:
    tree = make_tree(live_server)
    before = tree.folders(*FOLDERS)
    assert all(
        value.etag and value.id and value.permissions == "RDNVCK" for value in before.values()
    )
    assert before[""].size == before["z"].size == 8
    tree.put("a/b/c/d/deep.bin", b"d" * 100)
    after = tree.folders(*FOLDERS)
    assert changed(before, after) == {"", "a", "a/b", "a/b/c", "a/b/c/d"}
    assert [after[path].size for path in FOLDERS] == [108, 100, 100, 100, 100, 0, 0, 8]
    assert {path: value.id for path, value in after.items()} == {
        path: value.id for path, value in before.items()
    }
    tree.put("a/b/c/d/deep.bin", b"d" * 40)
    again = tree.folders(*FOLDERS)
    assert changed(after, again) == {"", "a", "a/b", "a/b/c", "a/b/c/d"}
    assert again["a/b"].size == 40
    assert tree.session.delete(tree.url("a/b/c/d/deep.bin")).status_code == 204
    emptied = tree.folders(*FOLDERS)
    assert changed(again, emptied) == {"", "a", "a/b", "a/b/c", "a/b/c/d"}
    assert [emptied[path].size for path in FOLDERS] == [8, 0, 0, 0, 0, 0, 0, 8]
    assert len({value.etag for value in (before[""], after[""], again[""], emptied[""])}) == 4


def test_mkcol_and_mtime_change_the_folders_above(live_server: LiveServer) -> None:
    tree = make_tree(live_server)
    tree.put("a/b/f.txt", b"f")
    before = tree.folders(*FOLDERS)
    tree.mkdirs("a/b/c/new")
    after = tree.folders(*FOLDERS)
    assert changed(before, after) == {"", "a", "a/b", "a/b/c"}
    patch = (
        '<?xml version="1.0"?><d:propertyupdate xmlns:d="DAV:"><d:set><d:prop>'
        "<d:lastmodified>Tue, 14 Nov 2023 22:13:20 GMT</d:lastmodified>"
        "</d:prop></d:set></d:propertyupdate>"
    )
    file_before = entry(tree.session, tree.url("a/b/f.txt"))
    assert tree.session.request("PROPPATCH", tree.url("a/b/f.txt"), data=patch).status_code == 207
    touched = tree.folders(*FOLDERS)
    # Clients take a file's new mtime from its folder's listing: the folders above change.
    assert changed(after, touched) == {"", "a", "a/b"}
    assert entry(tree.session, tree.url("a/b/f.txt")).etag == file_before.etag


def test_move_changes_both_sides_and_keeps_the_moved_etags_and_ids(
    live_server: LiveServer,
) -> None:
    tree = make_tree(live_server)
    tree.put("a/b/c/d/deep.bin", b"d" * 100)
    moved_file = entry(tree.session, tree.url("a/b/c/d/deep.bin"))
    before = tree.folders(*FOLDERS)
    response = tree.move("a/b/c", "x/y/c")
    assert response.status_code == 201
    assert response.headers["OC-FileId"] == before["a/b/c"].id
    after = tree.folders("", "a", "a/b", "x", "x/y", "z", "x/y/c", "x/y/c/d")
    assert changed({k: before[k] for k in after if k in before}, after) == {
        "",
        "a",
        "a/b",
        "x",
        "x/y",
    }
    assert after["x/y/c"] == before["a/b/c"]
    assert after["x/y/c/d"] == before["a/b/c/d"]
    assert [after[path].size for path in ("", "a", "a/b", "x", "x/y", "z")] == [
        108,
        0,
        0,
        100,
        100,
        8,
    ]
    assert entry(tree.session, tree.url("x/y/c/d/deep.bin")) == moved_file
    # A file moved over a file is that file's new content (store/saves.py): the ETag is the
    # moved content's, the id the target's; the move overwrites: 204.
    tree.put("a/over.bin", b"old")
    target = entry(tree.session, tree.url("a/over.bin"))
    before = tree.folders("", "a", "x", "x/y", "z")
    response = tree.move("x/y/c/d/deep.bin", "a/over.bin")
    assert response.status_code == 204
    assert response.headers["OC-FileId"] == target.id
    assert entry(tree.session, tree.url("a/over.bin")) == replace(moved_file, id=target.id)
    after = tree.folders("", "a", "x", "x/y", "z")
    assert changed(before, after) == {"", "a", "x", "x/y"}
    assert [after[path].size for path in ("", "a", "x", "x/y", "z")] == [108, 100, 0, 0, 8]


def test_copy_changes_the_target_side_only_and_delete_the_folders_above(
    live_server: LiveServer,
) -> None:
    tree = make_tree(live_server)
    tree.put("a/b/c/f.bin", b"f" * 10)
    before = tree.folders(*FOLDERS)
    destination = tree.base + "x/y/c2"
    copied = tree.session.request("COPY", tree.url("a/b/c"), headers={"Destination": destination})
    assert copied.status_code == 201
    after = tree.folders(*FOLDERS, "x/y/c2")
    assert changed(before, after) == {"", "x", "x/y"}
    assert [after[path].size for path in ("", "a", "x", "x/y", "x/y/c2")] == [28, 10, 10, 10, 10]
    deleted = tree.session.delete(tree.url("a/b"))
    assert deleted.status_code == 204
    gone = tree.folders("", "a", "x", "x/y", "z")
    assert changed({k: after[k] for k in gone}, gone) == {"", "a"}
    assert [gone[path].size for path in ("", "a", "x", "x/y", "z")] == [18, 0, 10, 10, 8]


def test_rest_dialects_change_the_folders_above(live_server: LiveServer) -> None:
    rest = make_rest_user(live_server, "alice")
    tree = Tree(live_server, rest.user)
    tree.mkdirs("a", "a/b", "a/b/c", "pool", "z")
    tree.put("a/b/c/deep.txt", b"deep bytes")
    before = tree.folders("", "a", "a/b", "a/b/c", "pool", "z")
    # okeanos: delete by id, three levels down.
    okeanos = live_server.url("/backend/user_files")
    headers = {"Authorization": f"Token {rest.token}"}
    listing = requests.get(okeanos, headers=headers, timeout=30).json()["files"]
    deep_id = next(item["id"] for item in listing if item["path"] == "a/b/c/deep.txt")
    assert requests.delete(okeanos, headers=headers, params={"id": deep_id}, timeout=30).ok
    after = tree.folders("", "a", "a/b", "a/b/c", "pool", "z")
    assert changed(before, after) == {"", "a", "a/b", "a/b/c"}
    assert after[""].size == 0
    # aptly: a multipart upload into a folder.
    files = [("file", ("pkg.deb", b"package"))]
    assert rest.basic.post(live_server.url("/api/files/pool"), files=files).ok
    uploaded = tree.folders("", "a", "a/b", "a/b/c", "pool", "z")
    assert changed(after, uploaded) == {"", "pool"}
    assert uploaded["pool"].size == uploaded[""].size == len(b"package")


def test_chunked_upload_answers_what_propfind_shows_and_changes_the_folders_above(
    live_server: LiveServer,
) -> None:
    tree = make_tree(live_server)
    before = tree.folders(*FOLDERS)
    uploads = live_server.url("/remote.php/dav/uploads/alice/transfer-1")
    session = tree.session
    assert session.request("MKCOL", uploads, headers={"OC-Total-Length": "30"}).status_code == 201
    for index, chunk in enumerate((b"a" * 10, b"b" * 10, b"c" * 10)):
        assert session.put(f"{uploads}/{index:016d}", data=chunk).status_code == 201
    headers = {
        "Destination": tree.base + "a/b/c/big.bin",
        "X-OC-Mtime": "1700000000",
        "OC-Total-Length": "30",
    }
    moved = session.request("MOVE", f"{uploads}/.file", headers=headers)
    assert moved.status_code == 201, moved.text
    shown = entry(session, tree.url("a/b/c/big.bin"))
    # Headers carry the quoted entity tag, getetag WsgiDAV's bare value; clients strip quotes.
    assert moved.headers["ETag"] == moved.headers["OC-ETag"] == f'"{shown.etag}"'
    assert moved.headers["OC-FileId"] == shown.id
    assert moved.headers["X-OC-Mtime"] == "accepted"
    owner = live_server.services.accounts.owner("alice")
    info = live_server.services.store.stat(owner, parse_user_path("/a/b/c/big.bin"))
    assert info is not None and info.modified_at == 1700000000.0
    after = tree.folders(*FOLDERS)
    assert changed(before, after) == {"", "a", "a/b", "a/b/c"}
    assert after["a/b"].size == 30


def test_a_write_costs_the_same_statements_at_any_depth(in_process_server: LiveServer) -> None:
    server = in_process_server
    user = server.add_user("deep")
    tree = Tree(server, user)
    deep = "/".join(f"level-{level}" for level in range(30))
    for level in range(1, 31):
        tree.mkdirs("/".join(f"level-{n}" for n in range(level)))
    tree.mkdirs("top")
    engine = server.services.db.engine

    def statements(method: str, path: str, destination: str = "") -> int:
        """Statements run for one request, sent with its body in one write (so every
        request takes the same way through the server)."""
        body = b"x" * 64 if method == "PUT" else b""
        head = [
            f"{method} {tree.base}{quote(path)} HTTP/1.1",
            "Host: 127.0.0.1",
            f"Authorization: {basic(user)}",
            f"Content-Length: {len(body)}",
            "Connection: close",
        ]
        if destination:
            head.append(f"Destination: {tree.base}{quote(destination)}")
        counted: list[str] = []

        def record(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
            counted.append(statement)

        event.listen(engine, "before_cursor_execute", record)
        try:
            answer = exchange(server.port, ("\r\n".join(head) + "\r\n\r\n").encode() + body)
        finally:
            event.remove(engine, "before_cursor_execute", record)
        assert answer.startswith((b"HTTP/1.1 201", b"HTTP/1.1 204")), (method, path, answer)
        return len(counted)

    statements("PUT", "warm.txt")
    for _ in ("created", "replaced"):
        assert statements("PUT", "top/new.bin") == statements("PUT", f"{deep}/new.bin")
    assert statements("MKCOL", "top/sub") == statements("MKCOL", f"{deep}/sub")
    assert statements("MOVE", "top/new.bin", "top/moved.bin") == statements(
        "MOVE", f"{deep}/new.bin", f"{deep}/moved.bin"
    )
    assert statements("MOVE", "top/moved.bin", "top/sub/moved.bin") == statements(
        "MOVE", f"{deep}/moved.bin", f"{deep}/sub/moved.bin"
    )
    assert statements("DELETE", "top/sub") == statements("DELETE", f"{deep}/sub")
    assert entry(tree.session, tree.url(deep + "/")).size == 0
    assert entry(tree.session, tree.url("")).size == len(b"x" * 64)
