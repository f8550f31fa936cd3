"""Login, sessions and CSRF of the web app, over plain HTTP as a browser without JavaScript."""

from __future__ import annotations

import hashlib

import requests
from sqlalchemy import select

from davfiles.auth.secrets import TOKEN_PREFIX
from davfiles.db.models import WebSession
from davfiles.web.app import SESSION_COOKIE
from tests.harness import LiveServer
from tests.web.helpers import Browser, Page


def test_login_with_the_password_opens_the_files_and_sets_a_strict_cookie(
    live_server: LiveServer,
) -> None:
    user = live_server.add_user("alice")
    browser = Browser(live_server)
    first = browser.get("/app/files/", follow=False)
    assert first.status_code == 303
    assert first.headers["Location"].startswith("/app/login?next=")
    page = browser.page(first.headers["Location"])
    form = page.form("/app/login")
    assert form.value("next") == "/app/files/"
    response = browser.submit(form, {"user": "alice", "password": user.password}, follow=False)
    assert response.status_code == 303
    assert response.headers["Location"] == "/app/files/"
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith(f"{SESSION_COOKIE}=")
    for attribute in ("HttpOnly", "SameSite=Lax", "Path=/app/"):
        assert attribute in cookie
    assert "Secure" not in cookie  # plain HTTP here; test_tls_cookie.py checks HTTPS
    home = browser.page("/app/files/")
    assert home.title.startswith("Home")


def test_only_the_hash_of_the_session_token_is_stored(live_server: LiveServer) -> None:
    user = live_server.add_user("alice")
    browser = Browser(live_server)
    browser.login(user)
    secret = browser.http.cookies[SESSION_COOKIE]
    with live_server.services.db.read() as session:
        stored = session.scalars(select(WebSession.token_sha256)).all()
    assert stored == [hashlib.sha256(secret.encode()).hexdigest()]


def test_login_with_an_api_token_works_and_a_wrong_password_is_refused(
    live_server: LiveServer,
) -> None:
    user = live_server.add_user("alice")
    _id, token = live_server.services.accounts.create_token("alice", "web")
    wrong = Browser(live_server).login(user, "not-the-password")
    assert wrong.status_code == 401
    assert "Wrong user name or password" in Page(wrong.text).text
    browser = Browser(live_server)
    assert browser.login(user, token).status_code == 200
    assert browser.get("/app/files/", follow=False).status_code == 200


def test_login_failures_are_throttled_as_for_webdav(live_server: LiveServer) -> None:
    user = live_server.add_user("alice")
    statuses = [Browser(live_server).login(user, f"wrong-{n}").status_code for n in range(12)]
    assert statuses[0] == 401
    assert 429 in statuses
    # The throttle is the authenticator's own: WebDAV with the right password waits too.
    assert requests.get(live_server.url("/dav/"), auth=user.auth).status_code == 429


def test_a_login_form_without_its_csrf_cookie_or_from_another_site_is_refused(
    live_server: LiveServer,
) -> None:
    user = live_server.add_user("alice")
    browser = Browser(live_server)
    form = browser.page("/app/login").form("/app/login")
    foreign = browser.submit(
        form, {"user": "alice", "password": user.password}, origin="https://evil.example"
    )
    assert foreign.status_code == 403
    stranger = Browser(live_server)  # no CSRF cookie: the field alone proves nothing
    replay = stranger.submit(form, {"user": "alice", "password": user.password})
    assert replay.status_code == 403
    assert SESSION_COOKIE not in stranger.http.cookies


def test_logout_ends_the_session_on_the_server(live_server: LiveServer) -> None:
    user = live_server.add_user("alice")
    browser = Browser(live_server)
    browser.login(user)
    secret = browser.http.cookies[SESSION_COOKIE]
    page = browser.page("/app/files/")
    response = browser.submit(page.form("/app/logout"), follow=False)
    assert response.status_code == 303
    assert response.headers["Location"] == "/app/login"
    # A copy of the cookie kept elsewhere is of no use any more.
    replay = requests.get(
        live_server.url("/app/files/"), cookies={SESSION_COOKIE: secret}, allow_redirects=False
    )
    assert replay.status_code == 303
    assert replay.headers["Location"].startswith("/app/login")


def test_log_out_everywhere_ends_every_browser_of_the_user_only(live_server: LiveServer) -> None:
    alice = live_server.add_user("alice")
    bob = live_server.add_user("bob")
    first, second, other = Browser(live_server), Browser(live_server), Browser(live_server)
    first.login(alice)
    second.login(alice)
    other.login(bob)
    account = second.page("/app/account")
    assert sum("test browser" in row for row in account.rows) == 2
    second.submit(account.form("/app/logout-everywhere"))
    for browser in (first, second):
        assert browser.get("/app/files/", follow=False).status_code == 303
    assert other.get("/app/files/", follow=False).status_code == 200


def test_ending_one_other_session_from_the_account_page(live_server: LiveServer) -> None:
    alice = live_server.add_user("alice")
    first, second = Browser(live_server), Browser(live_server)
    first.login(alice)
    second.login(alice)
    account = second.page("/app/account")
    form = account.form("/app/account/end-session")
    assert second.submit(form).status_code == 200
    assert first.get("/app/files/", follow=False).status_code == 303
    assert second.get("/app/files/", follow=False).status_code == 200


def test_a_password_change_ends_every_session_and_keeps_the_changing_browser(
    live_server: LiveServer,
) -> None:
    alice = live_server.add_user("alice")
    elsewhere, here = Browser(live_server), Browser(live_server)
    elsewhere.login(alice)
    here.login(alice)
    form = here.page("/app/account").form("/app/account/password")
    wrong = here.submit(
        form, {"current": "nope", "new": "new-password-1", "confirm": "new-password-1"}
    )
    assert wrong.status_code == 403
    changed = here.submit(
        form, {"current": alice.password, "new": "new-password-1", "confirm": "new-password-1"}
    )
    assert changed.status_code == 200
    assert "Your password was changed" in Page(changed.text).text
    assert elsewhere.get("/app/files/", follow=False).status_code == 303
    assert here.get("/app/files/", follow=False).status_code == 200
    propfind = requests.request(
        "PROPFIND",
        live_server.url("/dav/"),
        auth=("alice", "new-password-1"),
        headers={"Depth": "0"},
    )
    assert propfind.status_code == 207


def test_a_password_set_by_the_administrator_ends_the_sessions_too(
    live_server: LiveServer,
) -> None:
    alice = live_server.add_user("alice")
    browser = Browser(live_server)
    browser.login(alice)
    live_server.services.accounts.set_password("alice", "set-by-admin")
    assert browser.get("/app/files/", follow=False).status_code == 303


def test_a_change_without_the_csrf_token_or_from_another_origin_is_refused(
    live_server: LiveServer,
) -> None:
    alice = live_server.add_user("alice")
    browser = Browser(live_server)
    browser.login(alice)
    form = browser.page("/app/files/").form("/app/do/mkdir")
    no_token = browser.submit(form, {"name": "a", "csrf": ""})
    assert no_token.status_code == 403
    bad_token = browser.submit(form, {"name": "b", "csrf": "0" * 64})
    assert bad_token.status_code == 403
    foreign = browser.submit(form, {"name": "c"}, origin="https://evil.example")
    assert foreign.status_code == 403
    null_origin = browser.submit(form, {"name": "d"}, origin="null")
    assert null_origin.status_code == 403
    store, owner = live_server.services.store, alice.owner
    assert [info.name for info in store.list_dir(owner, store_root())] == []
    assert browser.submit(form, {"name": "e"}).status_code == 200
    assert [info.name for info in store.list_dir(owner, store_root())] == ["e"]


def test_the_session_cookie_opens_no_door_but_the_app(live_server: LiveServer) -> None:
    alice = live_server.add_user("alice")
    live_server.services.store.write_bytes(alice.owner, parse("a.txt"), b"hello")
    browser = Browser(live_server)
    browser.login(alice)
    cookies = {SESSION_COOKIE: browser.http.cookies[SESSION_COOKIE]}
    for path in (
        "/dav/a.txt",
        "/remote.php/webdav/a.txt",
        "/remote.php/dav/files/alice/a.txt",
        "/ocs/v2.php/cloud/user?format=json",
    ):
        response = requests.get(live_server.url(path), cookies=cookies, allow_redirects=False)
        assert response.status_code == 401, path
    propfind = requests.request(
        "PROPFIND", live_server.url("/dav/"), cookies=cookies, headers={"Depth": "1"}
    )
    assert propfind.status_code == 401
    # Even a browser's navigation to a file under /dav/ asks for credentials.
    navigation = browser.get("/dav/a.txt", follow=False)
    assert navigation.status_code == 401


def test_every_app_page_has_the_strict_headers(live_server: LiveServer) -> None:
    alice = live_server.add_user("alice")
    browser = Browser(live_server)
    login = browser.get("/app/login")
    browser.login(alice)
    for response in (login, browser.get("/app/files/"), browser.get("/app/trash")):
        headers = response.headers
        assert "default-src 'self'" in headers["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
        assert "unsafe-inline" not in headers["Content-Security-Policy"]
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Referrer-Policy"] == "same-origin"


def test_the_static_files_are_small_and_served_from_the_package(live_server: LiveServer) -> None:
    browser = Browser(live_server)
    sizes = 0
    for name, kind in (("app.css", "text/css"), ("app.js", "text/javascript")):
        response = browser.get(f"/app/static/{name}")
        assert response.status_code == 200
        assert response.headers["Content-Type"].startswith(kind)
        sizes += len(response.content)
    assert sizes < 60 * 1024
    assert browser.get("/app/static/../app.py").status_code == 404
    assert browser.get("/app/static/nothing.js").status_code == 404


def test_login_redirects_only_inside_the_app(live_server: LiveServer) -> None:
    alice = live_server.add_user("alice")
    browser = Browser(live_server)
    page = browser.page("/app/login?next=//evil.example/x")
    assert page.form("/app/login").value("next") == "/app/files/"
    response = browser.submit(
        page.form("/app/login"), {"user": "alice", "password": alice.password}, follow=False
    )
    assert response.headers["Location"] == "/app/files/"


def store_root():  # type: ignore[no-untyped-def]
    from davfiles.store import ROOT

    return ROOT


def parse(path: str):  # type: ignore[no-untyped-def]
    from davfiles.store import parse_user_path

    return parse_user_path(path)


def test_api_tokens_are_made_and_revoked_on_the_account_page(live_server: LiveServer) -> None:
    alice = live_server.add_user("alice")
    live_server.add_user("bob")
    _bob_token, _secret = live_server.services.accounts.create_token("bob", "bob's")
    here, elsewhere = Browser(live_server), Browser(live_server)
    here.login(alice)
    elsewhere.login(alice)
    account = here.page("/app/account")
    made = here.submit(account.form("/app/account/tokens"), {"label": "laptop"})
    assert made.status_code == 200
    page = Page(made.text)
    secret = page.text.split("shown only now: ")[1].split(" ")[0]
    assert secret.startswith(TOKEN_PREFIX)
    propfind = requests.request(
        "PROPFIND", live_server.url("/dav/"), auth=("alice", secret), headers={"Depth": "0"}
    )
    assert propfind.status_code == 207
    assert any("laptop" in row for row in page.rows)
    # Someone else's token id is not revocable from here.
    revoke = page.form("/app/account/tokens/revoke")
    assert here.submit(revoke, {"token": str(_bob_token)}).status_code == 404
    revoked = here.submit(revoke)
    assert "The token was revoked" in Page(revoked.text).text
    again = requests.request(
        "PROPFIND", live_server.url("/dav/"), auth=("alice", secret), headers={"Depth": "0"}
    )
    assert again.status_code == 401
    assert here.get("/app/files/", follow=False).status_code == 200
    assert elsewhere.get("/app/files/", follow=False).status_code == 303
    assert [t.label for t in live_server.services.accounts.list_tokens("bob")] == ["bob's"]
