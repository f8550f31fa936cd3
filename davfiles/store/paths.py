"""Name rules and path resolution: the only place that turns a client path into a disk path.

A user path is resolved by component inside the user's home, never by string prefix, and every
component is checked, so no client-supplied name can leave the home.

Length limits are the file system's, fixed so they never depend on where ``data_dir`` is: a
name at most ``MAX_NAME_BYTES`` of UTF-8 (NAME_MAX), a path inside the home at most
``MAX_PATH_BYTES``. Linux refuses a path of PATH_MAX bytes or more, so the rest of PATH_MAX is
the home's own path, and a data dir too long to leave that room is refused at start-up
(``check_data_dir``) instead of making long names fail later.
"""

from __future__ import annotations

import os
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from davfiles.errors import ConfigError, InvalidName

MAX_NAME_BYTES = 255
MAX_PATH_BYTES = 3072
MAX_DEPTH = 64
PATH_MAX = 4096
MAX_USERNAME_BYTES = 64
# A disk path is ``<data_dir>/users/<user>/<path>`` plus the terminating NUL.
MAX_DATA_DIR_BYTES = PATH_MAX - 1 - MAX_PATH_BYTES - len("/users/") - MAX_USERNAME_BYTES - 1
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
        return _checked((*self.parts, name))

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


def numbered_name(name: str, number: int) -> str:
    """The ``number``-th variant of ``name`` for a free slot, ``a (1).txt``, its stem (or the
    whole name, when the extension leaves no room) cut to keep within ``MAX_NAME_BYTES``."""
    stem, extension = os.path.splitext(name)
    suffix = f" ({number}){extension}"
    room = MAX_NAME_BYTES - len(suffix.encode("utf-8", "surrogatepass"))
    if room < 1:
        stem, suffix = name, f" ({number})"
        room = MAX_NAME_BYTES - len(suffix)
    kept = stem.encode("utf-8", "surrogatepass")[:room].decode("utf-8", "ignore")
    return kept + suffix


def parse_user_path(raw: str) -> UserPath:
    """Split a decoded URL path like ``/a/b/`` into checked names; empty segments are ignored."""
    parts = tuple(part for part in raw.split("/") if part)
    for part in parts:
        check_name(part)
    return _checked(parts)


def _checked(parts: tuple[str, ...]) -> UserPath:
    """The path of already checked names, if the file system can hold it inside a home."""
    if len(parts) > MAX_DEPTH:
        raise InvalidName(f"a path is limited to {MAX_DEPTH} levels")
    if sum(len(part.encode("utf-8", "surrogatepass")) + 1 for part in parts) > MAX_PATH_BYTES + 1:
        raise InvalidName(f"a path is limited to {MAX_PATH_BYTES} bytes")
    return UserPath(parts)


def check_tree_move(source: UserPath, target: UserPath, paths_below: Iterable[str]) -> None:
    """Raise InvalidName unless everything below the folder ``source`` (``paths_below``: their
    ``a/b/c`` texts), moved or copied to ``target``, keeps within the path limits."""
    cut = len(source.parts)
    for text in paths_below:
        _checked(target.parts + tuple(text.split("/")[cut:]))


def check_data_dir(data_dir: Path) -> None:
    """Raise ConfigError if homes below ``data_dir`` leave less than ``MAX_PATH_BYTES`` of
    PATH_MAX for the paths inside them."""
    length = len(os.fsencode(data_dir.resolve()))
    if length > MAX_DATA_DIR_BYTES:
        raise ConfigError(
            f"data_dir is {length} bytes long; at most {MAX_DATA_DIR_BYTES} leave room for "
            f"paths of {MAX_PATH_BYTES} bytes inside the homes below it"
        )


def check_username(name: str) -> None:
    if not _USERNAME_RE.match(name):
        raise InvalidName(
            "a user name is 1-64 characters: letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )


def disk_path(home: Path, path: UserPath) -> Path:
    """The file or folder on disk for ``path`` (already checked) inside ``home``."""
    return home.joinpath(*path.parts)
