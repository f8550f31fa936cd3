"""Honest errors: client mistakes at every door are 4xx with a short, clear message.

Each case is one malformed or mistaken request, sent as raw bytes to WebDAV (``/dav/``, the
ownCloud and Nextcloud paths, Nextcloud chunked uploads) or to a REST dialect. Every answer
must be 4xx, carry a message, and reveal nothing of the server: no data dir path, no stack
trace, no configuration value.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from davfiles.app import Services, create_services
from davfiles.config import Settings
from davfiles.rest.io import MAX_PARTS
from davfiles.rest.molgenis import id_text
from davfiles.store import parse_user_path
from tests.harness import LiveServer
from tests.security.rawhttp import raw_request

JWT_SECRET = "jwt-secret-that-must-never-leak-0123456789"
MAX_BODY = 4096
LONG_NAME = "n" * 300
BOUNDARY = "XyZ"
AUTH = "Basic " + base64.b64encode(b"alice:alice-pw").decode()


@dataclass(frozen=True)
class Case:
    method: str
    target: str
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    # Statuses a correct server may answer; every one is 4xx.
    expected: tuple[int, ...] = (400,)


def multipart(name: str, filename: str, data: bytes, *, close: bool = True) -> bytes:
    head = (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    return head + data + (f"\r\n--{BOUNDARY}--\r\n".encode() if close else b"")


FORM = {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}
JSON = {"Content-Type": "application/json"}
XML = {"Content-Type": "application/xml"}
LOCK_BODY = (
    b'<?xml version="1.0"?><D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/>'
    b"</D:lockscope><D:locktype><D:write/></D:locktype></D:lockinfo>"
)


def webdav_cases(root: str) -> dict[str, Case]:
    """Mistakes against one WebDAV mount (``root`` ends in a slash)."""
    return {
        "get-missing": Case("GET", root + "missing.txt", expected=(404,)),
        "put-no-parent": Case("PUT", root + "no/such/dir.txt", body=b"x", expected=(409,)),
        "propfind-bad-xml": Case(
            "PROPFIND", root, {"Depth": "0", **XML}, b"<D:propfind xmlns:D='DAV:'><D:prop>"
        ),
        "propfind-bad-depth": Case("PROPFIND", root, {"Depth": "2"}),
        "propfind-infinity": Case("PROPFIND", root, {"Depth": "infinity"}, expected=(403,)),
        "proppatch-bad-xml": Case("PROPPATCH", root + "file.txt", XML, b"<not-xml"),
        "copy-no-destination": Case("COPY", root + "file.txt"),
        "copy-bad-destination": Case(
            "COPY", root + "file.txt", {"Destination": "http://[::1"}, expected=(400, 502)
        ),
        "copy-bad-depth": Case(
            "COPY", root + "folder", {"Destination": root + "copied", "Depth": "2"}
        ),
        "move-bad-overwrite": Case(
            "MOVE", root + "file.txt", {"Destination": root + "moved.txt", "Overwrite": "maybe"}
        ),
        "move-onto-itself": Case(
            "MOVE", root + "file.txt", {"Destination": root + "file.txt"}, expected=(403, 409)
        ),
        "move-missing": Case(
            "MOVE", root + "missing.txt", {"Destination": root + "x.txt"}, expected=(404,)
        ),
        "put-bad-if": Case(
            "PUT", root + "file.txt", {"If": "(<garbage"}, b"x", expected=(400, 412)
        ),
        "put-unknown-lock": Case(
            "PUT",
            root + "file.txt",
            {"If": "(<opaquelocktoken:no-such-lock>)"},
            b"x",
            expected=(412, 423),
        ),
        "lock-bad-xml": Case("LOCK", root + "file.txt", XML, b"<D:lockinfo"),
        "lock-bad-depth": Case("LOCK", root + "folder", {"Depth": "1", **XML}, LOCK_BODY),
        "unlock-no-token": Case("UNLOCK", root + "file.txt"),
        "unlock-unknown-token": Case(
            "UNLOCK",
            root + "file.txt",
            {"Lock-Token": "<opaquelocktoken:no-such-lock>"},
            expected=(400, 409),
        ),
        "mkcol-with-body": Case("MKCOL", root + "newdir", XML, b"<x/>", expected=(415,)),
        "mkcol-exists": Case("MKCOL", root + "folder", expected=(405,)),
        "mkcol-no-parent": Case("MKCOL", root + "a/b/c", expected=(409,)),
        "get-range-unsatisfiable": Case(
            "GET", root + "file.txt", {"Range": "bytes=1000-2000"}, expected=(416,)
        ),
        "put-long-name": Case("PUT", root + LONG_NAME, body=b"x"),
        "unknown-method": Case("BREW", root + "file.txt", expected=(405,)),
        "delete-home": Case("DELETE", root, expected=(403,)),
    }


CHUNKS = "/remote.php/dav/uploads/alice/"
NEXTCLOUD_CASES = {
    "chunk-no-folder": Case("PUT", CHUNKS + "nofolder/0001", body=b"x", expected=(404, 409)),
    "chunk-long-name": Case("PUT", CHUNKS + "up/" + LONG_NAME, body=b"x"),
    "assemble-missing-folder": Case(
        "MOVE",
        CHUNKS + "missing/.file",
        {"Destination": "/remote.php/dav/files/alice/big.bin"},
        expected=(404,),
    ),
    "assemble-wrong-total": Case(
        "MOVE",
        CHUNKS + "up/.file",
        {"Destination": "/remote.php/dav/files/alice/big.bin", "OC-Total-Length": "999"},
    ),
    "other-users-uploads": Case("MKCOL", "/remote.php/dav/uploads/bob/x", expected=(403, 404)),
    "other-users-files": Case(
        "PROPFIND", "/remote.php/dav/files/bob/", {"Depth": "0"}, expected=(403, 404)
    ),
}

REST_CASES = {
    # okeanos
    "okeanos-not-multipart": Case("PUT", "/backend/user_files", JSON, b"{}"),
    "okeanos-truncated-multipart": Case(
        "PUT", "/backend/user_files", FORM, multipart("file", "a.txt", b"abc", close=False)
    ),
    "okeanos-no-boundary": Case(
        "PUT", "/backend/user_files", {"Content-Type": "multipart/form-data"}, b"x"
    ),
    "okeanos-long-name": Case(
        "PUT", "/backend/user_files", FORM, multipart("file", LONG_NAME, b"abc")
    ),
    "okeanos-5000-byte-name": Case(
        "PUT", "/backend/user_files", FORM, multipart("file", "n" * 5000, b"abc")
    ),
    "okeanos-delete-no-id": Case("DELETE", "/backend/user_files"),
    "okeanos-delete-form-no-id": Case(
        "DELETE",
        "/backend/user_files",
        {"Content-Type": "application/x-www-form-urlencoded"},
        b"name=x",
    ),
    "okeanos-delete-json-true": Case("DELETE", "/backend/user_files", JSON, b'{"id": true}'),
    "okeanos-delete-bad-json": Case("DELETE", "/backend/user_files", JSON, b"{not json"),
    "okeanos-delete-json-list": Case("DELETE", "/backend/user_files", JSON, b"[1, 2]"),
    "okeanos-delete-unknown-id": Case("DELETE", "/backend/user_files?id=999999", expected=(404,)),
    "okeanos-delete-huge-id": Case(
        "DELETE", "/backend/user_files?id=99999999999999999999999", expected=(400, 404)
    ),
    "okeanos-wrong-method": Case("POST", "/backend/user_files", expected=(405,)),
    # defdrive
    "defdrive-login-bad-json": Case("POST", "/defdrive/api/login", JSON, b"{oops"),
    "defdrive-login-missing-fields": Case(
        "POST", "/defdrive/api/login", JSON, b'{"username": "alice"}'
    ),
    "defdrive-login-wrong-types": Case(
        "POST", "/defdrive/api/login", JSON, b'{"username": 1, "password": []}'
    ),
    "defdrive-signup-off": Case(
        "POST", "/defdrive/api/signup", JSON, b'{"username": "x", "password": "y"}', (403,)
    ),
    "defdrive-upload-not-multipart": Case("POST", "/defdrive/api/upload", JSON, b"{}"),
    "defdrive-upload-no-file": Case(
        "POST", "/defdrive/api/upload", FORM, f"--{BOUNDARY}--\r\n".encode()
    ),
    "defdrive-upload-truncated": Case(
        "POST", "/defdrive/api/upload", FORM, multipart("file", "a.txt", b"abc", close=False)
    ),
    "defdrive-upload-long-name": Case(
        "POST", "/defdrive/api/upload", FORM, multipart("file", LONG_NAME, b"abc")
    ),
    "defdrive-access-bad-json": Case("PUT", "/defdrive/api/files/1/access", JSON, b"{"),
    "defdrive-access-no-flag": Case("PUT", "/defdrive/api/files/1/access", JSON, b"{}"),
    "defdrive-access-bad-id": Case(
        "PUT", "/defdrive/api/files/abc/access", JSON, b'{"public": true}'
    ),
    "defdrive-access-unknown-id": Case(
        "PUT", "/defdrive/api/files/999999/access", JSON, b'{"public": true}', (404,)
    ),
    "defdrive-5000-byte-name": Case(
        "POST", "/defdrive/api/upload", FORM, multipart("file", "n" * 5000, b"abc")
    ),
    "defdrive-delete-unknown-id": Case("DELETE", "/defdrive/api/files/999999", expected=(404,)),
    "defdrive-delete-huge-id": Case(
        "DELETE", "/defdrive/api/files/99999999999999999999999", expected=(400, 404)
    ),
    "defdrive-wrong-method": Case("DELETE", "/defdrive/api/files", expected=(405,)),
    # aptly
    "aptly-not-multipart": Case("POST", "/api/files/up", JSON, b"{}"),
    "aptly-truncated": Case(
        "POST", "/api/files/up", FORM, multipart("file", "a.txt", b"abc", close=False)
    ),
    "aptly-long-file-name": Case("POST", "/api/files/up", FORM, multipart("f", LONG_NAME, b"a")),
    "aptly-long-dir": Case("POST", f"/api/files/{LONG_NAME}", FORM, multipart("f", "a", b"a")),
    "aptly-5000-byte-name": Case("POST", "/api/files/up", FORM, multipart("f", "n" * 5000, b"a")),
    "aptly-too-many-parts": Case(
        "POST",
        "/api/files/up",
        FORM,
        b"".join(
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="f{i}"\r\n\r\nv\r\n'.encode()
            for i in range(MAX_PARTS + 1)
        )
        + f"--{BOUNDARY}--\r\n".encode(),
    ),
    "aptly-list-missing": Case("GET", "/api/files/missing", expected=(404,)),
    "aptly-delete-missing": Case("DELETE", "/api/files/missing/a.txt", expected=(404,)),
    "aptly-wrong-method": Case("PUT", "/api/files", expected=(405,)),
    # spacedog
    "spacedog-put-folder": Case("PUT", "/1/file/folder/", body=b"x"),
    "spacedog-put-home": Case("PUT", "/1/file", body=b"x"),
    "spacedog-put-long-name": Case("PUT", f"/1/file/{LONG_NAME}", body=b"x"),
    "spacedog-get-missing": Case("GET", "/1/file/missing.txt", expected=(404,)),
    "spacedog-delete-missing": Case("DELETE", "/1/file/missing/", expected=(404,)),
    "spacedog-bad-range": Case(
        "GET", "/1/file/file.txt", {"Range": "bytes=1000-2000"}, expected=(416,)
    ),
    "spacedog-put-onto-folder": Case("PUT", "/1/file/folder", body=b"x", expected=(409,)),
    "spacedog-wrong-method": Case("POST", "/1/file/a.txt", expected=(405,)),
    # molgenis
    "molgenis-multipart": Case(
        "POST", "/molgenis/api/files", FORM, multipart("f", "a", b"a"), (415,)
    ),
    "molgenis-long-name": Case(
        "POST", "/molgenis/api/files", {"x-molgenis-filename": LONG_NAME}, b"x"
    ),
    "molgenis-slash-name": Case(
        "POST", "/molgenis/api/files", {"x-molgenis-filename": "a/../b"}, b"x"
    ),
    "molgenis-unknown-id": Case("GET", "/molgenis/api/files/aaaaaaaaaaaaa", expected=(404,)),
    "molgenis-bad-id": Case("GET", "/molgenis/api/files/not-an-id", expected=(404,)),
    "molgenis-bad-alt": Case("GET", "/molgenis/api/files/{file}?alt=xml"),
    "molgenis-bad-range": Case(
        "GET", "/molgenis/api/files/{file}?alt=media", {"Range": "bytes=99-"}, expected=(416,)
    ),
    "molgenis-delete-unknown": Case("DELETE", "/molgenis/api/files/aaaaaaaaaaaaa", expected=(404,)),
    "molgenis-wrong-method": Case("PUT", "/molgenis/api/files", expected=(405,)),
    "public-missing": Case("GET", "/public/999999", expected=(404,)),
}

CASES = {
    **{f"dav-{k}": v for k, v in webdav_cases("/dav/").items()},
    **{f"owncloud-{k}": v for k, v in webdav_cases("/remote.php/webdav/").items()},
    **{f"nextcloud-{k}": v for k, v in webdav_cases("/remote.php/dav/files/alice/").items()},
    **{f"chunks-{k}": v for k, v in NEXTCLOUD_CASES.items()},
    **REST_CASES,
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    data_dir = tmp_path_factory.mktemp("errors") / "data"
    services: Services = create_services(Settings(data_dir=data_dir, jwt_secret=JWT_SECRET))
    live = LiveServer(services)
    alice = live.add_user("alice", "alice-pw")
    live.add_user("bob", "bob-pw")
    store = services.store
    store.write_bytes(alice.owner, parse_user_path("/file.txt"), b"hello")
    store.mkdir(alice.owner, parse_user_path("/folder"))
    store.chunked_uploads.create(alice.owner, "up")
    writer = store.chunked_uploads.open_chunk(alice.owner, "up", "0001", 3)
    writer.write(b"abc")
    writer.commit()
    yield live
    live.stop()
    services.close()


def leaks(server: LiveServer, body: bytes) -> list[str]:
    """What in ``body`` a client must never see."""
    settings = server.services.settings
    secrets = {
        "data dir": str(Path(settings.data_dir).resolve()),
        "database": settings.effective_database_url,
        "jwt secret": JWT_SECRET,
    }
    found = [name for name, value in secrets.items() if value.encode() in body]
    found += [
        marker for marker in ("Traceback", 'File "', "site-packages") if marker.encode() in body
    ]
    return found


@pytest.mark.parametrize("name", list(CASES))
def test_client_mistake_is_an_honest_4xx(server: LiveServer, name: str) -> None:
    case = CASES[name]
    alice = server.services.accounts.owner("alice")
    info = server.services.store.stat(alice, parse_user_path("/file.txt"))
    assert info is not None
    target = case.target.replace("{file}", id_text(info.id))
    headers = {"Authorization": AUTH, **case.headers, "Content-Length": str(len(case.body))}
    status, response = raw_request(server.port, case.method, target.encode(), headers, case.body)
    head, _, body = response.partition(b"\r\n\r\n")
    assert status in case.expected, (status, response[:600])
    assert len(body) <= MAX_BODY, body[:600]
    assert not leaks(server, response), (leaks(server, response), response[:600])
    if case.method != "HEAD" and status not in (416,):
        assert body.strip(), f"{status} without a message"


def test_okeanos_delete_by_json_body_is_answered(server: LiveServer) -> None:
    """A JSON body is read up to its length (it once blocked waiting for more)."""
    alice = server.services.accounts.owner("alice")
    info = server.services.store.write_bytes(alice, parse_user_path("/gone.txt"), b"x")
    body = json.dumps({"id": info.id}).encode()
    headers = {"Authorization": AUTH, **JSON, "Content-Length": str(len(body))}
    status, response = raw_request(server.port, "DELETE", b"/backend/user_files", headers, body)
    assert status == 200, response
    assert server.services.store.stat_id(alice, info.id) is None
