"""/public/{id}: the one way to read a file without credentials, and only a public one."""

from __future__ import annotations

import requests

from davfiles.store import ROOT
from tests.harness import LiveServer
from tests.rest.conftest import RestUser


def test_public_file_downloads_without_credentials(
    live_server: LiveServer, alice: RestUser
) -> None:
    alice.basic.put(alice.dav("report.pdf"), data=b"%PDF-1.7 0123456789")
    store = live_server.services.store
    info = store.list_files(alice.user.owner)[0]
    url = live_server.url(f"/public/{info.id}")
    assert requests.get(url).status_code == 404
    store.set_public(alice.user.owner, info.id, True)
    whole = requests.get(url)
    assert whole.status_code == 200
    assert whole.content == b"%PDF-1.7 0123456789"
    assert whole.headers["Content-Type"] == "application/pdf"
    etag = whole.headers["ETag"]
    assert requests.get(url, headers={"If-None-Match": etag}).status_code == 304
    ranged = requests.get(url, headers={"Range": "bytes=9-12"})
    assert ranged.status_code == 206
    assert ranged.content == b"0123"
    assert ranged.headers["Content-Range"] == "bytes 9-12/19"
    named = requests.get(live_server.url(f"/public/{info.id}/report.pdf"))
    assert named.status_code == 200 and named.content == whole.content
    assert requests.get(live_server.url(f"/public/{info.id}/other.pdf")).status_code == 404
    store.set_public(alice.user.owner, info.id, False)
    assert requests.get(url).status_code == 404


def test_unknown_ids_and_folders_are_404(live_server: LiveServer, alice: RestUser) -> None:
    alice.basic.request("MKCOL", alice.dav("folder/"))
    folder = live_server.services.store.list_dir(alice.user.owner, ROOT)[0]
    beyond_any_id = "/public/99999999999999999999"
    for path in (
        f"/public/{folder.id}",
        "/public/999999",
        beyond_any_id,
        "/public/3000000000",  # beyond PostgreSQL's INTEGER ids
        "/public/\u00b2",
        "/public/abc",
        "/public/",
    ):
        assert requests.get(live_server.url(path)).status_code == 404, path


def test_nothing_else_is_readable_without_credentials(
    live_server: LiveServer, alice: RestUser
) -> None:
    alice.basic.put(alice.dav("x.txt"), data=b"x")
    for path in (
        "/dav/",
        "/dav/x.txt",
        "/backend/user_files",
        "/api/files",
        "/1/file/x.txt",
        "/defdrive/api/files",
        "/molgenis/api/files/1",
        "/anything",
    ):
        response = requests.get(live_server.url(path))
        assert response.status_code in (401, 404), path
        assert b"x" != response.content
