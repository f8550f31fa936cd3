"""molgenis (seed 004): the Files API's cURL and JavaScript examples and shapes, over the store."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import requests

from davfiles.rest.molgenis import id_text
from davfiles.store import ROOT
from tests.curl import run_curl
from tests.dav.helpers import propfind
from tests.harness import LiveServer
from tests.kept import live_usage
from tests.rest.conftest import RestUser, make_rest_user

META_KEYS = {"id", "filename", "contentType", "size"}


def files_url(server: LiveServer, file_id: str = "") -> str:
    return server.url("/molgenis/api/files" + (f"/{file_id}" if file_id else ""))


def token(user: RestUser) -> dict[str, str]:
    return {"x-molgenis-token": user.token}


def upload(user: RestUser, name: str, data: bytes, content_type: str = "text/plain") -> dict:
    response = requests.post(
        files_url(user.server),
        headers={**token(user), "Content-Type": content_type, "x-molgenis-filename": name},
        data=data,
    )
    assert response.status_code == 201, response.text
    return response.json()


def assert_errors(response: requests.Response, status: int) -> None:
    """MOLGENIS's error body: a list of messages, nothing else."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"errors"}
    assert [set(error) for error in body["errors"]] == [{"message"}]
    assert body["errors"][0]["message"]


def test_document_curl_example(live_server: LiveServer, alice: RestUser, tmp_path) -> None:
    my_file = tmp_path / "my.file"
    my_file.write_bytes(b"\x00\x01binary\xff" * 100)
    result = run_curl(
        "-H",
        "Content-Type: application/octet-stream",
        "--data-binary",
        f"@{my_file}",
        "-H",
        f"x-molgenis-token: {alice.token}",
        files_url(live_server),
    )
    assert result.status == 201
    meta = result.json()
    assert set(meta) == META_KEYS
    assert meta["filename"] == "unknown"
    assert meta["contentType"] == "application/octet-stream"
    assert meta["size"] == my_file.stat().st_size
    assert result.location == f"/molgenis/api/files/{meta['id']}"
    assert alice.basic.get(alice.dav("unknown")).content == my_file.read_bytes()


def test_javascript_example_headers(live_server: LiveServer, alice: RestUser) -> None:
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40
    response = requests.post(
        files_url(live_server),
        headers={
            **token(alice),
            "Content-Type": "image/png",
            "Content-Length": str(len(png)),
            "x-molgenis-filename": "logo_green.png",
        },
        data=png,
    )
    assert response.status_code == 201
    meta = response.json()
    assert meta == {
        "id": meta["id"],
        "filename": "logo_green.png",
        "contentType": "image/png",
        "size": len(png),
    }
    location = live_server.url(response.headers["Location"])
    assert location == files_url(live_server, meta["id"])
    assert requests.get(location, headers=token(alice)).json() == meta
    media = requests.get(location, headers=token(alice), params={"alt": "media"})
    assert media.status_code == 200
    assert media.content == png
    assert media.headers["Content-Type"] == "image/png"
    ranged = requests.get(
        location, headers={**token(alice), "Range": "bytes=8-11"}, params={"alt": "media"}
    )
    assert (ranged.status_code, ranged.content) == (206, bytes(range(4)))
    deleted = requests.delete(location, headers=token(alice))
    assert (deleted.status_code, deleted.content) == (204, b"")
    assert_errors(requests.get(location, headers=token(alice)), 404)
    assert_errors(requests.get(location, headers=token(alice), params={"alt": "media"}), 404)
    assert_errors(requests.delete(location, headers=token(alice)), 404)


def test_missing_content_type_and_filename_use_the_defaults(
    live_server: LiveServer, alice: RestUser
) -> None:
    response = requests.post(files_url(live_server), headers=token(alice), data=b"\x00raw")
    assert response.status_code == 201
    meta = response.json()
    assert (meta["filename"], meta["contentType"], meta["size"]) == (
        "unknown",
        "application/octet-stream",
        4,
    )


def test_form_media_types_are_refused(live_server: LiveServer, alice: RestUser) -> None:
    url = files_url(live_server)
    multipart = requests.post(url, headers=token(alice), files={"file": ("a.txt", b"abc")})
    assert_errors(multipart, 415)
    form = requests.post(url, headers=token(alice), data={"file": "abc"})
    assert_errors(form, 415)
    # curl --data-binary without -H 'Content-Type: ...' sends a form type: refused as well.
    result = run_curl("--data-binary", "abc", "-H", f"x-molgenis-token: {alice.token}", url)
    assert result.status == 415
    usage = live_server.services.store.usage(alice.user.owner)
    assert (usage.used_bytes, usage.used_files) == (0, 0)
    assert live_server.services.store.list_files(alice.user.owner) == []


def test_bad_filename_and_alt_are_400(live_server: LiveServer, alice: RestUser) -> None:
    for name in ("../escape.txt", "a/b.txt", ".."):
        response = requests.post(
            files_url(live_server),
            headers={**token(alice), "x-molgenis-filename": name},
            data=b"x",
        )
        assert_errors(response, 400)
    assert live_server.services.store.list_files(alice.user.owner) == []
    meta = upload(alice, "ok.txt", b"ok")
    bad_alt = requests.get(
        files_url(live_server, meta["id"]), headers=token(alice), params={"alt": "x"}
    )
    assert_errors(bad_alt, 400)


def test_utf8_filename_header(live_server: LiveServer, alice: RestUser) -> None:
    name = "résumé 2024.txt"
    response = requests.post(
        files_url(live_server),
        headers={**token(alice), "x-molgenis-filename": name.encode("utf-8")},
        data=b"cv",
    )
    assert response.status_code == 201
    assert response.json()["filename"] == name
    assert alice.basic.get(alice.dav("r%C3%A9sum%C3%A9%202024.txt")).content == b"cv"


def test_taken_name_is_stored_under_a_free_name(live_server: LiveServer, alice: RestUser) -> None:
    first = upload(alice, "report.txt", b"first")
    second = upload(alice, "report.txt", b"second")
    third = upload(alice, "report.txt", b"third")
    assert len({first["id"], second["id"], third["id"]}) == 3
    assert alice.basic.get(alice.dav("report.txt")).content == b"first"
    assert alice.basic.get(alice.dav("report (1).txt")).content == b"second"
    assert alice.basic.get(alice.dav("report (2).txt")).content == b"third"
    for meta, data in ((first, b"first"), (second, b"second"), (third, b"third")):
        url = files_url(live_server, meta["id"])
        assert requests.get(url, headers=token(alice), params={"alt": "media"}).content == data


def test_taken_name_keeps_the_original_filename(live_server: LiveServer, alice: RestUser) -> None:
    upload(alice, "report.txt", b"first")
    assert upload(alice, "report.txt", b"second")["filename"] == "report.txt"


def test_id_is_opaque_and_survives_webdav_move(live_server: LiveServer, alice: RestUser) -> None:
    meta = upload(alice, "draft.txt", b"moving bytes")
    assert meta["id"].isalnum() and meta["id"].islower() and not meta["id"].isdigit()
    alice.basic.request("MKCOL", alice.dav("archive/"))
    moved = alice.basic.request(
        "MOVE", alice.dav("draft.txt"), headers={"Destination": alice.dav("archive/final.txt")}
    )
    assert moved.status_code == 201
    url = files_url(live_server, meta["id"])
    # After a move the metadata names the file as it is now called.
    assert requests.get(url, headers=token(alice)).json() == {**meta, "filename": "final.txt"}
    media = requests.get(url, headers=token(alice), params={"alt": "media"})
    assert media.content == b"moving bytes"
    assert requests.delete(url, headers=token(alice)).status_code == 204
    assert alice.basic.get(alice.dav("archive/final.txt")).status_code == 404


def test_unknown_and_malformed_ids_are_404(live_server: LiveServer, alice: RestUser) -> None:
    alice.basic.request("MKCOL", alice.dav("folder/"))
    folder = live_server.services.store.list_dir(alice.user.owner, ROOT)[0]
    meta = upload(alice, "a.txt", b"a")
    for file_id in (
        id_text(folder.id),
        id_text(999_999),
        meta["id"].upper(),
        "1",
        "aaaaaaaaaaaab",
        "7777777777777",
        "aaaac2mp6yoxgaavluayxfiaae",
    ):
        url = files_url(live_server, file_id)
        assert_errors(requests.get(url, headers=token(alice)), 404)
        assert_errors(requests.delete(url, headers=token(alice)), 404)
    # A folder's id named no file, so DELETE left it alone.
    assert "/dav/folder/" in propfind(alice.basic, alice.dav("folder/"))
    assert requests.get(files_url(live_server, meta["id"]), headers=token(alice)).json() == meta


def test_one_store_with_webdav(live_server: LiveServer, alice: RestUser) -> None:
    store = live_server.services.store
    meta = upload(alice, "from-rest.txt", b"rest bytes")
    assert alice.basic.get(alice.dav("from-rest.txt")).content == b"rest bytes"
    assert "/dav/from-rest.txt" in propfind(alice.basic, alice.dav(""), depth="1")
    alice.basic.request("MKCOL", alice.dav("sub/"))
    alice.basic.put(alice.dav("sub/from-dav.txt"), data=b"dav")
    dav_info = store.stat(alice.user.owner, ROOT.child("sub").child("from-dav.txt"))
    assert dav_info is not None
    dav_url = files_url(live_server, id_text(dav_info.id))
    assert requests.get(dav_url, headers=token(alice)).json() == {
        "id": id_text(dav_info.id),
        "filename": "from-dav.txt",
        "contentType": "text/plain",
        "size": 3,
    }
    usage = store.usage(alice.user.owner)
    assert (usage.used_bytes, usage.used_files) == (len(b"rest bytes") + 3, 2)
    assert requests.delete(dav_url, headers=token(alice)).status_code == 204
    assert alice.basic.get(alice.dav("sub/from-dav.txt")).status_code == 404
    assert alice.basic.delete(alice.dav("from-rest.txt")).status_code == 204
    assert_errors(requests.get(files_url(live_server, meta["id"]), headers=token(alice)), 404)
    assert live_usage(live_server.services, alice.user.owner) == (0, 0)  # the rest is trash


def test_quota_exceeded_stores_nothing(live_server: LiveServer) -> None:
    carol = make_rest_user(live_server, "carol", max_bytes=100, max_files=1)
    url = files_url(live_server)
    headers = {**token(carol), "x-molgenis-filename": "big.bin"}
    assert_errors(requests.post(url, headers=headers, data=b"x" * 500), 507)

    def chunks() -> Iterator[bytes]:
        yield from (b"y" * 60, b"y" * 60)

    assert_errors(requests.post(url, headers=headers, data=chunks()), 507)
    store = live_server.services.store
    usage = store.usage(carol.user.owner)
    assert (usage.used_bytes, usage.used_files) == (0, 0)
    assert list(store.home(carol.user.owner).iterdir()) == []
    upload(carol, "one.txt", b"one")
    assert_errors(requests.post(url, headers=headers, data=b"two"), 507)
    usage = store.usage(carol.user.owner)
    assert (usage.used_bytes, usage.used_files) == (3, 1)
    assert [path.name for path in store.home(carol.user.owner).iterdir()] == ["one.txt"]


def test_other_user_cannot_touch_files(
    live_server: LiveServer, alice: RestUser, bob: RestUser
) -> None:
    meta = upload(alice, "mine.txt", b"alice")
    url = files_url(live_server, meta["id"])
    assert_errors(requests.get(url, headers=token(bob)), 404)
    assert_errors(requests.get(url, headers=token(bob), params={"alt": "media"}), 404)
    assert_errors(requests.delete(url, headers=token(bob)), 404)
    assert upload(bob, "mine.txt", b"bob")["filename"] == "mine.txt"
    assert alice.basic.get(alice.dav("mine.txt")).content == b"alice"
    assert requests.get(url, headers=token(alice), params={"alt": "media"}).content == b"alice"


def test_credentials(live_server: LiveServer, alice: RestUser) -> None:
    url = files_url(live_server)
    assert_errors(requests.post(url, data=b"x"), 401)
    assert_errors(requests.post(url, headers={"x-molgenis-token": "wrong"}, data=b"x"), 401)
    assert_errors(requests.get(files_url(live_server, id_text(1))), 401)
    assert_errors(requests.delete(files_url(live_server, id_text(1))), 401)
    for headers in (
        {"Authorization": f"Bearer {alice.token}"},
        {"Authorization": f"Token {alice.token}"},
    ):
        assert requests.post(url, headers=headers, data=b"x").status_code == 201
    assert alice.basic.post(url, data=b"x").status_code == 201
    assert live_server.services.store.usage(alice.user.owner).used_files == 3


def test_openapi_describes_real_responses(live_server: LiveServer, alice: RestUser) -> None:
    paths = requests.get(live_server.url("/openapi.json")).json()["paths"]
    post = paths["/molgenis/api/files"]["post"]
    item = paths["/molgenis/api/files/{file_id}"]
    created = requests.post(
        files_url(live_server), headers={**token(alice), "x-molgenis-filename": "o.txt"}, data=b"o"
    )
    refused = requests.post(files_url(live_server), headers=token(alice), data={"a": "b"})
    anonymous = requests.post(files_url(live_server), data=b"x")
    url = files_url(live_server, created.json()["id"])
    metadata = requests.get(url, headers=token(alice))
    deleted = requests.delete(url, headers=token(alice))
    missing = requests.get(url, headers=token(alice))
    for operation, response in (
        (post, created),
        (post, refused),
        (post, anonymous),
        (item["get"], metadata),
        (item["delete"], deleted),
        (item["get"], missing),
    ):
        described = operation["responses"][str(response.status_code)]
        if response.content:
            check_schema(described["content"]["application/json"]["schema"], response.json())
    assert "Location" in post["responses"]["201"]["headers"]


def check_schema(schema: dict[str, Any], value: Any) -> None:
    """The subset of JSON Schema the dialect's document uses: objects, arrays, scalars."""
    kind = schema.get("type")
    if kind == "object":
        assert isinstance(value, dict)
        assert set(value) == set(schema["required"]) == set(schema["properties"])
        for key, item in value.items():
            check_schema(schema["properties"][key], item)
    elif kind == "array":
        assert isinstance(value, list) and len(value) >= schema.get("minItems", 0)
        for item in value:
            check_schema(schema["items"], item)
    elif kind == "string":
        assert isinstance(value, str)
    elif kind == "integer":
        assert isinstance(value, int) and value >= schema.get("minimum", value)
