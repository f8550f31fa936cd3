"""Users' files never run in the web app's origin, through any door.

A user's HTML or SVG file served inline in the origin of ``/app/`` could read the app's pages
with a logged-in visitor's session and act as that visitor. Every response without a policy
of its own is sandboxed (``davfiles/sandbox.py``); the browser test of the same attack is in
``tests/web/test_browser.py``.
"""

from __future__ import annotations

import requests

from davfiles.store import parse_user_path
from tests.harness import LiveServer

PAGE = b"<html><head><title>stored</title></head><body><script>document.title='ran'</script>"
SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'


def test_files_are_sandboxed_at_every_door(live_server: LiveServer) -> None:
    user = live_server.add_user("mallory")
    session = live_server.session(user)
    for name, body in (("page.html", PAGE), ("image.svg", SVG)):
        assert session.put(live_server.url(f"/dav/{name}"), data=body, timeout=30).ok
    store = live_server.services.store
    info = store.stat(user.owner, parse_user_path("page.html"))
    assert info is not None
    store.set_public(user.owner, info.id, True)
    fetched = [
        session.get(live_server.url("/dav/page.html"), timeout=30),
        session.head(live_server.url("/dav/image.svg"), timeout=30),
        session.get(live_server.url("/remote.php/webdav/image.svg"), timeout=30),
        session.get(live_server.url("/remote.php/dav/files/mallory/page.html"), timeout=30),
        requests.get(live_server.url(f"/public/{info.id}"), timeout=30),
    ]
    for answer in fetched:
        assert answer.status_code == 200, answer.url
        assert answer.headers["Content-Security-Policy"] == "sandbox", answer.url
        assert answer.headers["X-Content-Type-Options"] == "nosniff", answer.url
    assert fetched[0].content == PAGE


def test_pages_meant_for_browsers_keep_their_own_policy(live_server: LiveServer) -> None:
    login = requests.get(live_server.url("/app/login"), timeout=30)
    assert login.status_code == 200
    policy = login.headers["Content-Security-Policy"]
    assert "default-src 'self'" in policy and "sandbox" not in policy
