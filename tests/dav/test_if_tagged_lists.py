"""Tagged ``If`` lists name a resource by the URL the client used, and are honoured.

The Nextcloud and ownCloud clients send a changed file of over 10 MB in chunks and finish with a
MOVE carrying ``If: <destination> (["<etag they last saw>"])``: when the file changed on the
server meanwhile, the answer must be 412 (the client then keeps a conflict copy), never an
overwrite of the server's change.
"""

from __future__ import annotations

import pytest
import requests

from tests.dav.test_chunked_upload import FILES, UPLOADS, alice
from tests.harness import LiveServer


def staged_upload(server: LiveServer, session: requests.Session, body: bytes) -> str:
    assert session.request("MKCOL", server.url(UPLOADS + "t1/")).status_code == 201
    assert session.put(server.url(UPLOADS + "t1/0000000000000000"), data=body).status_code == 201
    return UPLOADS + "t1/.file"


def test_chunked_move_with_a_stale_etag_keeps_the_server_change(live_server: LiveServer) -> None:
    _user, session = alice(live_server)
    seen = session.put(live_server.url(FILES + "f.bin"), data=b"as synced").headers["OC-ETag"]
    assert session.put(live_server.url(FILES + "f.bin"), data=b"server edit").status_code == 204
    source = staged_upload(live_server, session, b"client edit")
    moved = session.request(
        "MOVE",
        live_server.url(source),
        headers={"Destination": FILES + "f.bin", "If": f"<{FILES}f.bin> ([{seen}])"},
    )
    assert moved.status_code == 412, moved.text
    assert session.get(live_server.url(FILES + "f.bin")).content == b"server edit"


def test_chunked_move_with_the_current_etag_replaces(live_server: LiveServer) -> None:
    _user, session = alice(live_server)
    current = session.put(live_server.url(FILES + "f.bin"), data=b"as synced").headers["OC-ETag"]
    source = staged_upload(live_server, session, b"client edit")
    tag = live_server.url(FILES + "f.bin")  # as an absolute URL this time
    moved = session.request(
        "MOVE",
        live_server.url(source),
        headers={"Destination": FILES + "f.bin", "If": f"<{tag}> ([{current}])"},
    )
    assert moved.status_code == 204, moved.text
    assert session.get(live_server.url(FILES + "f.bin")).content == b"client edit"


@pytest.mark.parametrize("mount", ["/dav/", "/remote.php/webdav/", FILES])
def test_put_with_a_tagged_stale_etag_is_refused(live_server: LiveServer, mount: str) -> None:
    _user, session = alice(live_server)
    seen = session.put(live_server.url(mount + "n.txt"), data=b"one").headers["ETag"]
    assert session.put(live_server.url(mount + "n.txt"), data=b"two").status_code == 204
    stale = session.put(
        live_server.url(mount + "n.txt"),
        data=b"three",
        headers={"If": f"<{mount}n.txt> ([{seen}])"},
    )
    assert stale.status_code == 412, stale.text
    current = session.get(live_server.url(mount + "n.txt"))
    assert current.content == b"two"
    fresh = session.put(
        live_server.url(mount + "n.txt"),
        data=b"three",
        headers={"If": f"<{mount}n.txt> ([{current.headers['ETag']}])"},
    )
    assert fresh.status_code == 204, fresh.text


def test_a_tag_that_is_no_url_names_nothing(live_server: LiveServer) -> None:
    _user, session = alice(live_server)
    assert session.put(live_server.url("/dav/n.txt"), data=b"one").status_code == 201
    odd = session.put(
        live_server.url("/dav/n.txt"), data=b"two", headers={"If": '<http://[::1/x> (["e"])'}
    )
    assert odd.status_code == 204, odd.text
    assert session.get(live_server.url("/dav/n.txt")).content == b"two"
