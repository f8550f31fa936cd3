"""Shared helpers of the share link tests: an HTML reader and a link maker."""

from __future__ import annotations

import time
from collections.abc import Callable
from html.parser import HTMLParser
from typing import Any

from davfiles.store import parse_user_path
from davfiles.store.links import LinkInfo
from tests.harness import LiveServer, TestUser


class Page(HTMLParser):
    """What a test needs of a page: links, forms with their fields, texts by element id."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.links: list[tuple[str, str]] = []
        self.forms: list[dict[str, Any]] = []
        self.by_id: dict[str, str] = {}
        self.title = ""
        self._href: str | None = None
        self._text: list[str] = []
        self._text_all: list[str] = []
        self._open_ids: list[tuple[str, str, int]] = []
        self._in_title = False
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        if tag == "a":
            self._href = values.get("href", "")
            self._text = []
        if tag == "form":
            self.forms.append({"action": values.get("action"), "fields": {}, **values})
        if tag in ("input", "button") and self.forms and "name" in values:
            self.forms[-1]["fields"][values["name"]] = values.get("value", "")
        if tag == "title":
            self._in_title = True
        if "id" in values:
            self._open_ids.append((values["id"], tag, len(self._text_all)))

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._href is not None:
            self.links.append(("".join(self._text).strip(), self._href))
            self._href = None
        if tag == "title":
            self._in_title = False
        if self._open_ids and self._open_ids[-1][1] == tag:
            element_id, _tag, start = self._open_ids.pop()
            self.by_id[element_id] = "".join(self._text_all[start:]).strip()

    def handle_data(self, data: str) -> None:
        if self._href is not None:
            self._text.append(data)
        if self._in_title:
            self.title += data
        self._text_all.append(data)

    def link(self, text: str) -> str:
        for label, href in self.links:
            if label == text:
                return href
        raise AssertionError(f"no link {text!r} in {self.links}")


def wait_for(condition: Callable[[], bool], seconds: float = 10.0) -> None:
    """Until ``condition`` holds: a download is counted just after its last byte went out,
    which the client may see first."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


def make_link(
    server: LiveServer, user: TestUser, path: str, kind: str = "view", **settings: Any
) -> LinkInfo:
    return server.services.store.links.create(user.owner, parse_user_path(path), kind, settings)
