"""The web app in a real browser: Debian's Chromium driven by Playwright. Login, browse,
upload, rename, delete and undo; on each page an axe check (no serious or critical
violation), no Content-Security-Policy report, and a screenshot kept as a test artifact."""

from __future__ import annotations

import os
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from davfiles.store import parse_user_path
from tests.harness import LiveServer, TestUser
from tests.links.helpers import wait_for
from tests.web.helpers import content, names

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = (
    Path(
        os.environ.get(
            "DAVFILES_TEST_ARTIFACTS", Path(__file__).resolve().parents[2] / "test-artifacts"
        )
    )
    / "web"
)


def _missing_browser() -> str | None:
    """Why the browser tests cannot run; as root a missing Chromium is a failure instead
    (the test command installs it: scripts/install-debian-tools.sh)."""
    if os.path.exists(CHROMIUM) or os.geteuid() == 0:
        return None
    return "chromium is not installed (scripts/install-debian-tools.sh installs it as root)"


pytestmark = pytest.mark.skipif(_missing_browser() is not None, reason=str(_missing_browser()))


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM)
        yield browser
        browser.close()


class Visit:
    """One browser context on the app; records CSP reports and console errors."""

    def __init__(
        self, chromium: Any, server: LiveServer, width: int = 1280, *, script: bool = True
    ) -> None:
        self.server = server
        self.width = width
        self.context = chromium.new_context(
            viewport={"width": width, "height": 900}, java_script_enabled=script
        )
        self.page = self.context.new_page()
        self.problems: list[str] = []
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda error: self.problems.append(str(error)))

    def _console(self, message: Any) -> None:
        if message.type == "error":
            self.problems.append(message.text)

    def go(self, path: str) -> None:
        self.page.goto(self.server.base + path)

    def check_fits(self, path: str, name: str) -> None:
        """``path`` opened is no wider than the window (no sideways scrolling), then checked."""
        self.go(path)
        scroll = self.page.evaluate("document.documentElement.scrollWidth")
        assert scroll <= self.width, f"{path} is {scroll} px wide"
        self.check(name)

    def check(self, name: str) -> None:
        """Axe finds nothing serious, the page broke no policy, and a screenshot is kept."""
        from axe_playwright_python.sync_playwright import Axe

        results = Axe().run(self.page)
        serious = [
            f"{violation['id']}: {violation['help']}"
            for violation in results.response["violations"]
            if violation.get("impact") in ("serious", "critical")
        ]
        assert serious == [], f"{name}: {serious}"
        policy = [problem for problem in self.problems if "Content Security Policy" in problem]
        assert policy == [], f"{name}: {policy}"
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)

    def login(self, user: TestUser) -> None:
        self.go("/app/files/")
        assert self.page.url.startswith(self.server.base + "/app/login")
        self.check("login")
        self.page.get_by_label("User name").fill(user.name)
        self.page.get_by_label("Password or API token").fill(user.password)
        self.page.get_by_role("button", name="Log in").click()
        self.page.wait_for_url(self.server.base + "/app/files/")

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def visit(chromium: Any, live_server: LiveServer) -> Iterator[tuple[Visit, TestUser]]:
    user = live_server.add_user("alice", max_bytes=10_000_000)
    store = live_server.services.store
    store.mkdir(user.owner, parse_user_path("Documents"))
    store.write_bytes(user.owner, parse_user_path("Documents/report.txt"), b"quarterly report")
    store.write_bytes(user.owner, parse_user_path("photo.png"), b"\x89PNG\r\n\x1a\n")
    session = Visit(chromium, live_server)
    yield session, user
    session.close()


def test_login_browse_upload_rename_delete_and_undo(
    live_server: LiveServer, visit: tuple[Visit, TestUser], tmp_path: Path
) -> None:
    session, user = visit
    page = session.page
    session.login(user)
    session.check("files")
    page.get_by_role("link", name="Documents/").click()
    page.wait_for_url("**/app/files/Documents/")
    assert page.get_by_role("link", name="report.txt").is_visible()
    breadcrumb = page.get_by_role("navigation", name="Breadcrumb")
    assert breadcrumb.get_by_role("link", name="Home").is_visible()

    page.get_by_text("New folder").click()
    page.get_by_label("Folder name").fill("Archive")
    page.get_by_role("button", name="Create").click()
    page.wait_for_url("**/app/files/Documents/?note=created")
    assert names(live_server, user, "Documents") == ["Archive", "report.txt"]

    upload = tmp_path / "notes.txt"
    upload.write_text("uploaded from the browser")
    page.get_by_text("Upload files").click()
    page.get_by_label("Files", exact=True).set_input_files(str(upload))
    page.get_by_role("button", name="Upload", exact=True).click()
    page.wait_for_url("**/app/files/Documents/?note=uploaded&count=1")
    assert page.get_by_role("status").inner_text() == "Uploaded 1 file(s)."
    assert "notes.txt" in names(live_server, user, "Documents")

    page.get_by_role("link", name="notes.txt").click()
    page.wait_for_url("**/app/info/Documents/notes.txt")
    session.check("details")
    page.get_by_label("New name").fill("renamed.txt")
    page.get_by_role("button", name="Rename").click()
    page.wait_for_url("**/app/info/Documents/renamed.txt?note=renamed")
    assert names(live_server, user, "Documents") == ["Archive", "renamed.txt", "report.txt"]

    page.get_by_role("navigation", name="Breadcrumb").get_by_role("link", name="Documents").click()
    page.get_by_label("Select renamed.txt").check()
    page.get_by_label("Select report.txt").check()
    page.get_by_role("button", name="Move to trash").click()
    undo = page.get_by_role("button", name="Undo")
    undo.wait_for()
    session.check("deleted-with-undo")
    assert names(live_server, user, "Documents") == ["Archive"]
    undo.click()
    page.wait_for_url("**/app/files/Documents/?note=restored")
    assert names(live_server, user, "Documents") == ["Archive", "renamed.txt", "report.txt"]


def test_select_all_trash_and_account_pages(
    live_server: LiveServer, visit: tuple[Visit, TestUser]
) -> None:
    session, user = visit
    page = session.page
    session.login(user)
    # The script adds a "Select all" box; the page works without it.
    page.get_by_label("Select all").check()
    assert page.get_by_label("Select photo.png").is_checked()
    assert page.get_by_label("Select Documents").is_checked()
    page.get_by_label("Select Documents").uncheck()
    page.get_by_role("button", name="Move to trash").click()
    page.get_by_role("button", name="Undo").wait_for()
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Trash").click()
    page.wait_for_url("**/app/trash")
    assert page.get_by_role("cell", name="photo.png", exact=True).is_visible()
    session.check("trash")
    page.get_by_label("Select photo.png").check()
    page.get_by_role("button", name="Restore selected").click()
    page.wait_for_url("**/app/trash?note=restored")
    assert "photo.png" in names(live_server, user)
    page.get_by_role("link", name="Account (alice)").click()
    session.check("account")
    session.go("/app/files/nothing/")
    session.check("not-found")


def test_the_files_page_fits_a_360_px_screen(
    chromium: Any, live_server: LiveServer, visit: tuple[Visit, TestUser]
) -> None:
    _session, user = visit
    narrow = Visit(chromium, live_server, width=360)
    try:
        narrow.login(user)
        narrow.check_fits("/app/files/", "files-360")
        narrow.check_fits("/app/info/photo.png", "details-360")
    finally:
        narrow.close()


def test_the_first_load_stays_small(live_server: LiveServer, visit: tuple[Visit, TestUser]) -> None:
    session, user = visit
    loaded: dict[str, int] = {}

    def count(response: Any) -> None:
        kind = response.headers.get("content-type", "")
        if kind.startswith(("text/css", "text/javascript")):
            loaded[response.url.removeprefix(live_server.base)] = len(response.body())

    session.page.on("response", count)
    session.login(user)
    assert sorted(loaded) == ["/app/static/app.css", "/app/static/app.js"]
    assert sum(loaded.values()) < 60 * 1024


DROP = """([files, stamp]) => {
    const data = new DataTransfer();
    for (const [name, text] of files) data.items.add(new File([text], name, {lastModified: stamp}));
    return data;
}"""


def drop(page: Any, files: list[tuple[str, str]], stamp: int = 1_500_000_000_000) -> None:
    """Drop files on the page as a file manager would."""
    data = page.evaluate_handle(DROP, [files, stamp])
    page.dispatch_event("main", "drop", {"dataTransfer": data})


def test_dropped_files_ask_about_taken_names_and_keep_their_dates(
    live_server: LiveServer, visit: tuple[Visit, TestUser]
) -> None:
    session, user = visit
    page = session.page
    session.login(user)
    drop(page, [("photo.png", "new picture"), ("fresh.txt", "x" * 3000)])
    dialog = page.get_by_role("dialog")
    dialog.wait_for()
    assert "photo.png" in dialog.inner_text()
    assert "fresh.txt" not in dialog.inner_text()
    session.check("conflict-dialog")
    dialog.get_by_role("button", name="Replace them").click()
    page.wait_for_url("**/app/files/?note=uploaded&count=2")
    assert content(live_server, user, "photo.png") == b"new picture"
    store = live_server.services.store
    photo = store.stat(user.owner, parse_user_path("photo.png"))
    fresh = store.stat(user.owner, parse_user_path("fresh.txt"))
    assert photo is not None and fresh is not None
    assert [v.size for v in store.versions_of(user.owner, photo.id)] == [8]
    assert fresh.modified_at == 1_500_000_000


def test_a_failed_upload_resumes_with_retry_and_after_a_reload(
    live_server: LiveServer, visit: tuple[Visit, TestUser]
) -> None:
    session, user = visit
    page = session.page
    session.login(user)
    sent: list[str] = []
    page.on("request", lambda r: sent.append(r.url) if r.method == "PUT" else None)
    small_chunks = "document.getElementById('upload-form').dataset.chunkSize = '1000'"
    data = "".join(chr(65 + n % 26) for n in range(4500))

    # The third chunk fails once: the Retry button sends only what the server lacks.
    failures = {"left": 1}

    def flaky(route: Any) -> None:
        if failures["left"]:
            failures["left"] -= 1
            route.abort()
        else:
            route.continue_()

    page.route("**/app/uploads/*/2", flaky)
    page.evaluate(small_chunks)
    page.get_by_text("Upload files").click()
    page.get_by_label("Files", exact=True).set_input_files(
        {"name": "retry.txt", "mimeType": "text/plain", "buffer": data.encode()}
    )
    page.get_by_role("button", name="Upload", exact=True).click()
    retry = page.get_by_role("button", name="Retry retry.txt")
    retry.wait_for()
    assert page.get_by_label("Progress of retry.txt").evaluate("bar => bar.value") == 2000
    assert "failed" in page.get_by_role("list", name="Uploads").inner_text()
    session.check("upload-failed")
    retry.click()
    page.wait_for_url("**/app/files/?note=uploaded&count=1")
    assert content(live_server, user, "retry.txt") == data.encode()
    assert [url.rsplit("/", 1)[1] for url in sent] == ["0", "1", "2", "2", "3", "4"]
    page.unroute("**/app/uploads/*/2")

    # A drop that fails for good, a reload, the same drop: only the missing chunks go.
    page.route("**/app/uploads/*/3", lambda route: route.abort())
    session.go("/app/files/")
    page.evaluate(small_chunks)
    drop(page, [("resume.txt", data)])
    page.get_by_role("button", name="Retry resume.txt").wait_for()
    page.unroute("**/app/uploads/*/3")
    page.reload()
    sent.clear()
    page.evaluate(small_chunks)
    drop(page, [("resume.txt", data)])
    page.wait_for_url("**/app/files/?note=uploaded&count=1")
    assert [url.rsplit("/", 1)[1] for url in sent] == ["3", "4"]
    assert content(live_server, user, "resume.txt") == data.encode()


def test_the_basic_actions_work_with_javascript_off(
    chromium: Any, live_server: LiveServer, visit: tuple[Visit, TestUser], tmp_path: Path
) -> None:
    _session, user = visit
    plain = Visit(chromium, live_server, script=False)
    page = plain.page
    try:
        plain.go("/app/files/")
        page.get_by_label("User name").fill(user.name)
        page.get_by_label("Password or API token").fill(user.password)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url("**/app/files/")
        assert page.get_by_label("Select all").count() == 0  # no script ran
        upload = tmp_path / "plain.txt"
        upload.write_text("sent by the form itself")
        page.get_by_text("Upload files").click()
        page.get_by_label("Files", exact=True).set_input_files(str(upload))
        page.get_by_role("button", name="Upload", exact=True).click()
        page.wait_for_url("**/app/files/?note=uploaded&count=1")
        assert content(live_server, user, "plain.txt") == b"sent by the form itself"
        page.get_by_label("Select plain.txt").check()
        page.get_by_role("button", name="Move to trash").click()
        page.get_by_role("button", name="Undo").click()
        page.wait_for_url("**/app/files/?note=restored")
        assert "plain.txt" in names(live_server, user)
        with page.expect_download() as download:
            page.get_by_role("link", name="Download this whole folder as zip").click()
        assert download.value.suggested_filename == "alice.zip"
    finally:
        plain.close()


def test_a_picked_folder_is_uploaded_with_its_tree(
    live_server: LiveServer, visit: tuple[Visit, TestUser], tmp_path: Path
) -> None:
    session, user = visit
    page = session.page
    session.login(user)
    tree = tmp_path / "Holiday"
    (tree / "day 1").mkdir(parents=True)
    (tree / "day 1" / "beach.txt").write_text("sand")
    (tree / "notes.txt").write_text("notes")
    page.get_by_text("Upload files").click()
    page.get_by_label("Or a whole folder").set_input_files(str(tree))
    page.wait_for_url("**/app/files/?note=uploaded&count=2")
    assert content(live_server, user, "Holiday/day 1/beach.txt") == b"sand"
    assert content(live_server, user, "Holiday/notes.txt") == b"notes"


ATTACK = b"""<html><head><title>stored page</title></head><body><script>
(async () => {
  document.title = 'script ran';
  const page = await (await fetch('/app/account')).text();
  const csrf = page.match(/name="csrf" value="([^"]+)"/)[1];
  const body = new URLSearchParams({csrf: csrf, label: 'stolen'});
  const made = await fetch('/app/account/tokens', {method: 'POST', body: body});
  document.title = 'token request ' + made.status;
})();
</script></body></html>"""


def test_a_users_html_runs_no_script_for_a_logged_in_visitor(
    live_server: LiveServer, visit: tuple[Visit, TestUser]
) -> None:
    """Another user's public HTML file, opened by someone logged into the app, could fetch
    the app's pages with that session, read a CSRF token and make an API token, until every
    user file was served sandboxed. Chromium reports the script it did not run."""
    session, alice = visit
    mallory = live_server.add_user("mallory")
    store = live_server.services.store
    page = store.write_bytes(mallory.owner, parse_user_path("x.html"), ATTACK)
    store.set_public(mallory.owner, page.id, True)
    session.login(alice)
    session.go(f"/public/{page.id}")
    session.page.wait_for_load_state("load")
    assert session.page.title() == "stored page"
    assert any("sandboxed" in problem for problem in session.problems), session.problems
    assert [token.label for token in live_server.services.accounts.list_tokens("alice")] == []


def test_a_link_made_on_the_details_page_is_listed_copied_and_scanned(
    chromium: Any, live_server: LiveServer, visit: tuple[Visit, TestUser]
) -> None:
    session, user = visit
    page = session.page
    session.context.grant_permissions(["clipboard-read", "clipboard-write"])
    session.login(user)
    session.go("/app/info/Documents")
    page.get_by_label("Kind").select_option("drop")
    page.get_by_label("Label (optional)").fill("Homework")
    page.get_by_label("Password (optional)").fill("long enough secret")
    page.get_by_label("Expires (UTC; empty: never)").fill("2040-01-02T03:04")
    page.get_by_label("Most downloads (empty: no limit)").fill("5")
    session.check("details-new-link")
    page.get_by_role("button", name="Create link").click()
    page.wait_for_url("**/app/links?note=link-created#link-*")
    (listed,) = live_server.services.store.links.listing(user.owner)
    link = listed.link
    assert (link.kind, link.label, link.max_downloads, link.has_password) == (
        "drop",
        "Homework",
        5,
        True,
    )
    row = page.locator(f"#link-{link.id}")
    assert page.evaluate("document.querySelector(':target').id") == f"link-{link.id}"
    assert "Homework" in row.inner_text() and "active" in row.inner_text()
    session.check("links")

    url = f"{live_server.base}/s/{link.token}"
    assert row.get_by_label(f"Address of link {link.id}").input_value() == url
    copy = row.get_by_role("button", name="Copy")
    copy.click()
    page.get_by_role("button", name="Copied").wait_for()
    assert page.evaluate("navigator.clipboard.readText()") == url

    row.get_by_role("link", name="Edit").click()
    page.wait_for_url(f"**/app/links/{link.id}")
    qr = page.get_by_role("img", name="QR code of the link's address")
    qr.wait_for()
    assert qr.evaluate("image => image.complete && image.naturalWidth") > 0
    session.check("link")

    narrow = Visit(chromium, live_server, width=360)
    try:
        narrow.login(user)
        narrow.check_fits("/app/links", "links-360")
        narrow.check_fits(f"/app/links/{link.id}", "link-360")
    finally:
        narrow.close()


def test_the_admin_pages_pass_axe_and_fit_a_360_px_screen(
    chromium: Any, live_server: LiveServer, visit: tuple[Visit, TestUser]
) -> None:
    _session, user = visit
    live_server.services.accounts.set_admin(user.name, True)
    live_server.add_user("bob-with-a-rather-long-name", max_bytes=5_000_000_000)
    for width in (1280, 360):
        browser = Visit(chromium, live_server, width=width)
        try:
            browser.login(user)
            browser.page.get_by_role("navigation", name="Main").get_by_role(
                "link", name="Admin"
            ).click()
            browser.page.wait_for_url("**/app/admin/users")
            for path, name in (
                ("/app/account", "account-storage"),
                ("/app/admin/users", "admin-users"),
                ("/app/admin/links", "admin-links"),
            ):
                browser.check_fits(path, f"{name}-{width}")
            browser.page.get_by_label("Maximum expiry in days (blank: none)").fill("30")
            browser.page.get_by_label("edit links").check()
            browser.page.get_by_role("button", name="Save the policy").click()
            browser.page.wait_for_url("**/app/admin/links?note=policy")
            assert live_server.services.store.links.policy().max_expiry_days == 30
        finally:
            browser.close()


def test_keys_search_new_folder_and_delete_but_not_while_typing(
    live_server: LiveServer, visit: tuple[Visit, TestUser]
) -> None:
    session, user = visit
    page = session.page
    session.login(user)
    assert "make a folder" in page.locator("#shortcuts").inner_text()
    page.keyboard.press("/")
    assert page.evaluate("document.activeElement.id") == "q"
    page.keyboard.type("n/")  # typed into the search field: no shortcut fires
    assert page.locator("#q").input_value() == "n/"
    assert page.evaluate("document.activeElement.id") == "q"
    page.evaluate("document.activeElement.blur()")
    page.keyboard.press("n")
    assert page.evaluate("document.activeElement.id") == "new-folder"
    page.keyboard.type("Made by keys")
    page.keyboard.press("Enter")
    page.wait_for_url("**/app/files/?note=created")
    assert "Made by keys" in names(live_server, user)
    page.get_by_label("Select photo.png").check()
    page.keyboard.press("Delete")
    page.wait_for_url("**deleted=**")
    assert "photo.png" not in names(live_server, user)
    session.check("files-after-keys")
    # The login page's own 401 is logged as a failed load; no script error is.
    errors = [problem for problem in session.problems if "Failed to load resource" not in problem]
    assert errors == []


# A drop of a folder tree. No script can make the browser's own FileSystemEntry objects, so
# these stand in for them with the same interface (isFile, isDirectory, name, file(),
# createReader().readEntries() in batches, then an empty batch): the page's walk, its paths
# and the uploads that follow are the real ones.
DROP_TREE = """([tree, stamp]) => {
  function entry(name, node) {
    if (typeof node === "string") {
      const file = new File([node], name, {lastModified: stamp});
      return {isFile: true, isDirectory: false, name: name, file: (ok) => ok(file)};
    }
    const children = Object.entries(node).map(([child, value]) => entry(child, value));
    return {
      isFile: false, isDirectory: true, name: name,
      createReader: () => {
        let batches = [children.slice(0, 1), children.slice(1), []];
        return {readEntries: (ok) => setTimeout(() => ok(batches.shift()), 0)};
      },
    };
  }
  const entries = Object.entries(tree).map(([name, node]) => entry(name, node));
  const event = new Event("drop", {bubbles: true, cancelable: true});
  Object.defineProperty(event, "dataTransfer", {value: {
    types: ["Files"], files: [], items: entries.map((e) => ({webkitGetAsEntry: () => e})),
  }});
  document.querySelector("main").dispatchEvent(event);
}"""


def test_a_dropped_folder_is_uploaded_with_its_tree(
    live_server: LiveServer, visit: tuple[Visit, TestUser]
) -> None:
    session, user = visit
    page = session.page
    session.login(user)
    tree = {
        "Trip": {"day 1": {"beach.txt": "sand", "sea.txt": "salt"}, "notes.txt": "notes"},
        "loose.txt": "loose",
    }
    page.evaluate(DROP_TREE, [tree, 1_500_000_000_000])
    page.wait_for_url("**/app/files/?note=uploaded&count=4")
    assert content(live_server, user, "Trip/day 1/beach.txt") == b"sand"
    assert content(live_server, user, "Trip/day 1/sea.txt") == b"salt"
    assert content(live_server, user, "Trip/notes.txt") == b"notes"
    assert content(live_server, user, "loose.txt") == b"loose"
    beach = live_server.services.store.stat(user.owner, parse_user_path("Trip/day 1/beach.txt"))
    assert beach is not None and beach.modified_at == 1_500_000_000


def test_zip_download_and_a_version_restored(
    live_server: LiveServer, visit: tuple[Visit, TestUser]
) -> None:
    session, user = visit
    page = session.page
    store = live_server.services.store
    store.write_bytes(user.owner, parse_user_path("Documents/report.txt"), b"second draft")
    session.login(user)
    page.get_by_label("Select Documents").check()
    page.get_by_label("Select photo.png").check()
    with page.expect_download() as download:
        page.get_by_role("button", name="Download as zip").click()
    archive = zipfile.ZipFile(download.value.path())
    assert sorted(archive.namelist()) == ["Documents/", "Documents/report.txt", "photo.png"]
    assert archive.read("Documents/report.txt") == b"second draft"

    session.go("/app/info/Documents/report.txt")
    page.get_by_role("button", name="Restore").click()
    page.wait_for_url("**/app/info/Documents/report.txt?note=version-restored")
    assert content(live_server, user, "Documents/report.txt") == b"quarterly report"
    session.check("version-restored")


def _visitor(chromium: Any, server: LiveServer) -> Visit:
    """A browser with no session of the app: someone who got a link."""
    return Visit(chromium, server)


def test_a_view_link_with_a_password_through_rename_trash_and_expiry(
    chromium: Any, live_server: LiveServer, visit: tuple[Visit, TestUser]
) -> None:
    _session, user = visit
    store = live_server.services.store
    store.write_bytes(user.owner, parse_user_path("Documents/data.bin"), b"\x00binary\xff")
    link = store.links.create(
        user.owner, parse_user_path("Documents"), "view", {"password": "open sesame"}
    )
    address = f"/s/{link.token}"
    visitor = _visitor(chromium, live_server)
    try:
        page = visitor.page
        # The raw download asks for the password too, not only the page.
        raw = page.goto(live_server.base + address + "/download/data.bin")
        assert raw is not None and raw.status == 401
        visitor.check("link-password")
        page.get_by_label("Password").fill("wrong")
        page.get_by_role("button", name="Open").click()
        assert page.get_by_role("alert").is_visible()
        page.get_by_label("Password").fill("open sesame")
        with page.expect_download() as download:
            page.get_by_role("button", name="Open").click()
        assert Path(download.value.path()).read_bytes() == b"\x00binary\xff"
        visitor.go(address)
        assert page.get_by_role("link", name="report.txt").is_visible()
        visitor.check("link-folder")

        # Bound to the folder, not its path: a rename keeps the link working.
        store.move(
            user.owner, parse_user_path("Documents"), parse_user_path("Papers"), overwrite=False
        )
        visitor.go(address)
        assert page.get_by_role("link", name="data.bin").is_visible()
        # In the trash: 410 with a page saying why; restored: back.
        store.delete(user.owner, parse_user_path("Papers"))
        gone = page.goto(live_server.base + address)
        assert gone is not None and gone.status == 410
        assert "trash" in page.locator("#message").inner_text()
        visitor.check("link-trashed")
        (item,) = store.trash_list(user.owner)
        store.trash_restore(user.owner, item.id)
        back = page.goto(live_server.base + address)
        assert back is not None and back.status == 200
        store.links.update(user.owner, link.id, {"expires_at": 1_000_000.0})
        expired = page.goto(live_server.base + address)
        assert expired is not None and expired.status == 410
        assert "expired" in page.locator("#message").inner_text()
    finally:
        visitor.close()


def test_a_download_limit_counts_a_finished_download(
    chromium: Any, live_server: LiveServer, visit: tuple[Visit, TestUser]
) -> None:
    _session, user = visit
    store = live_server.services.store
    store.write_bytes(user.owner, parse_user_path("once.bin"), b"only once" * 1000)
    link = store.links.create(user.owner, parse_user_path("once.bin"), "view", {"max_downloads": 1})
    visitor = _visitor(chromium, live_server)
    try:
        page = visitor.page
        visitor.go(f"/s/{link.token}")
        visitor.check("link-file")
        with page.expect_download() as download:
            page.get_by_role("link", name="Download").click()
        assert Path(download.value.path()).read_bytes() == b"only once" * 1000
        wait_for(lambda: store.links.get(user.owner, link.id).link.downloads == 1)
        exhausted = page.goto(f"{live_server.base}/s/{link.token}")
        assert exhausted is not None and exhausted.status == 410
        assert "download" in page.locator("#message").inner_text()
    finally:
        visitor.close()


def test_drop_and_edit_links_take_uploads_from_a_browser(
    chromium: Any, live_server: LiveServer, visit: tuple[Visit, TestUser], tmp_path: Path
) -> None:
    _session, user = visit
    store = live_server.services.store
    store.mkdir(user.owner, parse_user_path("Inbox"))
    store.write_bytes(user.owner, parse_user_path("Inbox/secret.txt"), b"not for visitors")
    drop = store.links.create(user.owner, parse_user_path("Inbox"), "drop", {"require_name": True})
    edit = store.links.create(user.owner, parse_user_path("Documents"), "edit")
    sent = tmp_path / "secret.txt"
    sent.write_bytes(b"from a visitor")
    visitor = _visitor(chromium, live_server)
    try:
        page = visitor.page
        visitor.go(f"/s/{drop.token}")
        assert "secret.txt" not in page.content()  # a drop never shows what it holds
        visitor.check("link-drop")
        page.get_by_label("Your name").fill("Vera")
        page.get_by_label("Files").set_input_files(str(sent))
        page.get_by_role("button", name="Send").click()
        page.locator("#received").wait_for()
        # The visitor sees what they sent, never that a file of that name was there.
        assert page.locator("#received").inner_text() == "secret.txt (14 bytes)"
        assert content(live_server, user, "Inbox/secret.txt") == b"not for visitors"
        assert content(live_server, user, "Inbox/secret (1).txt") == b"from a visitor"

        visitor.go(f"/s/{edit.token}")
        page.get_by_label("Name", exact=True).fill("From the link")
        page.get_by_role("button", name="Create").click()
        page.get_by_role("link", name="From the link/").wait_for()
        page.get_by_label("Files (a file of the same name is replaced").set_input_files(str(sent))
        page.get_by_role("button", name="Upload").click()
        page.get_by_role("link", name="secret.txt").wait_for()
        page.get_by_role("button", name="Delete report.txt").click()
        page.get_by_role("link", name="From the link/").wait_for()
        visitor.check("link-edit")
        assert names(live_server, user, "Documents") == ["From the link", "secret.txt"]
        assert [entry.original_path.text for entry in store.trash_list(user.owner)] == [
            "Documents/report.txt"
        ]
    finally:
        visitor.close()
