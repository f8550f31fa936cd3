"""aptly (seed 002): the document's curl examples and its shapes, over the shared store."""

from __future__ import annotations

import base64
import http.client
import json
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

import requests
from openapi_spec_validator import validate

from tests.curl import curl_json
from tests.dav.helpers import propfind
from tests.harness import LiveServer
from tests.kept import live_usage
from tests.rest.conftest import RestUser, make_rest_user

DEB = "aptly_0.9~dev+217+ge5d646c_i386.deb"
DEB_BYTES = b"!<arch>\ndebian-binary   fake package bytes\n"


def api(server: LiveServer, path: str = "") -> str:
    return server.url("/api/files" + (f"/{path}" if path else ""))


def post_files(
    user: RestUser, directory: str, files: list[tuple[str, tuple[str, bytes]]]
) -> requests.Response:
    return user.basic.post(api(user.server, quote(directory)), files=files)


def raw_request(server: LiveServer, user: RestUser, method: str, path: str) -> tuple[int, Any]:
    """A request whose path is sent byte for byte (no client-side dot-segment cleaning)."""
    credentials = base64.b64encode(f"{user.user.name}:{user.user.password}".encode()).decode()
    headers = {
        "Authorization": f"Basic {credentials}",
        "Content-Type": "multipart/form-data; boundary=b",
    }
    body = b"--b\r\nContent-Disposition: form-data; name=file; filename=x\r\n\r\nx\r\n--b--\r\n"
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        connection.request(method, path, body=body if method == "POST" else None, headers=headers)
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


def home_files(server: LiveServer, user: RestUser) -> list[str]:
    """Every file on disk in the user's home, relative to it."""
    home = server.services.store.home(user.user.owner)
    return sorted(str(p.relative_to(home)) for p in home.rglob("*") if p.is_file())


def usage(server: LiveServer, user: RestUser) -> tuple[int, int]:
    """The live files' usage (deleted and replaced bytes wait in the trash and versions)."""
    return live_usage(server.services, user.user.owner)


def test_document_curl_examples(live_server: LiveServer, alice: RestUser, tmp_path: Path) -> None:
    (tmp_path / DEB).write_bytes(DEB_BYTES)
    auth = ("-u", "alice:alice-pw")
    base = live_server.url("/api/files")
    # Upload first so that the listing examples have something to show.
    upload = ("-X", "POST", "-F", f"file=@{DEB}", f"{base}/aptly-0.9", *auth)
    assert curl_json(*upload, cwd=tmp_path) == ([f"aptly-0.9/{DEB}"], 200)
    assert curl_json(base, *auth) == (["aptly-0.9"], 200)
    assert curl_json(f"{base}/aptly-0.9", *auth) == ([DEB], 200)
    assert alice.basic.get(alice.dav(f"aptly-0.9/{DEB}")).content == DEB_BYTES
    assert curl_json("-X", "DELETE", f"{base}/aptly-0.9/{DEB}", *auth) == ({}, 200)
    assert curl_json(f"{base}/aptly-0.9", *auth) == ([], 200)
    curl_json(*upload, cwd=tmp_path)
    assert curl_json("-X", "DELETE", f"{base}/aptly-0.9", *auth) == ({}, 200)
    assert curl_json(base, *auth) == ([], 200)
    body, status = curl_json(f"{base}/aptly-0.9", *auth)
    assert status == 404 and set(body) == {"error"}
    assert home_files(live_server, alice) == []
    assert usage(live_server, alice) == (0, 0)


def test_curl_examples_without_credentials_are_401(
    live_server: LiveServer, alice: RestUser, tmp_path: Path
) -> None:
    (tmp_path / DEB).write_bytes(DEB_BYTES)
    base = live_server.url("/api/files")
    alice.basic.request("MKCOL", alice.dav("aptly-0.9/"))
    alice.basic.put(alice.dav(f"aptly-0.9/{DEB}"), data=b"kept")
    examples = [
        (base,),
        ("-X", "POST", "-F", f"file=@{DEB}", f"{base}/aptly-0.9"),
        (f"{base}/aptly-0.9",),
        ("-X", "DELETE", f"{base}/aptly-0.9"),
        ("-X", "DELETE", f"{base}/aptly-0.9/{DEB}"),
    ]
    for example in examples:
        for credentials in ((), ("-u", "alice:wrong-pw"), ("-H", "Authorization: Token nope")):
            body, status = curl_json(*example, *credentials, cwd=tmp_path)
            assert status == 401, example
            assert set(body) == {"error"}
    assert alice.basic.get(alice.dav(f"aptly-0.9/{DEB}")).content == b"kept"
    # API tokens are accepted as well as the password.
    token = ("-H", f"Authorization: Token {alice.token}")
    assert curl_json(f"{base}/aptly-0.9", *token) == ([DEB], 200)


def test_any_number_of_files_in_upload_order(live_server: LiveServer, alice: RestUser) -> None:
    files = [
        ("file", ("b.deb", b"bee")),
        ("other", ("a.deb", b"ay")),
        ("file", ("c.dsc", b"sea")),
        ("note", ("", b"an empty file input: not a file")),
    ]
    response = post_files(alice, "pool", files)
    assert response.status_code == 200
    assert response.json() == ["pool/b.deb", "pool/a.deb", "pool/c.dsc"]
    assert alice.basic.get(api(live_server, "pool")).json() == ["a.deb", "b.deb", "c.dsc"]
    # No check for existing files: a second upload replaces the first.
    again = post_files(alice, "pool", [("file", ("a.deb", b"replaced"))])
    assert again.json() == ["pool/a.deb"]
    assert alice.basic.get(alice.dav("pool/a.deb")).content == b"replaced"
    assert usage(live_server, alice) == (len(b"bee" + b"replaced" + b"sea"), 3)
    # Plain fields are ignored; a body without files still creates the directory.
    empty = alice.basic.post(api(live_server, "empty"), files={"field": (None, "text")})
    assert (empty.status_code, empty.json()) == (200, [])
    assert alice.basic.get(api(live_server)).json() == ["empty", "pool"]


def test_names_with_spaces_unicode_and_signs(
    live_server: LiveServer, alice: RestUser, tmp_path: Path
) -> None:
    directory, name = "dists ü 1.0+b~1", "naïve paket 2~3+4 €.deb"
    (tmp_path / name).write_bytes(b"unicode")
    url = api(live_server, quote(directory))
    body, status = curl_json(
        "-u", "alice:alice-pw", "-X", "POST", "-F", f"file=@{name}", url, cwd=tmp_path
    )
    assert (body, status) == ([f"{directory}/{name}"], 200)
    second = post_files(alice, directory, [("file", ("résumé 2.deb", b"r"))])
    assert second.json() == [f"{directory}/résumé 2.deb"]
    assert alice.basic.get(api(live_server)).json() == [directory]
    assert alice.basic.get(url).json() == [name, "résumé 2.deb"]
    listed = propfind(alice.basic, alice.dav(quote(f"{directory}/")), depth="1")
    assert {unquote(href).rsplit("/", 1)[-1] for href in listed} == {"", name, "résumé 2.deb"}
    assert alice.basic.get(alice.dav(quote(f"{directory}/résumé 2.deb"))).content == b"r"
    deleted = alice.basic.delete(f"{url}/{quote(name)}")
    assert (deleted.status_code, deleted.json()) == (200, {})
    assert alice.basic.get(url).json() == ["résumé 2.deb"]
    assert alice.basic.delete(url).json() == {}
    assert alice.basic.get(api(live_server)).json() == []


def test_bad_names_are_400_and_create_nothing(live_server: LiveServer, alice: RestUser) -> None:
    for method in ("POST", "GET", "DELETE"):
        for bad in ("..", "%2E%2E", ".", "%01ctl", "a%00b", "tab%09name"):
            status, body = raw_request(live_server, alice, method, f"/api/files/{bad}")
            assert (status, set(body)) == (400, {"error"}), (method, bad)
        status, body = raw_request(live_server, alice, "DELETE", "/api/files/ok/%2E%2E")
        assert (status, set(body)) == (400, {"error"})
    refused = post_files(alice, "pool", [("file", ("bad\x01name.deb", b"x"))])
    assert (refused.status_code, set(refused.json())) == (400, {"error"})
    assert home_files(live_server, alice) == []
    assert usage(live_server, alice) == (0, 0)
    # The directory is created before the parts are read, as aptly does; it stays empty.
    assert alice.basic.get(api(live_server)).json() == ["pool"]
    not_multipart = alice.basic.post(api(live_server, "pool"), data=b"raw body")
    assert (not_multipart.status_code, set(not_multipart.json())) == (400, {"error"})
    assert home_files(live_server, alice) == []


def test_missing_dir_or_file_is_404(live_server: LiveServer, alice: RestUser) -> None:
    alice.basic.put(alice.dav("top-level.txt"), data=b"a file, not a directory")
    alice.basic.request("MKCOL", alice.dav("pool/"))
    alice.basic.request("MKCOL", alice.dav("pool/sub/"))
    alice.basic.put(alice.dav("pool/sub/deep.deb"), data=b"deep")
    for method, path in (
        ("GET", "missing"),
        ("GET", "top-level.txt"),
        ("DELETE", "missing"),
        ("DELETE", "top-level.txt"),
        ("DELETE", "missing/x.deb"),
        ("DELETE", "pool/x.deb"),
        ("DELETE", "pool/sub"),
    ):
        response = alice.basic.request(method, api(live_server, path))
        assert (response.status_code, set(response.json())) == (404, {"error"}), (method, path)
    # Subfolders are not files of the directory; the top-level file is not a directory.
    assert alice.basic.get(api(live_server, "pool")).json() == []
    assert alice.basic.get(api(live_server)).json() == ["pool"]
    assert alice.basic.get(alice.dav("pool/sub/deep.deb")).content == b"deep"
    assert alice.basic.get(alice.dav("top-level.txt")).status_code == 200


def test_file_where_a_folder_goes_is_409(live_server: LiveServer, alice: RestUser) -> None:
    alice.basic.put(alice.dav("taken"), data=b"file")
    response = post_files(alice, "taken", [("file", ("a.deb", b"a"))])
    assert (response.status_code, set(response.json())) == (409, {"error"})
    alice.basic.request("MKCOL", alice.dav("pool/"))
    alice.basic.request("MKCOL", alice.dav("pool/a.deb/"))
    clash = post_files(alice, "pool", [("file", ("a.deb", b"a"))])
    assert (clash.status_code, set(clash.json())) == (409, {"error"})
    assert home_files(live_server, alice) == ["taken"]


def test_truncated_body_stores_the_complete_parts_only(
    live_server: LiveServer, alice: RestUser
) -> None:
    body = (
        b"--b\r\nContent-Disposition: form-data; name=file; filename=whole.deb\r\n\r\n"
        b"whole\r\n--b\r\nContent-Disposition: form-data; name=file; filename=cut.deb\r\n\r\n"
        b"cut off here"
    )
    headers = {"Content-Type": "multipart/form-data; boundary=b"}
    response = alice.basic.post(api(live_server, "pool"), data=body, headers=headers)
    assert (response.status_code, set(response.json())) == (400, {"error"})
    assert home_files(live_server, alice) == ["pool/whole.deb"]
    assert usage(live_server, alice) == (len(b"whole"), 1)


def test_one_store_with_webdav(live_server: LiveServer, alice: RestUser) -> None:
    large = bytes(range(256)) * 12_289  # about 3 MiB: streamed in many blocks
    files = [("file", ("from-rest.deb", b"rest bytes")), ("file", ("large.deb", large))]
    assert post_files(alice, "rest", files).ok
    assert alice.basic.get(alice.dav("rest/from-rest.deb")).content == b"rest bytes"
    assert alice.basic.get(alice.dav("rest/large.deb")).content == large
    alice.basic.delete(alice.dav("rest/large.deb"))
    assert "/dav/rest/from-rest.deb" in propfind(alice.basic, alice.dav("rest/"), depth="1")
    alice.basic.request("MKCOL", alice.dav("dav/"))
    alice.basic.put(alice.dav("dav/from-dav.deb"), data=b"dav")
    alice.basic.put(alice.dav("loose.txt"), data=b"not in a directory")
    assert alice.basic.get(api(live_server)).json() == ["dav", "rest"]
    assert alice.basic.get(api(live_server, "dav")).json() == ["from-dav.deb"]
    store_usage = usage(live_server, alice)
    assert store_usage == (len(b"rest bytes" + b"dav" + b"not in a directory"), 3)
    # Delete through the dialect: gone from WebDAV.
    assert alice.basic.delete(api(live_server, "dav/from-dav.deb")).json() == {}
    assert alice.basic.get(alice.dav("dav/from-dav.deb")).status_code == 404
    assert alice.basic.delete(api(live_server, "dav")).json() == {}
    gone = alice.basic.request("PROPFIND", alice.dav("dav/"), headers={"Depth": "0"})
    assert gone.status_code == 404
    # Delete through WebDAV: gone from the dialect.
    alice.basic.delete(alice.dav("rest/from-rest.deb"))
    assert alice.basic.get(api(live_server, "rest")).json() == []
    alice.basic.delete(alice.dav("rest/"))
    assert alice.basic.get(api(live_server)).json() == []
    assert usage(live_server, alice) == (len(b"not in a directory"), 1)


def test_quota_exceeded_stores_nothing(live_server: LiveServer) -> None:
    carol = make_rest_user(live_server, "carol", max_bytes=100)
    response = post_files(carol, "big", [("file", ("big.deb", b"x" * 500))])
    assert response.status_code == 507
    assert set(response.json()) == {"error"}
    assert usage(live_server, carol) == (0, 0)
    assert home_files(live_server, carol) == []
    # The directory was created before the file was refused (aptly's order); it is empty.
    assert carol.basic.get(api(live_server, "big")).json() == []


def test_quota_failure_midway_keeps_earlier_files(live_server: LiveServer) -> None:
    carol = make_rest_user(live_server, "carol", max_bytes=100)
    parts = [("file", (f"{n}.deb", bytes([48 + n]) * 40)) for n in range(4)]
    response = post_files(carol, "pool", parts)
    assert (response.status_code, set(response.json())) == (507, {"error"})
    assert carol.basic.get(api(live_server, "pool")).json() == ["0.deb", "1.deb"]
    assert home_files(live_server, carol) == ["pool/0.deb", "pool/1.deb"]
    assert usage(live_server, carol) == (80, 2)
    dave = make_rest_user(live_server, "dave", max_files=1)
    response = post_files(dave, "pool", parts[:3])
    assert (response.status_code, set(response.json())) == (507, {"error"})
    assert home_files(live_server, dave) == ["pool/0.deb"]
    assert usage(live_server, dave) == (40, 1)


def test_other_users_cannot_touch_alices_files(
    live_server: LiveServer, alice: RestUser, bob: RestUser
) -> None:
    post_files(alice, "pool", [("file", ("mine.deb", b"alice"))])
    assert bob.basic.get(api(live_server)).json() == []
    for method, path in (("GET", "pool"), ("DELETE", "pool/mine.deb"), ("DELETE", "pool")):
        response = bob.basic.request(method, api(live_server, path))
        assert response.status_code == 404, (method, path)
    # Bob's "pool" is his own folder; uploading there changes nothing of alice's.
    assert post_files(bob, "pool", [("file", ("mine.deb", b"bob"))]).json() == ["pool/mine.deb"]
    assert alice.basic.get(alice.dav("pool/mine.deb")).content == b"alice"
    assert bob.basic.get(bob.dav("pool/mine.deb")).content == b"bob"
    assert usage(live_server, alice) == (5, 1)


def test_openapi_document_is_valid(live_server: LiveServer) -> None:
    spec = requests.get(live_server.url("/openapi.json"), timeout=30).json()
    ours = {path: item for path, item in spec["paths"].items() if path.startswith("/api/files")}
    assert set(ours) == {"/api/files", "/api/files/{dir}", "/api/files/{dir}/{file}"}
    assert set(ours["/api/files/{dir}"]) == {"post", "get", "delete"}
    validate({**spec, "paths": ours})
