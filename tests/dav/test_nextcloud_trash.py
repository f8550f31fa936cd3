"""Nextcloud's trashbin and versions WebDAV, replaying the requests of its web app
(``files_trashbin/src/services/trashbin.ts``, ``files_versions/src/utils/versions.ts``) and
Android app: list, restore by MOVE to ``restore/``, delete, empty, label by PROPPATCH."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from urllib.parse import quote

import requests
from sqlalchemy import event

from davfiles.db.models import TrashItem
from davfiles.store import ROOT, parse_user_path
from tests.harness import LiveServer

DAV_ROOT = "/remote.php/dav"
NC = "{http://nextcloud.org/ns}"
OC = "{http://owncloud.org/ns}"
D = "{DAV:}"
TRASH_PROPFIND = b"""<?xml version="1.0"?>
<d:propfind xmlns:d="DAV:" xmlns:oc="http://owncloud.org/ns" xmlns:nc="http://nextcloud.org/ns">
  <d:prop>
    <nc:trashbin-filename/><nc:trashbin-deletion-time/><nc:trashbin-original-location/>
    <nc:trashbin-title/><d:getlastmodified/><d:getetag/><d:getcontenttype/><d:resourcetype/>
    <oc:fileid/><oc:permissions/><oc:size/><d:getcontentlength/>
  </d:prop>
</d:propfind>"""
# What the web app of Nextcloud 28 and later asks (``files_trashbin/src/services/trashbin.ts``).
TRASH_PROPFIND_28 = TRASH_PROPFIND.replace(
    b"<nc:trashbin-title/>",
    b"<nc:trashbin-title/><nc:trashbin-deleted-by-id/><nc:trashbin-deleted-by-display-name/>",
)
VERSIONS_PROPFIND = b"""<?xml version="1.0"?>
<d:propfind xmlns:d="DAV:" xmlns:oc="http://owncloud.org/ns" xmlns:nc="http://nextcloud.org/ns">
  <d:prop>
    <d:getcontentlength/><d:getcontenttype/><d:getlastmodified/><d:getetag/>
    <nc:version-label/><nc:version-author/><nc:has-preview/>
  </d:prop>
</d:propfind>"""


def listing(session: requests.Session, url: str, body: bytes) -> dict[str, dict[str, str]]:
    """{href: {property: text}} of the 200 propstats of a Depth 1 PROPFIND, folder dropped."""
    answer = session.request("PROPFIND", url, headers={"Depth": "1"}, data=body)
    assert answer.status_code == 207, answer.text
    found: dict[str, dict[str, str]] = {}
    for response in ET.fromstring(answer.content).iter(f"{D}response"):
        href = response.findtext(f"{D}href") or ""
        values: dict[str, str] = {}
        for propstat in response.iter(f"{D}propstat"):
            if "200" in (propstat.findtext(f"{D}status") or ""):
                for prop in propstat.find(f"{D}prop") or []:
                    collection = prop.find(f"{D}collection") is not None
                    values[prop.tag] = "collection" if collection else (prop.text or "")
        found[href] = values
    found.pop(next(iter(found)))
    return found


def test_the_web_app_lists_restores_and_deletes_trash(live_server: LiveServer) -> None:
    user = live_server.add_user("alice")
    session = live_server.session(user)
    files = live_server.url(f"{DAV_ROOT}/files/alice")
    trash = live_server.url(f"{DAV_ROOT}/trashbin/alice/trash")
    assert session.request("MKCOL", files + "/Documents").status_code == 201
    assert session.put(files + "/Documents/report.pdf", data=b"pdf bytes").status_code == 201
    assert session.put(files + "/notes.txt", data=b"notes").status_code == 201
    assert session.delete(files + "/Documents/report.pdf").status_code == 204
    assert session.delete(files + "/Documents").status_code == 204
    assert session.delete(files + "/notes.txt").status_code == 204

    items = listing(session, trash, TRASH_PROPFIND)
    by_name = {values[NC + "trashbin-filename"]: (href, values) for href, values in items.items()}
    assert set(by_name) == {"report.pdf", "Documents", "notes.txt"}
    href, report = by_name["report.pdf"]
    deleted_at = report[NC + "trashbin-deletion-time"]
    assert href.startswith(f"{DAV_ROOT}/trashbin/alice/trash/report.pdf.d{deleted_at}.")
    assert report[NC + "trashbin-original-location"] == "Documents/report.pdf"
    assert report[NC + "trashbin-title"] == "Documents/report.pdf"
    assert (report[D + "getcontentlength"], report[OC + "permissions"]) == ("9", "GD")
    assert by_name["Documents"][1][D + "resourcetype"] == "collection"

    # Restore the file first: its folder is recreated (a new one, not the trashed one).
    restored = session.request(
        "MOVE",
        live_server.url(href),
        headers={"Destination": live_server.url(f"{DAV_ROOT}/trashbin/alice/restore/report.pdf")},
    )
    assert restored.status_code == 201
    assert restored.headers["OC-FileId"] == report[OC + "fileid"]
    assert session.get(files + "/Documents/report.pdf").content == b"pdf bytes"
    # The trashed folder comes back beside it under a free name.
    folder_href = by_name["Documents"][0]
    restore_url = live_server.url(f"{DAV_ROOT}/trashbin/alice/restore/Documents")
    answer = session.request(
        "MOVE", live_server.url(folder_href), headers={"Destination": restore_url}
    )
    assert answer.status_code == 201
    folder = session.request("PROPFIND", files + "/Documents (restored)", headers={"Depth": "0"})
    assert folder.status_code == 207
    # Anywhere but restore/ is refused; delete one item for good, then empty the trash.
    notes_href = by_name["notes.txt"][0]
    moved_elsewhere = session.request(
        "MOVE", live_server.url(notes_href), headers={"Destination": files + "/x.txt"}
    )
    assert moved_elsewhere.status_code == 403
    assert session.delete(live_server.url(notes_href)).status_code == 204
    assert listing(session, trash, TRASH_PROPFIND) == {}
    assert session.put(files + "/again.txt", data=b"x").status_code == 201
    assert session.delete(files + "/again.txt").status_code == 204
    assert session.delete(trash).status_code == 204
    assert listing(session, trash, TRASH_PROPFIND) == {}
    usage = live_server.services.store.usage(user.owner)
    assert (usage.used_bytes, usage.used_files) == (len(b"pdf bytes"), 1)


def test_another_users_trash_is_forbidden(live_server: LiveServer) -> None:
    live_server.add_user("alice")
    bob = live_server.session(live_server.add_user("bob"))
    answer = bob.request(
        "PROPFIND", live_server.url(f"{DAV_ROOT}/trashbin/alice/trash"), headers={"Depth": "1"}
    )
    assert answer.status_code == 403


def test_the_web_app_lists_labels_and_restores_versions(live_server: LiveServer) -> None:
    user = live_server.add_user("alice")
    session = live_server.session(user)
    url = live_server.url(f"{DAV_ROOT}/files/alice/plan.txt")
    assert session.put(url, data=b"first draft").status_code == 201
    assert session.put(url, data=b"second").status_code == 204
    [record] = live_server.services.store.list_files(user.owner)
    versions_url = live_server.url(f"{DAV_ROOT}/versions/alice/versions/{record.id}")

    [(href, version)] = listing(session, versions_url, VERSIONS_PROPFIND).items()
    assert version[D + "getcontentlength"] == str(len(b"first draft"))
    assert (version[NC + "version-label"], version[NC + "version-author"]) == ("", "alice")
    assert session.get(live_server.url(href)).content == b"first draft"

    label = (
        b'<?xml version="1.0"?><d:propertyupdate xmlns:d="DAV:" '
        b'xmlns:nc="http://nextcloud.org/ns"><d:set><d:prop>'
        b"<nc:version-label>Before review</nc:version-label></d:prop></d:set></d:propertyupdate>"
    )
    assert session.request("PROPPATCH", live_server.url(href), data=label).status_code == 207
    [version] = listing(session, versions_url, VERSIONS_PROPFIND).values()
    assert version[NC + "version-label"] == "Before review"

    restore = live_server.url(f"{DAV_ROOT}/versions/alice/restore/target")
    answer = session.request("MOVE", live_server.url(href), headers={"Destination": restore})
    assert answer.status_code == 201
    assert session.get(url).content == b"first draft"
    # The replaced content became a version; the labelled one is still there.
    sizes = sorted(
        v[D + "getcontentlength"]
        for v in listing(session, versions_url, VERSIONS_PROPFIND).values()
    )
    assert sizes == [str(len(b"first draft")), str(len(b"second"))]
    copied = session.request("COPY", live_server.url(href), headers={"Destination": url + ".old"})
    assert copied.status_code == 403
    assert session.delete(live_server.url(href)).status_code == 204
    assert len(listing(session, versions_url, VERSIONS_PROPFIND)) == 1
    missing = live_server.url(f"{DAV_ROOT}/versions/alice/versions/999999")
    assert session.request("PROPFIND", missing, headers={"Depth": "1"}).status_code == 404


def test_the_capabilities_announce_trash_and_versions(live_server: LiveServer) -> None:
    alice = live_server.add_user("alice")
    answer = live_server.session(alice).get(
        live_server.url("/ocs/v1.php/cloud/capabilities?format=json"),
        headers={"OCS-APIRequest": "true"},
        timeout=10,
    )
    files = answer.json()["ocs"]["data"]["capabilities"]["files"]
    wanted = ("undelete", "delete_from_trash", "versioning", "version_labeling", "version_deletion")
    assert {name: files[name] for name in wanted} == dict.fromkeys(wanted, True)


def test_a_word_save_keeps_the_document_its_old_content_and_labelled_version(
    live_server: LiveServer,
) -> None:
    """Word saves doc.docx by writing ~WRD0000.tmp, renaming the document to ~WRL0001.tmp,
    the new one to doc.docx, and deleting ~WRL0001.tmp: doc.docx keeps its id and versions,
    its old content becomes one (store/saves.py), nothing needs the trash."""
    user = live_server.add_user("alice")
    session = live_server.session(user)
    files = live_server.url(f"{DAV_ROOT}/files/alice")
    assert session.put(files + "/doc.docx", data=b"first").status_code == 201
    assert session.put(files + "/doc.docx", data=b"second").status_code == 204
    [record] = live_server.services.store.list_files(user.owner)
    versions_url = live_server.url(f"{DAV_ROOT}/versions/alice/versions/{record.id}")
    [href] = listing(session, versions_url, VERSIONS_PROPFIND)
    label = (
        b'<?xml version="1.0"?><d:propertyupdate xmlns:d="DAV:" '
        b'xmlns:nc="http://nextcloud.org/ns"><d:set><d:prop>'
        b"<nc:version-label>Signed</nc:version-label></d:prop></d:set></d:propertyupdate>"
    )
    assert session.request("PROPPATCH", live_server.url(href), data=label).status_code == 207

    assert session.put(files + "/~WRD0000.tmp", data=b"third").status_code == 201
    for source, target in (("doc.docx", "~WRL0001.tmp"), ("~WRD0000.tmp", "doc.docx")):
        moved = session.request(
            "MOVE", f"{files}/{source}", headers={"Destination": f"{files}/{target}"}
        )
        assert moved.status_code == 201
    assert session.delete(files + "/~WRL0001.tmp").status_code == 204
    assert session.get(files + "/doc.docx").content == b"third"

    trash = live_server.url(f"{DAV_ROOT}/trashbin/alice/trash")
    assert listing(session, trash, TRASH_PROPFIND) == {}
    [document] = live_server.services.store.list_files(user.owner)
    assert document.id == record.id
    kept = listing(session, versions_url, VERSIONS_PROPFIND)
    assert [session.get(live_server.url(href)).content for href in kept] == [b"second", b"first"]
    assert [version[NC + "version-label"] for version in kept.values()] == ["", "Signed"]


def test_two_items_of_one_name_deleted_in_one_second_stay_apart(
    live_server: LiveServer,
) -> None:
    user = live_server.add_user("alice")
    session = live_server.session(user)
    files = live_server.url(f"{DAV_ROOT}/files/alice")
    for content in (b"first", b"second"):
        assert session.put(files + "/README.md", data=content).status_code == 201
        assert session.delete(files + "/README.md").status_code == 204
    with live_server.services.db.write() as db_session:
        db_session.execute(TrashItem.__table__.update().values(deleted_at=1_700_000_000.5))
    trash = live_server.url(f"{DAV_ROOT}/trashbin/alice/trash")
    items = listing(session, trash, TRASH_PROPFIND)
    assert len(items) == 2
    assert {values[NC + "trashbin-deletion-time"] for values in items.values()} == {"1700000000"}
    second = next(e for e in live_server.services.store.trash_list(user.owner) if e.size == 6)
    [second_href] = [href for href in items if href.endswith(f".{second.id}")]
    assert session.delete(live_server.url(second_href)).status_code == 204
    [left] = live_server.services.store.trash_list(user.owner)
    assert left.size == len(b"first")


def test_a_trash_listing_costs_the_same_statements_for_many_items(
    in_process_server: LiveServer,
) -> None:
    server = in_process_server
    user = server.add_user("counter", max_bytes=10**9)
    store, owner = server.services.store, user.owner
    session = server.session(user)
    trash = server.url(f"{DAV_ROOT}/trashbin/counter/trash")

    def selects() -> int:
        statements: list[str] = []

        def record(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
            if "FROM trash_items" in statement or "FROM trashed_nodes" in statement:
                statements.append(statement)

        engine = server.services.db.engine
        event.listen(engine, "before_cursor_execute", record)
        try:
            answer = session.request("PROPFIND", trash, headers={"Depth": "1"}, data=TRASH_PROPFIND)
            assert answer.status_code == 207
        finally:
            event.remove(engine, "before_cursor_execute", record)
        return len(statements)

    def trash_files(count: int) -> None:
        for index in range(count):
            path = parse_user_path(f"f{index:03}.txt")
            store.write_bytes(owner, path, b"data")
            store.delete(owner, path)

    trash_files(3)
    assert session.request("PROPFIND", trash, headers={"Depth": "0"}).status_code == 207
    few = selects()
    trash_files(30)
    # The listing, its versions' totals and the items' own records: none more per item.
    assert selects() == few == 3


def test_the_web_app_browses_a_trashed_folder_and_downloads_trashed_files(
    live_server: LiveServer,
) -> None:
    """GET of a trashed file reads it under its original name; PROPFIND of a trashed folder
    lists what it held, down to any depth; nothing in the trash can be written, and what
    lies inside an item is neither restored nor deleted on its own."""
    user = live_server.add_user("alice")
    session = live_server.session(user)
    files = live_server.url(f"{DAV_ROOT}/files/alice")
    for folder in ("Project", "Project/sub"):
        assert session.request("MKCOL", f"{files}/{folder}").status_code == 201
    contents = {
        "Project/a.txt": b"alpha",
        "Project/sub/b.bin": b"bbbb",
        "Project/sub/x #1 ü.txt": b"x",
        "top café.txt": b"top",
    }
    for name, data in contents.items():
        assert session.put(f"{files}/{quote(name)}", data=data).status_code == 201
    ids = {
        info.path.text: info.id for info in live_server.services.store.list_tree(user.owner, ROOT)
    }
    assert session.delete(files + "/Project").status_code == 204
    assert session.delete(files + "/top café.txt").status_code == 204

    trash = live_server.url(f"{DAV_ROOT}/trashbin/alice/trash")
    items = listing(session, trash, TRASH_PROPFIND_28)
    by_name = {values[NC + "trashbin-filename"]: (href, values) for href, values in items.items()}
    for _href, values in by_name.values():
        assert values[NC + "trashbin-deleted-by-id"] == "alice"
        assert values[NC + "trashbin-deleted-by-display-name"] == "alice"
    top_href, top = by_name["top café.txt"]
    assert (top[D + "getcontenttype"], top[OC + "size"]) == ("text/plain", "3")
    answer = session.get(live_server.url(top_href))
    assert (answer.status_code, answer.content) == (200, b"top")
    assert answer.headers["Content-Disposition"] == (
        "attachment; filename=\"top cafe.txt\"; filename*=UTF-8''top%20caf%C3%A9.txt"
    )

    project_href, project = by_name["Project"]
    assert project_href.endswith("/")
    assert (project[D + "resourcetype"], project[OC + "size"]) == ("collection", "10")
    inside = listing(session, live_server.url(project_href), TRASH_PROPFIND_28)
    assert set(inside) == {f"{project_href}a.txt", f"{project_href}sub/"}
    a_file = inside[f"{project_href}a.txt"]
    assert a_file[NC + "trashbin-original-location"] == "Project/a.txt"
    assert a_file[NC + "trashbin-deletion-time"] == project[NC + "trashbin-deletion-time"]
    assert (a_file[OC + "fileid"], a_file[OC + "permissions"]) == (str(ids["Project/a.txt"]), "G")
    assert (a_file[D + "getcontentlength"], a_file[NC + "trashbin-deleted-by-id"]) == ("5", "alice")
    sub = inside[f"{project_href}sub/"]
    assert (sub[D + "resourcetype"], sub[OC + "size"]) == ("collection", "5")
    deeper = listing(session, live_server.url(f"{project_href}sub/"), TRASH_PROPFIND_28)
    odd = quote("x #1 ü.txt")
    assert sorted(deeper) == [f"{project_href}sub/b.bin", f"{project_href}sub/{odd}"]
    assert deeper[f"{project_href}sub/{odd}"][NC + "trashbin-filename"] == "x #1 ü.txt"
    assert session.get(live_server.url(f"{project_href}sub/{odd}")).content == b"x"
    b_url = live_server.url(f"{project_href}sub/b.bin")
    assert session.get(b_url).content == b"bbbb"
    ranged = session.get(b_url, headers={"Range": "bytes=1-2"})
    assert (ranged.status_code, ranged.content) == (206, b"bb")

    # Read-only, as in Nextcloud: 403 with a reason, and nothing changed.
    project_url = live_server.url(project_href.rstrip("/"))
    restore = live_server.url(f"{DAV_ROOT}/trashbin/alice/restore/b.bin")
    refused = [
        session.put(f"{project_url}/new.txt", data=b"x"),
        session.put(b_url, data=b"over"),
        session.request("MKCOL", f"{project_url}/made"),
        session.delete(b_url),
        session.request("MOVE", b_url, headers={"Destination": restore}),
        session.put(live_server.url(top_href), data=b"over"),
        session.request("COPY", b_url, headers={"Destination": files + "/b.bin"}),
    ]
    assert [answer.status_code for answer in refused] == [403] * len(refused)
    assert "restore" in refused[0].text and "whole trash item" in refused[3].text
    assert session.get(b_url).content == b"bbbb"
    assert len(live_server.services.store.trash_list(user.owner)) == 2
    # Nothing else is found there, and no path climbs out of the item.
    for missing, status in (
        ("/nothing.txt", 404),
        ("/sub/nothing", 404),
        ("/a.txt/below", 404),
        ("/sub/%2e%2e/%2e%2e/%2e%2e/files/alice", 400),
    ):
        answer = session.request("PROPFIND", project_url + missing, headers={"Depth": "0"})
        assert answer.status_code == status, missing
    restored = session.request("MOVE", project_url, headers={"Destination": restore})
    assert restored.status_code == 201
    assert session.get(files + "/Project/sub/b.bin").content == b"bbbb"


def test_another_user_never_reaches_an_item_of_this_trash(live_server: LiveServer) -> None:
    """Bob's trash does not hold Alice's item, whatever its name; her trash is not his."""
    alice = live_server.add_user("alice")
    session = live_server.session(alice)
    files = live_server.url(f"{DAV_ROOT}/files/alice")
    assert session.request("MKCOL", files + "/secret").status_code == 201
    assert session.put(files + "/secret/plan.txt", data=b"plan").status_code == 201
    assert session.delete(files + "/secret").status_code == 204
    [href] = listing(session, live_server.url(f"{DAV_ROOT}/trashbin/alice/trash"), TRASH_PROPFIND)
    item = href.rstrip("/").rpartition("/")[2]
    bob = live_server.session(live_server.add_user("bob"))
    for path in (f"{item}", f"{item}/plan.txt"):
        answer = bob.get(live_server.url(f"{DAV_ROOT}/trashbin/bob/trash/{path}"))
        assert answer.status_code == 404, path
        answer = bob.get(live_server.url(f"{DAV_ROOT}/trashbin/alice/trash/{path}"))
        assert answer.status_code == 403, path
    assert session.get(live_server.url(f"{href}plan.txt")).content == b"plan"
