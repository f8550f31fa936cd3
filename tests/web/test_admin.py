"""The admin pages without JavaScript: users with usage and quotas, creating a user, the link
policy; only for admins, every change a POST with the session's CSRF token. And the account
page's storage split into files, versions, trash and free."""

from __future__ import annotations

import pytest

from davfiles.store import parse_user_path
from davfiles.store.link_policy import DAY
from tests.harness import LiveServer, TestUser
from tests.web.helpers import Browser, Page, put


@pytest.fixture
def admin(live_server: LiveServer) -> Browser:
    user = live_server.add_user("root", max_bytes=10_000)
    live_server.services.accounts.set_admin("root", True)
    browser = Browser(live_server)
    browser.login(user)
    return browser


def test_only_admins_see_the_admin_entry_and_pages(live_server: LiveServer, admin: Browser) -> None:
    assert admin.page("/app/files/").link("Admin") == "/app/admin/users"
    assert admin.get("/app/admin/").url.endswith("/app/admin/users")
    user = live_server.add_user("plain")
    browser = Browser(live_server)
    browser.login(user)
    assert "Admin" not in [text for text, _href in browser.page("/app/files/").links]
    for path in ("/app/admin/users", "/app/admin/links"):
        refused = browser.get(path)
        assert refused.status_code == 403
        assert "for admins only" in Page(refused.text).text
    # A change posted with the user's own valid CSRF token is refused all the same.
    form = admin.page("/app/admin/users").form("/app/do/admin-quota")
    csrf = browser.page("/app/account").form("/app/account/tokens").value("csrf")
    fields = {**dict(form.fields), "csrf": csrf, "user": "plain", "max_bytes": "1"}
    forged = browser.http.post(
        browser.url("/app/do/admin-quota"), data=fields, headers={"Origin": live_server.base}
    )
    assert forged.status_code == 403
    assert live_server.services.accounts.owner("plain")
    plain = next(u for u in live_server.services.accounts.list_users() if u.name == "plain")
    assert plain.max_bytes is None


def test_revoking_the_flag_closes_the_pages_at_once(
    live_server: LiveServer, admin: Browser
) -> None:
    assert admin.get("/app/admin/users").status_code == 200
    live_server.services.accounts.set_admin("root", False)
    assert admin.get("/app/admin/users").status_code == 403


def test_the_users_page_lists_usage_and_sets_quotas(
    live_server: LiveServer, admin: Browser
) -> None:
    bob = live_server.add_user("bob", max_bytes=None)
    put(live_server, bob, "a.txt", b"x" * 1234)
    page = admin.page("/app/admin/users")
    row = next(row for row in page.rows if row.startswith("bob"))
    assert "1.2 KB" in row and " 1 " in f" {row} "
    assert "admin" in next(row for row in page.rows if row.startswith("root"))
    form = next(
        f for f in page.forms if f.action == "/app/do/admin-quota" and ("user", "bob") in f.fields
    )
    assert form.value("max_bytes") == "unlimited"
    done = admin.submit(form, {"max_bytes": "5M", "max_files": "20"})
    assert done.status_code == 200 and done.url.endswith("/app/admin/users?note=quota")
    assert "The quota was changed." in Page(done.text).text
    figures = live_server.services.store.usage(bob.owner)
    assert (figures.max_bytes, figures.max_files) == (5 * 1024**2, 20)
    bad = admin.submit(form, {"max_bytes": "lots"})
    assert bad.status_code == 400 and "not a size" in Page(bad.text).text
    assert live_server.services.store.usage(bob.owner).max_bytes == 5 * 1024**2
    no_token = admin.submit(form, {"csrf": "", "max_bytes": "1"})
    assert no_token.status_code == 403
    foreign = admin.submit(form, {"max_bytes": "1"}, origin="https://evil.example")
    assert foreign.status_code == 403
    assert live_server.services.store.usage(bob.owner).max_bytes == 5 * 1024**2


def test_an_admin_creates_a_user_who_can_log_in(live_server: LiveServer, admin: Browser) -> None:
    form = admin.page("/app/admin/users").form("/app/do/admin-user-add")
    made = admin.submit(
        form, {"user": "carol", "password": "long-enough", "max_bytes": "1M", "max_files": ""}
    )
    assert made.url.endswith("/app/admin/users?note=user-added")
    assert any(row.startswith("carol") for row in Page(made.text).rows)
    carol = TestUser("carol", "long-enough", live_server.services.accounts.owner("carol"))
    browser = Browser(live_server)
    assert browser.login(carol).url.endswith("/app/files/")
    figures = live_server.services.store.usage(carol.owner)
    assert (figures.max_bytes, figures.max_files) == (1024**2, None)
    again = admin.submit(form, {"user": "carol", "password": "long-enough"})
    assert again.status_code == 409
    short = admin.submit(form, {"user": "dave", "password": "short"})
    assert short.status_code == 400
    bad_name = admin.submit(form, {"user": "../x", "password": "long-enough"})
    assert bad_name.status_code == 400


def test_the_link_policy_form_sets_what_every_new_link_follows(
    live_server: LiveServer, admin: Browser
) -> None:
    page = admin.page("/app/admin/links")
    form = page.form("/app/do/admin-link-policy")
    assert form.value("default_expiry_days") == "" and "password_kinds" not in dict(form.fields)
    saved = admin.submit(
        form,
        {"default_expiry_days": "3", "max_expiry_days": "10", "password_kinds": ["drop", "edit"]},
    )
    assert saved.url.endswith("/app/admin/links?note=policy")
    policy = live_server.services.store.links.policy()
    assert (policy.default_expiry_days, policy.max_expiry_days) == (3, 10)
    assert sorted(policy.password_kinds) == ["drop", "edit"]
    shown = Page(saved.text).form("/app/do/admin-link-policy")
    assert shown.value("max_expiry_days") == "10"
    assert sorted(v for k, v in shown.fields if k == "password_kinds") == ["drop", "edit"]
    user = live_server.add_user("erin")
    live_server.services.store.mkdir(user.owner, parse_user_path("/box"))
    link = live_server.services.store.links.create(user.owner, parse_user_path("/box"), "view")
    assert link.expires_at is not None and link.expires_at - link.created_at == 3 * DAY
    wrong = admin.submit(shown, {"default_expiry_days": "30"})
    assert wrong.status_code == 400
    assert live_server.services.store.links.policy().default_expiry_days == 3
    cleared = admin.submit(
        shown, {"default_expiry_days": "", "max_expiry_days": "", "password_kinds": []}
    )
    assert cleared.status_code == 200
    assert live_server.services.store.links.policy().max_expiry_days is None


def test_the_account_page_splits_storage_into_files_versions_trash_and_free(
    live_server: LiveServer,
) -> None:
    user = live_server.add_user("gina", max_bytes=100_000)
    store = live_server.services.store
    put(live_server, user, "doc.txt", b"a" * 1000)
    put(live_server, user, "doc.txt", b"b" * 1500)  # the first content becomes a version
    put(live_server, user, "gone.txt", b"c" * 400)
    store.delete(user.owner, parse_user_path("gone.txt"))
    split = store.storage_split(user.owner)
    assert (split.files, split.versions, split.trash) == (1500, 1000, 400)
    assert split.free == 100_000 - 2900
    browser = Browser(live_server)
    browser.login(user)
    page = browser.page("/app/account")
    rows = {row.split()[0]: row for row in page.rows if row.split()}
    assert rows["Files"].startswith("Files 1.5 KB")
    assert rows["Versions"].startswith("Versions 1.0 KB")
    assert rows["Trash"].startswith("Trash 400 bytes")
    assert rows["Free"].startswith("Free 97.1 KB")
    response = browser.get("/app/account")
    assert 'class="part-free" min="0" max="100000" value="97100"' in response.text
    assert " style=" not in response.text
    store.delete(user.owner, parse_user_path("doc.txt"))  # its version goes with it
    split = store.storage_split(user.owner)
    assert (split.files, split.versions, split.trash) == (0, 0, 2900)


def test_without_a_quota_there_is_no_free_part(live_server: LiveServer) -> None:
    user = live_server.add_user("hal", max_bytes=None)
    put(live_server, user, "a.txt", b"a" * 10)
    browser = Browser(live_server)
    browser.login(user)
    page = browser.page("/app/account")
    assert not any(row.startswith("Free") for row in page.rows)
    assert any(row.startswith("Files 10 bytes") for row in page.rows)
