"""Login Flow v2 driven over HTTP as Nextcloud's desktop client and mobile apps drive it: start,
log in on the server's page with its CSRF token, poll once for an app password that works for
WebDAV and dies with ``davfiles token revoke``. Flows live in the database, so they also work
when the start, the page and the poll reach different worker processes."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import requests
from sqlalchemy import update

from davfiles.app import Services
from davfiles.auth.login_flows import MAX_FLOWS_PER_CLIENT, LoginFlows
from davfiles.db.models import Base, LoginFlow
from tests.deployment import config_for
from tests.harness import LiveServer
from tests.test_cli import davfiles

AGENT = "Mozilla/5.0 (X11; Linux x86_64) mirall/3.7.3 (Nextcloud)"


def start(server: LiveServer) -> dict[str, object]:
    response = requests.post(
        server.url("/index.php/login/v2"), headers={"User-Agent": AGENT}, timeout=10
    )
    assert response.status_code == 200
    flow = response.json()
    assert flow["poll"]["endpoint"] == server.url("/index.php/login/v2/poll")
    assert flow["login"].startswith(server.url("/index.php/login/v2/flow/"))
    return flow


def poll(flow: dict[str, object]) -> requests.Response:
    endpoint, token = flow["poll"]["endpoint"], flow["poll"]["token"]  # type: ignore[index]
    return requests.post(endpoint, data={"token": token}, timeout=10)


def open_page(flow: dict[str, object]) -> tuple[requests.Session, str]:
    """The browser: GET the login page, return its cookie jar and the form's CSRF field."""
    browser = requests.Session()
    page = browser.get(str(flow["login"]), timeout=10)
    assert page.status_code == 200
    assert page.headers["Content-Type"].startswith("text/html")
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
    # Not no-referrer: with it browsers send "Origin: null" on the form's own POST.
    assert page.headers["Referrer-Policy"] == "same-origin"
    assert "<script" not in page.text
    match = re.search(r'name="csrf" value="([0-9a-f]+)"', page.text)
    assert match is not None
    return browser, match.group(1)


def submit(
    browser: requests.Session, flow: dict[str, object], csrf: str, user: str, password: str
) -> requests.Response:
    return browser.post(
        str(flow["login"]),
        data={"csrf": csrf, "user": user, "password": password},
        timeout=10,
    )


def granted_flow(server: LiveServer, user: str, password: str) -> dict[str, object]:
    """A flow whose page the user logged in on, not polled yet."""
    flow = start(server)
    browser, csrf = open_page(flow)
    assert submit(browser, flow, csrf, user, password).status_code == 200
    return flow


def dav_status(server: LiveServer, auth: tuple[str, str]) -> int:
    response = requests.request(
        "PROPFIND",
        server.url(f"/remote.php/dav/files/{auth[0]}/"),
        headers={"Depth": "0"},
        auth=auth,
        timeout=10,
    )
    return response.status_code


def test_the_flow_gives_an_app_password_once_that_webdav_accepts_until_revoked(
    live_server: LiveServer, tmp_path: Path
) -> None:
    live_server.add_user("alice", "alice-login-pw")
    flow = start(live_server)
    assert poll(flow).status_code == 404
    browser, csrf = open_page(flow)
    assert poll(flow).status_code == 404
    granted = submit(browser, flow, csrf, "alice", "alice-login-pw")
    assert granted.status_code == 200 and "Account connected" in granted.text

    answer = poll(flow)
    assert answer.status_code == 200
    credentials = answer.json()
    assert credentials["server"] == live_server.base
    assert credentials["loginName"] == "alice"
    app_password = credentials["appPassword"]
    assert app_password != "alice-login-pw"
    assert poll(flow).status_code == 404
    assert browser.get(str(flow["login"]), timeout=10).status_code == 404

    assert dav_status(live_server, ("alice", app_password)) == 207
    tokens = live_server.services.accounts.list_tokens("alice")
    assert [token.label for token in tokens] == [f"Login flow: {AGENT}"]
    settings = live_server.services.settings
    config = (
        None
        if settings.database_url is None
        else config_for(tmp_path / "c.yaml", settings.database_url)
    )
    revoked = davfiles(settings.data_dir, "token", "revoke", str(tokens[0].id), config=config)
    assert revoked.returncode == 0, revoked.stderr
    assert dav_status(live_server, ("alice", app_password)) == 401
    assert dav_status(live_server, ("alice", "alice-login-pw")) == 207


def test_the_database_never_holds_a_token_or_the_app_password_in_clear(
    live_server: LiveServer,
) -> None:
    live_server.add_user("alice", "alice-login-pw")
    flow = granted_flow(live_server, "alice", "alice-login-pw")
    secrets = [flow["poll"]["token"], str(flow["login"]).rsplit("/", 1)[1]]  # type: ignore[index]
    app_password = poll(flow).json()["appPassword"]
    stored = stored_bytes(live_server.services)
    assert b"alice" in stored
    for secret in [*secrets, app_password]:
        assert secret.encode() not in stored


def stored_bytes(services: Services) -> bytes:
    """The SQLite files as they are on disk (WAL included), or every row on PostgreSQL."""
    if services.settings.database_url is None:
        return b"".join(path.read_bytes() for path in services.settings.data_dir.glob("*.sqlite3*"))
    with services.db.engine.connect() as connection:
        rows = [
            repr(row)
            for table in Base.metadata.sorted_tables
            for row in connection.execute(table.select())
        ]
    return "\n".join(rows).encode()


@pytest.mark.parametrize(
    "forgery",
    ["no cookie", "wrong field", "foreign origin"],
)
def test_a_forged_form_grants_nothing(live_server: LiveServer, forgery: str) -> None:
    live_server.add_user("alice", "alice-login-pw")
    flow = start(live_server)
    browser, csrf = open_page(flow)
    headers = {}
    if forgery == "no cookie":
        browser.cookies.clear()
    elif forgery == "wrong field":
        csrf = "0" * len(csrf)
    else:
        headers["Origin"] = "http://evil.example"
    refused = browser.post(
        str(flow["login"]),
        data={"csrf": csrf, "user": "alice", "password": "alice-login-pw"},
        headers=headers,
        timeout=10,
    )
    assert refused.status_code == 403
    assert poll(flow).status_code == 404
    assert live_server.services.accounts.list_tokens("alice") == []
    assert open_page(flow)[1]


def test_a_csrf_field_of_another_flow_is_refused(live_server: LiveServer) -> None:
    live_server.add_user("alice", "alice-login-pw")
    first, second = start(live_server), start(live_server)
    browser, csrf = open_page(first)
    browser.get(str(second["login"]), timeout=10)
    assert submit(browser, second, csrf, "alice", "alice-login-pw").status_code == 403
    assert poll(second).status_code == 404


def test_a_wrong_password_shows_the_form_again_escaped(live_server: LiveServer) -> None:
    live_server.add_user("alice", "alice-login-pw")
    flow = start(live_server)
    browser, csrf = open_page(flow)
    wrong = submit(browser, flow, csrf, '<b>"alice', "nope")
    assert wrong.status_code == 403
    assert "Wrong user name or password" in wrong.text
    assert "&lt;b&gt;&quot;alice" in wrong.text and "<b>" not in wrong.text
    assert submit(browser, flow, csrf, "alice", "alice-login-pw").status_code == 200
    assert poll(flow).status_code == 200


def test_the_page_takes_the_password_not_an_api_token(live_server: LiveServer) -> None:
    """An app password minted from a token would outlive that token's revocation."""
    live_server.add_user("alice", "alice-login-pw")
    _id, token = live_server.services.accounts.create_token("alice", "stolen")
    assert dav_status(live_server, ("alice", token)) == 207  # the token itself works (cached)
    flow = start(live_server)
    browser, csrf = open_page(flow)
    refused = submit(browser, flow, csrf, "alice", token)
    assert refused.status_code == 403
    assert "Wrong user name or password" in refused.text
    assert poll(flow).status_code == 404
    assert [t.label for t in live_server.services.accounts.list_tokens("alice")] == ["stolen"]


def test_the_page_is_throttled_by_the_same_counts_as_webdav(strict_services: Services) -> None:
    server = LiveServer(strict_services)
    try:
        server.add_user("alice", "alice-login-pw")
        assert dav_status(server, ("alice", "wrong")) == 401
        flow = start(server)
        browser, csrf = open_page(flow)
        assert submit(browser, flow, csrf, "alice", "wrong").status_code == 403
        throttled = submit(browser, flow, csrf, "alice", "alice-login-pw")
        assert throttled.status_code == 429
        assert int(throttled.headers["Retry-After"]) >= 1
        assert "Too many failed logins" in throttled.text
        assert poll(flow).status_code == 404
    finally:
        server.stop()


def test_an_expired_flow_is_gone(live_server: LiveServer) -> None:
    live_server.add_user("alice", "alice-login-pw")
    flow = start(live_server)
    browser, csrf = open_page(flow)
    with live_server.services.db.write() as session:
        session.execute(update(LoginFlow).values(expires_at=0.0))
    assert submit(browser, flow, csrf, "alice", "alice-login-pw").status_code == 404
    assert browser.get(str(flow["login"]), timeout=10).status_code == 404
    assert poll(flow).status_code == 404
    start(live_server)
    with live_server.services.db.read() as session:
        assert session.query(LoginFlow).count() == 1


def test_unknown_tokens_and_empty_polls_are_404(live_server: LiveServer) -> None:
    assert (
        requests.get(live_server.url("/index.php/login/v2/flow/nope"), timeout=10).status_code
        == 404
    )
    empty = requests.post(live_server.url("/index.php/login/v2/poll"), timeout=10)
    assert empty.status_code == 404
    unknown = requests.post(
        live_server.url("/index.php/login/v2/poll"), data={"token": "nope"}, timeout=10
    )
    assert unknown.status_code == 404
    assert requests.get(live_server.url("/index.php/login/v2"), timeout=10).status_code == 405


def test_a_flow_granted_by_a_user_deleted_before_the_poll_gives_nothing(
    live_server: LiveServer,
) -> None:
    live_server.add_user("alice", "alice-login-pw")
    flow = granted_flow(live_server, "alice", "alice-login-pw")
    live_server.services.accounts.delete_user("alice")
    assert poll(flow).status_code == 404


def test_waiting_flows_are_bounded_and_the_oldest_go_first(services: Services) -> None:
    """Starting a flow needs no credentials, so the table must not grow without limit."""
    flows = LoginFlows(services.db, services.accounts, max_flows=3)
    started = [flows.start("app", f"192.0.2.{number}") for number in range(5)]
    waiting = [flows.pending(flow.login_token) is not None for flow in started]
    assert waiting == [False, False, True, True, True]
    with services.db.read() as session:
        assert session.query(LoginFlow).count() == 3


def test_an_app_name_with_control_characters_is_kept_with_question_marks(
    services: Services,
) -> None:
    """The name comes from any client's User-Agent; PostgreSQL refused a NUL in it with 500."""
    flows = LoginFlows(services.db, services.accounts)
    flows.start("Files\0app\x1b", "192.0.2.7")
    with services.db.read() as session:
        assert [flow.label for flow in session.query(LoginFlow)] == ["Files?app?"]


def test_one_address_cannot_push_out_other_peoples_flows(live_server: LiveServer) -> None:
    """Past MAX_FLOWS_PER_CLIENT waiting flows an address gets 429; others still start."""
    first = start(live_server)
    for _ in range(MAX_FLOWS_PER_CLIENT - 1):
        assert requests.post(live_server.url("/index.php/login/v2"), timeout=10).ok
    refused = requests.post(live_server.url("/index.php/login/v2"), timeout=10)
    assert refused.status_code == 429
    assert refused.headers["Retry-After"].isdigit()
    assert open_page(first)[1]  # the first flow still waits
    flows = live_server.services
    other = LoginFlows(flows.db, flows.accounts).start("app", "192.0.2.1")
    assert LoginFlows(flows.db, flows.accounts).pending(other.login_token) == "app"


def test_the_page_names_the_app_as_text_and_warns(live_server: LiveServer) -> None:
    response = requests.post(
        live_server.url("/index.php/login/v2"),
        headers={"User-Agent": '<script>alert(1)</script> "Files"'},
        timeout=10,
    )
    assert response.headers["Cache-Control"] == "no-store"
    page = requests.get(response.json()["login"], timeout=10)
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &quot;Files&quot;" in page.text
    assert "<script" not in page.text
    assert "If someone sent you this link, close the page" in page.text
