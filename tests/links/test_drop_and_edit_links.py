"""Drop links take files and show nothing, never overwrite, cap sizes and count against the
owner's quota; edit links change the owner's files through the store (trash, versions)."""

from __future__ import annotations

import requests

from davfiles.store import parse_user_path as p
from tests.harness import LiveServer, TestUser
from tests.links.helpers import Page, make_link


def folder(server: LiveServer, user: TestUser, name: str) -> None:
    assert server.session(user).request("MKCOL", server.url(f"/dav/{name}")).status_code == 201


def send(
    server: LiveServer, token: str, files: list[tuple[str, bytes]], sub: str = "", **fields: str
) -> requests.Response:
    url = server.url(f"/s/{token}/upload" + (f"/{sub}" if sub else ""))
    parts = [("file", (name, data)) for name, data in files]
    return requests.post(url, data=fields, files=parts, timeout=30, allow_redirects=False)


def test_a_drop_takes_files_never_overwrites_and_shows_nothing(live_server: LiveServer) -> None:
    alice = live_server.add_user("alice")
    folder(live_server, alice, "inbox")
    dav = live_server.session(alice)
    assert dav.put(live_server.url("/dav/inbox/report.pdf"), data=b"owner's").ok
    link = make_link(live_server, alice, "inbox", "drop", label="Reports")

    form_page = requests.get(live_server.url(f"/s/{link.token}"), timeout=30)
    assert form_page.status_code == 200
    page = Page(form_page.text)
    [form] = page.forms
    assert form["action"] == f"/s/{link.token}/upload" and "uploader" in form["fields"]
    assert "report.pdf" not in form_page.text
    for path in ("/download", "/download/report.pdf", "/browse/x"):
        answer = requests.get(live_server.url(f"/s/{link.token}{path}"), timeout=30)
        assert answer.status_code in (403, 404), path
        assert b"owner's" not in answer.content

    answer = send(
        live_server,
        link.token,
        [("report.pdf", b"first"), ("report.pdf", b"second")],
        uploader="Eve",
    )
    assert answer.status_code == 200
    received = Page(answer.text).by_id["received"]
    assert received.count("report.pdf") == 2
    store = live_server.services.store
    names = sorted(info.name for info in store.list_dir(alice.owner, p("inbox")))
    assert names == ["report (1).pdf", "report (2).pdf", "report.pdf"]
    assert dav.get(live_server.url("/dav/inbox/report.pdf")).content == b"owner's"
    renamed = store.stat(alice.owner, p("inbox/report (1).pdf"))
    assert renamed is not None and renamed.description == "uploaded through link Reports by Eve"
    counted = store.links.get(alice.owner, link.id).link
    assert (counted.uploads, counted.uploaded_bytes) == (2, len(b"first") + len(b"second"))


def test_a_drop_caps_sizes_asks_for_a_name_and_counts_against_the_quota(
    live_server: LiveServer,
) -> None:
    alice = live_server.add_user("alice", max_bytes=1000)
    folder(live_server, alice, "inbox")
    link = make_link(live_server, alice, "inbox", "drop", max_upload_bytes=100, require_name=True)
    nameless = send(live_server, link.token, [("a.txt", b"a")])
    assert nameless.status_code == 400 and "name" in Page(nameless.text).by_id["error"]
    too_big = send(live_server, link.token, [("big.txt", b"x" * 101)], uploader="Eve")
    assert too_big.status_code == 413
    store = live_server.services.store
    assert store.list_dir(alice.owner, p("inbox")) == []
    assert store.usage(alice.owner).used_bytes == 0
    assert send(live_server, link.token, [("ok.txt", b"y" * 100)], uploader="Eve").ok
    assert store.usage(alice.owner).used_bytes == 100

    store.links.update(alice.owner, link.id, {"max_upload_bytes": None})
    over_quota = send(live_server, link.token, [("huge.txt", b"z" * 2000)], uploader="Eve")
    assert over_quota.status_code == 507
    assert store.usage(alice.owner).used_bytes == 100
    assert [info.name for info in store.list_dir(alice.owner, p("inbox"))] == ["ok.txt"]


def test_an_edit_link_uploads_replaces_deletes_and_makes_folders(live_server: LiveServer) -> None:
    alice = live_server.add_user("alice")
    folder(live_server, alice, "team")
    dav = live_server.session(alice)
    assert dav.put(live_server.url("/dav/team/plan.txt"), data=b"v1").ok
    link = make_link(live_server, alice, "team", "edit")
    store = live_server.services.store

    replaced = send(live_server, link.token, [("plan.txt", b"v2")])
    assert replaced.status_code == 303
    assert dav.get(live_server.url("/dav/team/plan.txt")).content == b"v2"
    plan = store.stat(alice.owner, p("team/plan.txt"))
    assert plan is not None
    assert [version.size for version in store.versions_of(alice.owner, plan.id)] == [2]

    made = requests.post(
        live_server.url(f"/s/{link.token}/mkdir"), data={"name": "sub"}, allow_redirects=False
    )
    assert made.status_code == 303
    assert send(live_server, link.token, [("deep.txt", b"d")], sub="sub").status_code == 303
    assert dav.get(live_server.url("/dav/team/sub/deep.txt")).content == b"d"

    page = Page(requests.get(live_server.url(f"/s/{link.token}"), timeout=30).text)
    assert f"/s/{link.token}/delete/plan.txt" in [form["action"] for form in page.forms]
    deleted = requests.post(
        live_server.url(f"/s/{link.token}/delete/plan.txt"), allow_redirects=False
    )
    assert deleted.status_code == 303
    assert store.stat(alice.owner, p("team/plan.txt")) is None
    [trashed] = store.trash_list(alice.owner)
    assert trashed.name == "plan.txt" and trashed.door == "links"
    # Never the shared folder itself, never outside it.
    assert requests.post(live_server.url(f"/s/{link.token}/delete")).status_code == 403
    assert requests.post(live_server.url(f"/s/{link.token}/delete/../x")).status_code in (400, 404)
    assert store.stat(alice.owner, p("team")) is not None


def test_kinds_that_need_a_folder_refuse_a_file(live_server: LiveServer) -> None:
    alice = live_server.add_user("alice")
    assert live_server.session(alice).put(live_server.url("/dav/a.txt"), data=b"a").ok
    for kind in ("drop", "edit"):
        try:
            make_link(live_server, alice, "a.txt", kind)
        except Exception as exc:  # noqa: BLE001
            assert type(exc).__name__ == "Conflict"
        else:
            raise AssertionError(f"a {kind} link to a file was made")
    view = make_link(live_server, alice, "a.txt")
    assert send(live_server, view.token, [("x.txt", b"x")]).status_code == 403
