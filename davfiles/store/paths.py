"""Name rules and path resolution: the only place that turns a client path into a disk path.

A user path is resolved by component inside the user's home, never by string prefix, and every
component is checked, so no client-supplied name can leave the home.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from davfiles.errors import InvalidName

MAX_NAME_BYTES = 255
MAX_PATH_BYTES = 4096
MAX_DEPTH = 64
_USERNAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
# Names Windows reserves for devices, with or without an extension: a file called "CON" or
# "nul.txt" cannot be opened, copied or deleted from a mounted drive on Windows.
_WINDOWS_DEVICE_RE = re.compile(r"^(CON|PRN|AUX|NUL|COM[1-9]|LPT[1-9])(\..*)?$", re.IGNORECASE)


@dataclass(frozen=True)
class UserPath:
    """A checked path inside a home: a tuple of names, empty for the home itself."""

    parts: tuple[str, ...]

    @property
    def is_root(self) -> bool:
        return not self.parts

    @property
    def name(self) -> str:
        return self.parts[-1] if self.parts else ""

    @property
    def parent(self) -> UserPath:
        return UserPath(self.parts[:-1])

    @property
    def text(self) -> str:
        """``a/b/c`` as stored in the database ("" for the home)."""
        return "/".join(self.parts)

    def child(self, name: str) -> UserPath:
        check_name(name)
        return UserPath((*self.parts, name))

    def is_within(self, other: UserPath) -> bool:
        """True if self is other or lies below it."""
        return self.parts[: len(other.parts)] == other.parts

    def __str__(self) -> str:
        return "/" + self.text


ROOT = UserPath(())


def check_name(name: str) -> None:
    """Raise InvalidName unless ``name`` is acceptable as one file or folder name."""
    if name in ("", ".", ".."):
        raise InvalidName(f"{name!r} is not a valid name")
    if "/" in name or "\\" in name:
        raise InvalidName("a name cannot contain a slash")
    for char in name:
        if unicodedata.category(char) in ("Cc", "Cs") or char == "\ufffd":
            raise InvalidName("a name cannot contain control characters or invalid UTF-8")
    if _WINDOWS_DEVICE_RE.match(name):
        raise InvalidName(f"{name!r} is a Windows device name")
    if len(name.encode("utf-8", "surrogatepass")) > MAX_NAME_BYTES:
        raise InvalidName(f"a name is limited to {MAX_NAME_BYTES} bytes")


def parse_user_path(raw: str) -> UserPath:
    """Split a decoded URL path like ``/a/b/`` into checked names; empty segments are ignored."""
    if len(raw.encode("utf-8", "surrogatepass")) > MAX_PATH_BYTES:
        raise InvalidName(f"a path is limited to {MAX_PATH_BYTES} bytes")
    parts = tuple(part for part in raw.split("/") if part)
    if len(parts) > MAX_DEPTH:
        raise InvalidName(f"a path is limited to {MAX_DEPTH} levels")
    for part in parts:
        check_name(part)
    return UserPath(parts)


def check_username(name: str) -> None:
    if not _USERNAME_RE.match(name):
        raise InvalidName(
            "a user name is 1-64 characters: letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )


def disk_path(home: Path, path: UserPath) -> Path:
    """The file or folder on disk for ``path`` (already checked) inside ``home``."""
    return home.joinpath(*path.parts)
