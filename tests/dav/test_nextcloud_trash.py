"""Nextcloud's trashbin and versions WebDAV, replaying the requests of its web app
(``files_trashbin/src/services/trashbin.ts``, ``files_versions/src/utils/versions.ts``) and
Android app: list, restore by MOVE to ``restore/``, delete, empty, label by PROPPATCH."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import requests

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
    assert href == f"{DAV_ROOT}/trashbin/alice/trash/report.pdf.d{deleted_at}"
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
