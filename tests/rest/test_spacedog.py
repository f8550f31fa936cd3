"""spacedog (seed 003): the document's example and shapes, over the shared store."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import requests

from tests.curl import run_curl
from tests.dav.helpers import propfind
from tests.harness import LiveServer
from tests.kept import live_usage
from tests.rest.conftest import RestUser, make_rest_user

# The document's DELETE example authenticates as "doc" with the password "hi doc".
DOC_AUTH = "Authorization: Basic ZG9jOmhpIGRvYw=="
TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00$")
RECORD_KEYS = {"path", "size", "lastModified", "etag"}
WWW = {
    "www/app.html": b"<html>app</html>",
    "www/app.js": b"console.log('app');",
    "www/images/fifi.jpg": b"\xff\xd8\xff fifi",
    "www/images/riri.png": b"\x89PNG riri",
}


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def url(server: LiveServer, path: str = "") -> str:
    return server.url("/1/file" + path)


def put(user: RestUser, path: str, data: bytes, **headers: str) -> requests.Response:
    return user.basic.put(url(user.server, path), data=data, headers=headers)


def assert_failure(response: requests.Response, status: int) -> None:
    assert response.status_code == status
    body = response.json()
    assert set(body) == {"success", "status", "error"}
    assert (body["success"], body["status"]) == (False, status)
    assert set(body["error"]) == {"message"} and body["error"]["message"]


def test_document_delete_example_with_curl(live_server: LiveServer, tmp_path: Path) -> None:
    live_server.add_user("doc", "hi doc")
    for path, data in WWW.items():
        source = tmp_path / path.replace("/", "_")
        source.write_bytes(data)
        result = run_curl(
            "-X", "PUT", "-H", DOC_AUTH, "--data-binary", f"@{source}", url(live_server, "/" + path)
        )
        assert result.status == 200
        saved = result.json()
        assert set(saved) == {"success", "status", "contentType", "location", *RECORD_KEYS}
        assert (saved["success"], saved["status"]) == (True, 200)
        assert (saved["path"], saved["size"], saved["etag"]) == ("/" + path, len(data), md5(data))
        assert saved["location"] == url(live_server, "/" + path)
    result = run_curl("-X", "GET", "-H", DOC_AUTH, url(live_server, "/www"))
    assert result.status == 200
    listing = result.json()
    assert set(listing) == {"success", "status", "results"}
    assert (listing["success"], listing["status"]) == (True, 200)
    for entry in listing["results"]:
        assert set(entry) == RECORD_KEYS
        assert TIME.match(entry["lastModified"])
    assert [(e["path"], e["size"], e["etag"]) for e in listing["results"]] == [
        ("/" + path, len(data), md5(data)) for path, data in WWW.items()
    ]
    # The example as written: `DELETE /1/file/www` with the document's Basic credentials.
    result = run_curl("-X", "DELETE", "-H", DOC_AUTH, url(live_server, "/www"))
    assert result.status == 200
    assert result.json() == {
        "success": True,
        "status": 200,
        "deleted": ["/www/app.html", "/www/app.js", "/www/images/fifi.jpg", "/www/images/riri.png"],
    }
    result = run_curl("-H", DOC_AUTH, url(live_server))
    assert (result.status, result.json()["results"]) == (200, [])


def test_download_headers_and_conditions(live_server: LiveServer, alice: RestUser) -> None:
    data = b"hello spacedog"
    assert put(alice, "/a/b/c.txt", data).status_code == 200
    plain = alice.basic.get(url(live_server, "/a/b/c.txt"))
    assert (plain.status_code, plain.content) == (200, data)
    assert plain.headers["Etag"] == md5(data)
    assert plain.headers["X-spacedog-owner"] == "alice"
    assert plain.headers["Content-Type"].startswith("text/plain")
    assert "Content-Disposition" not in plain.headers
    named = alice.basic.get(
        url(live_server, "/a/b/c.txt"), params={"withContentDisposition": "true"}
    )
    assert named.content == data
    assert named.headers["Content-Disposition"] == 'attachment; filename="c.txt"'
    unchanged = alice.basic.get(
        url(live_server, "/a/b/c.txt"), headers={"If-None-Match": f'"{md5(data)}"'}
    )
    assert unchanged.status_code == 304
    part = alice.basic.get(url(live_server, "/a/b/c.txt"), headers={"Range": "bytes=6-"})
    assert (part.status_code, part.content) == (206, b"spacedog")
    outside = alice.basic.get(url(live_server, "/a/b/c.txt"), headers={"Range": "bytes=99-"})
    assert outside.status_code == 416
    assert outside.headers["Content-Range"] == f"bytes */{len(data)}"


def test_content_disposition_of_a_non_latin1_name(live_server: LiveServer, alice: RestUser) -> None:
    put(alice, "/日本.txt", b"nihon")
    named = alice.basic.get(
        url(live_server, "/日本.txt"), params={"withContentDisposition": "true"}
    )
    assert (named.status_code, named.content) == (200, b"nihon")
    assert "filename*=UTF-8''%E6%97%A5%E6%9C%AC.txt" in named.headers["Content-Disposition"]


def test_put_content_type_overwrite_and_size(live_server: LiveServer, alice: RestUser) -> None:
    cases = {
        "/typed.bin": ({"Content-Type": "text/csv"}, "text/csv"),
        "/page.html": ({}, "text/html"),
        "/z": ({}, "application/octet-stream"),
    }
    for path, (headers, expected) in cases.items():
        saved = put(alice, path, b"1,2", **headers)
        assert (saved.status_code, saved.json()["contentType"]) == (200, expected)
        fetched = alice.basic.get(url(live_server, path))
        assert fetched.headers["Content-Type"].split(";")[0] == expected
    again = put(alice, "/z", b"replaced")
    assert (again.status_code, again.json()["size"]) == (200, len(b"replaced"))
    assert alice.basic.get(url(live_server, "/z")).content == b"replaced"
    streamed = alice.basic.put(url(live_server, "/deep/er/chunked.bin"), data=iter([b"ab", b"cd"]))
    assert (streamed.status_code, streamed.json()["path"]) == (200, "/deep/er/chunked.bin")
    assert alice.basic.get(alice.dav("deep/er/chunked.bin")).content == b"abcd"


def test_put_refusals_store_nothing(live_server: LiveServer, alice: RestUser) -> None:
    put(alice, "/file.txt", b"x")
    alice.basic.request("MKCOL", alice.dav("folder/"))
    assert_failure(put(alice, "/newdir/", b"x"), 400)
    assert_failure(alice.basic.put(url(live_server), data=b"x"), 400)
    assert_failure(put(alice, "/folder", b"x"), 409)
    assert_failure(put(alice, "/file.txt/inside.txt", b"x"), 409)
    assert_failure(put(alice, "/bad%01name", b"x"), 400)
    listing = alice.basic.get(url(live_server)).json()["results"]
    assert [entry["path"] for entry in listing] == ["/file.txt"]
    assert alice.basic.get(alice.dav("file.txt")).content == b"x"


def test_listing_is_by_folder_and_misses_are_404(live_server: LiveServer, alice: RestUser) -> None:
    assert alice.basic.get(url(live_server, "/")).json() == {
        "success": True,
        "status": 200,
        "results": [],
    }
    put(alice, "/www/a.txt", b"a")
    put(alice, "/wwwx/b.txt", b"b")
    alice.basic.request("MKCOL", alice.dav("empty/"))
    listed = alice.basic.get(url(live_server, "/www/")).json()["results"]
    assert [entry["path"] for entry in listed] == ["/www/a.txt"]
    assert alice.basic.get(url(live_server, "/empty")).json()["results"] == []
    everything = alice.basic.get(url(live_server)).json()["results"]
    assert [entry["path"] for entry in everything] == ["/www/a.txt", "/wwwx/b.txt"]
    assert_failure(alice.basic.get(url(live_server, "/ww")), 404)
    assert_failure(alice.basic.get(url(live_server, "/www/a.txt/")), 404)
    assert_failure(alice.basic.get(url(live_server, "/www/%2e%2e/x")), 400)


def test_delete_file_folder_and_home(live_server: LiveServer, alice: RestUser) -> None:
    for path in ("/one.txt", "/two/a.txt", "/two/b/c.txt", "/three/d.txt"):
        put(alice, path, path.encode())
    single = alice.basic.delete(url(live_server, "/one.txt"))
    assert single.json() == {"success": True, "status": 200, "deleted": ["/one.txt"]}
    assert_failure(alice.basic.delete(url(live_server, "/one.txt")), 404)
    assert_failure(alice.basic.delete(url(live_server, "/three/d.txt/")), 404)
    folder = alice.basic.delete(url(live_server, "/two"))
    assert folder.json()["deleted"] == ["/two/a.txt", "/two/b/c.txt"]
    assert alice.basic.get(alice.dav("two/")).status_code == 404
    home = alice.basic.delete(url(live_server))
    assert home.json() == {"success": True, "status": 200, "deleted": ["/three/d.txt"]}
    assert list(live_server.services.store.home(alice.user.owner).iterdir()) == []
    assert live_usage(live_server.services, alice.user.owner) == (0, 0)  # the rest is trash


def test_one_store_with_webdav(live_server: LiveServer, alice: RestUser) -> None:
    assert put(alice, "/docs/from-rest.txt", b"rest bytes").status_code == 200
    assert alice.basic.get(alice.dav("docs/from-rest.txt")).content == b"rest bytes"
    assert "/dav/docs/from-rest.txt" in propfind(alice.basic, alice.dav("docs/"), depth="1")
    alice.basic.put(alice.dav("docs/from-dav.txt"), data=b"dav")
    listed = alice.basic.get(url(live_server, "/docs")).json()["results"]
    assert {entry["path"]: entry["etag"] for entry in listed} == {
        "/docs/from-dav.txt": md5(b"dav"),
        "/docs/from-rest.txt": md5(b"rest bytes"),
    }
    alice.basic.delete(alice.dav("docs/from-dav.txt"))
    assert_failure(alice.basic.get(url(live_server, "/docs/from-dav.txt")), 404)
    alice.basic.delete(url(live_server, "/docs/from-rest.txt"))
    assert alice.basic.get(alice.dav("docs/from-rest.txt")).status_code == 404
    alice.basic.put(alice.dav("kept.bin"), data=b"12345")
    put(alice, "/also.bin", b"678")
    assert live_usage(live_server.services, alice.user.owner) == (8, 2)


def test_quota_exceeded_stores_nothing(live_server: LiveServer) -> None:
    carol = make_rest_user(live_server, "carol", max_bytes=100)
    assert_failure(put(carol, "/new/deep/big.bin", b"x" * 500), 507)
    chunked = carol.basic.put(url(live_server, "/other/big.bin"), data=iter([b"x" * 60, b"y" * 60]))
    assert_failure(chunked, 507)
    usage = live_server.services.store.usage(carol.user.owner)
    assert (usage.used_bytes, usage.used_files) == (0, 0)
    assert list(live_server.services.store.home(carol.user.owner).iterdir()) == []
    assert carol.basic.get(url(live_server)).json()["results"] == []


def test_other_users_files_are_out_of_reach(
    live_server: LiveServer, alice: RestUser, bob: RestUser
) -> None:
    put(alice, "/private/mine.txt", b"alice")
    assert_failure(bob.basic.get(url(live_server, "/private/mine.txt")), 404)
    assert_failure(bob.basic.get(url(live_server, "/private")), 404)
    assert bob.basic.get(url(live_server)).json()["results"] == []
    assert_failure(bob.basic.delete(url(live_server, "/private")), 404)
    assert bob.basic.delete(url(live_server)).json()["deleted"] == []
    assert put(bob, "/private/mine.txt", b"bob").json()["etag"] == md5(b"bob")
    mine = alice.basic.get(url(live_server, "/private/mine.txt"))
    assert (mine.content, mine.headers["X-spacedog-owner"]) == (b"alice", "alice")


def test_credentials(live_server: LiveServer, alice: RestUser) -> None:
    for headers in ({}, {"Authorization": "Basic YWxpY2U6d3Jvbmc="}, {"Authorization": "Token x"}):
        refused = requests.get(url(live_server), headers=headers)
        assert_failure(refused, 401)
        assert refused.headers["WWW-Authenticate"].startswith("Basic")
    assert_failure(requests.put(url(live_server, "/x.txt"), data=b"x"), 401)
    assert live_server.services.store.list_files(alice.user.owner) == []
    for scheme in ("Token", "Bearer"):
        headers = {"Authorization": f"{scheme} {alice.token}"}
        assert requests.get(url(live_server), headers=headers).status_code == 200


def test_openapi_describes_the_routes(live_server: LiveServer) -> None:
    paths = requests.get(live_server.url("/openapi.json")).json()["paths"]
    assert set(paths["/1/file"]) == {"get", "put", "delete"}
    assert set(paths["/1/file/{path}"]) == {"parameters", "get", "put", "delete"}
    assert "507" in paths["/1/file/{path}"]["put"]["responses"]
