"""A browser without JavaScript for the web app's tests: requests plus html.parser.

``Browser`` logs in through the form, keeps the cookies, reads each page's forms and links
and submits forms as a browser would (hidden fields included, Origin sent).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urljoin

import requests

from davfiles.store import ROOT, parse_user_path
from tests.harness import LiveServer, TestUser


@dataclass
class Form:
    action: str
    method: str
    enctype: str
    fields: list[tuple[str, str]] = field(default_factory=list)
    buttons: list[tuple[str, str]] = field(default_factory=list)  # (text, formaction)

    def value(self, name: str) -> str:
        return next(value for key, value in self.fields if key == name)


class Page(HTMLParser):
    """What a test looks at in a page: forms (inputs, textareas and selects as a browser
    sends them), links, the text of table rows, the title."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[Form] = []
        self.links: list[tuple[str, str]] = []  # (text, href)
        self.rows: list[str] = []
        self.title = ""
        self.texts: list[str] = []
        self._form: Form | None = None
        self._link: list[Any] | None = None
        self._row: list[str] | None = None
        self._button: list[Any] | None = None
        self._textarea: int | None = None  # the field a <textarea>'s text goes to
        self._select: list[Any] | None = None
        self._in_title = False
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {key: value or "" for key, value in attrs}
        if tag == "form":
            self._form = Form(
                a.get("action", ""),
                a.get("method", "get").lower(),
                a.get("enctype", "application/x-www-form-urlencoded"),
            )
            self.forms.append(self._form)
        elif tag == "input" and self._form is not None:
            kind = a.get("type", "text")
            if kind in ("checkbox", "radio") and "checked" not in a:
                return
            if "name" in a and kind != "file":
                self._form.fields.append((a["name"], a.get("value", "")))
        elif tag == "textarea" and self._form is not None and "name" in a:
            self._form.fields.append((a["name"], ""))
            self._textarea = len(self._form.fields) - 1
        elif tag == "select" and self._form is not None and "name" in a:
            self._select = [a["name"], None, None]  # name, first option, selected option
        elif tag == "option" and self._select is not None:
            value = a.get("value", "")
            if self._select[1] is None:
                self._select[1] = value
            if "selected" in a:
                self._select[2] = value
        elif tag == "button" and self._form is not None:
            self._button = [a.get("formaction", ""), ""]
        elif tag == "a":
            self._link = [a.get("href", ""), ""]
        elif tag == "tr":
            self._row = []
        elif tag == "title":
            self._in_title = True

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._form = None
        elif tag == "textarea":
            self._textarea = None
        elif tag == "select" and self._select is not None and self._form is not None:
            name, first, chosen = self._select
            self._form.fields.append((name, chosen if chosen is not None else first or ""))
            self._select = None
        elif tag == "a" and self._link is not None:
            self.links.append((self._link[1].strip(), self._link[0]))
            self._link = None
        elif tag == "tr" and self._row is not None:
            self.rows.append(" ".join(" ".join(self._row).split()))
            self._row = None
        elif tag == "button" and self._button is not None and self._form is not None:
            self._form.buttons.append((self._button[1].strip(), self._button[0]))
            self._button = None
        elif tag == "title":
            self._in_title = False

    def handle_data(self, data: str) -> None:
        self.texts.append(data)
        if self._textarea is not None and self._form is not None:
            name, value = self._form.fields[self._textarea]
            self._form.fields[self._textarea] = (name, value + data)
        if self._link is not None:
            self._link[1] += data
        if self._row is not None:
            self._row.append(data)
        if self._button is not None:
            self._button[1] += data
        if self._in_title:
            self.title += data

    @property
    def text(self) -> str:
        return " ".join(" ".join(self.texts).split())

    def form(self, action: str) -> Form:
        """The first form posting to ``action`` (or with a button whose formaction is it)."""
        for form in self.forms:
            if form.action == action or any(target == action for _t, target in form.buttons):
                return form
        raise AssertionError(f"no form for {action}; forms: {[f.action for f in self.forms]}")

    def link(self, text: str) -> str:
        for label, href in self.links:
            if label == text:
                return href
        raise AssertionError(f"no link {text!r}; links: {self.links}")


class Browser:
    """A session of the web app as a browser without JavaScript has it."""

    def __init__(self, server: LiveServer) -> None:
        self.server = server
        self.http = requests.Session()
        self.http.headers["Accept"] = "text/html,application/xhtml+xml,*/*;q=0.8"
        self.http.headers["User-Agent"] = "Mozilla/5.0 (X11; Linux x86_64) test browser"

    def url(self, path: str) -> str:
        return urljoin(self.server.base, path)

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.http.get(self.url(path), allow_redirects=kwargs.pop("follow", True), **kwargs)

    def page(self, path: str) -> Page:
        response = self.get(path)
        assert response.status_code == 200, (path, response.status_code, response.text[:500])
        return Page(response.text)

    def submit(
        self,
        form: Form,
        changes: dict[str, str | list[str]] | None = None,
        *,
        action: str | None = None,
        files: list[tuple[str, tuple[str, bytes]]] | None = None,
        follow: bool = True,
        origin: str | None = "self",
    ) -> requests.Response:
        """Post ``form`` with ``changes`` to its fields (a list for repeated names)."""
        fields = [(k, v) for k, v in form.fields if not changes or k not in changes]
        for key, value in (changes or {}).items():
            for item in value if isinstance(value, list) else [value]:
                fields.append((key, item))
        headers = {}
        if origin is not None:
            headers["Origin"] = self.server.base if origin == "self" else origin
        target = self.url(action or form.action)
        if files is not None:
            return self.http.post(
                target, data=fields, files=files, headers=headers, allow_redirects=follow
            )
        return self.http.post(target, data=fields, headers=headers, allow_redirects=follow)

    def login(self, user: TestUser, password: str | None = None) -> requests.Response:
        page = self.page("/app/login")
        return self.submit(
            page.form("/app/login"),
            {"user": user.name, "password": password or user.password},
        )


def put(server: LiveServer, user: TestUser, path: str, data: bytes) -> None:
    """Store ``data`` at ``path`` of ``user``'s home, with any missing folders above it."""
    store, target = server.services.store, parse_user_path(path)
    store.ensure_dirs(user.owner, target.parent)
    store.write_bytes(user.owner, target, data)


def names(server: LiveServer, user: TestUser, folder: str = "") -> list[str]:
    """The sorted member names of a folder of ``user``'s home, read from the store."""
    path = parse_user_path(folder) if folder else ROOT
    return sorted(info.name for info in server.services.store.list_dir(user.owner, path))


def content(server: LiveServer, user: TestUser, path: str) -> bytes:
    """The bytes stored at ``path`` of ``user``'s home."""
    store = server.services.store
    info = store.stat(user.owner, parse_user_path(path))
    assert info is not None, path
    with store.open_read(user.owner, info) as stream:
        return stream.read()
