"""The URLs of a link's pages: every one built here from the request's outside root, the
token and a path below the shared item, each name percent-encoded."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

from werkzeug.wrappers import Request

from davfiles.numbers import whole_number
from davfiles.store import FileInfo

PREFIX = "/s/"
STATIC = "-"


@dataclass(frozen=True)
class Entry:
    """A row of a folder's listing, with the URLs of what it offers."""

    info: FileInfo
    base: str
    relative: str

    @property
    def browse(self) -> str:
        return f"{self.base}/browse/{quoted(self.relative)}"

    @property
    def download(self) -> str:
        return f"{self.base}/download/{quoted(self.relative)}"

    @property
    def delete(self) -> str:
        return f"{self.base}/delete/{quoted(self.relative)}"


def page_number(request: Request, pages: int) -> int:
    """The listing page asked for (``?page=N``), within 1 and ``pages``."""
    number = whole_number(request.args.get("page", "1")) or 1
    return min(max(number, 1), pages)


def quoted(relative: str) -> str:
    return "/".join(quote(part, safe="") for part in relative.split("/") if part)


def base_url(request: Request, token: str) -> str:
    return f"{request.script_root}{PREFIX}{token}"


def static_url(request: Request) -> str:
    return f"{request.script_root}{PREFIX}{STATIC}"


def browse_url(request: Request, token: str, relative: str) -> str:
    base = base_url(request, token)
    return f"{base}/browse/{quoted(relative)}" if relative else base


def crumbs(base: str, root_name: str, relative: str) -> list[tuple[str, str]]:
    """The breadcrumbs of a folder: each name from the shared folder down, with its URL."""
    trail = [(root_name, base)]
    parts = [part for part in relative.split("/") if part]
    for depth in range(1, len(parts) + 1):
        trail.append((parts[depth - 1], f"{base}/browse/{quoted('/'.join(parts[:depth]))}"))
    return trail
