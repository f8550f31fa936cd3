"""The values of share links (kinds, states, what a link and a visit are) and the checks of
the settings an owner may give; the rules that use them are in ``links.py``."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from davfiles.auth.secrets import hash_password
from davfiles.db.models import ShareLink
from davfiles.errors import InvalidName, PermissionDenied
from davfiles.numbers import LATEST_TIME
from davfiles.store.models import FileInfo, Owner
from davfiles.store.paths import UserPath

MAX_TEXT = 1000
MAX_PASSWORD = 1024
# Counts and sizes are BIGINT columns.
MAX_COUNT = 2**63 - 1


class LinkKind(StrEnum):
    VIEW = "view"
    DROP = "drop"
    EDIT = "edit"


class LinkState(StrEnum):
    ACTIVE = "active"
    EXPIRED = "expired"
    EXHAUSTED = "exhausted"
    DISABLED = "disabled"


@dataclass(frozen=True)
class LinkInfo:
    id: int
    owner_id: int
    node_id: int
    token: str
    kind: LinkKind
    # The argon2 hash, for doors that derive a cookie from it (a new password ends cookies).
    password_hash: str | None
    expires_at: float | None
    max_downloads: int | None
    max_upload_bytes: int | None
    require_name: bool
    label: str | None
    note: str | None
    disabled: bool
    views: int
    downloads: int
    uploads: int
    uploaded_bytes: int
    last_access_at: float | None
    created_at: float

    @property
    def has_password(self) -> bool:
        return self.password_hash is not None

    def state(self, now: float | None = None) -> LinkState:
        now = time.time() if now is None else now
        if self.disabled:
            return LinkState.DISABLED
        if self.expires_at is not None and self.expires_at <= now:
            return LinkState.EXPIRED
        if self.max_downloads is not None and self.downloads >= self.max_downloads:
            return LinkState.EXHAUSTED
        return LinkState.ACTIVE


@dataclass(frozen=True)
class LinkListing:
    """A link as its owner sees it: where its node is now (None: in the trash or gone)."""

    link: LinkInfo
    owner_name: str
    path: UserPath | None
    is_dir: bool | None
    trashed: bool


@dataclass(frozen=True)
class Visit:
    """An active link opened by its token: the owner and the shared file or folder."""

    link: LinkInfo
    owner: Owner
    root: FileInfo

    def may(self, *kinds: LinkKind) -> None:
        if self.link.kind not in kinds:
            raise PermissionDenied(f"a {self.link.kind} link does not allow this")


# The fields an owner may set, with the check of each value.
_SETTABLE = (
    "kind",
    "password",
    "expires_at",
    "max_downloads",
    "max_upload_bytes",
    "require_name",
    "label",
    "note",
    "disabled",
)


def to_info(row: ShareLink) -> LinkInfo:
    return LinkInfo(
        id=row.id,
        owner_id=row.owner_id,
        node_id=row.node_id,
        token=row.token,
        kind=LinkKind(row.kind),
        password_hash=row.password_hash,
        expires_at=row.expires_at,
        max_downloads=row.max_downloads,
        max_upload_bytes=row.max_upload_bytes,
        require_name=row.require_name,
        label=row.label,
        note=row.note,
        disabled=row.disabled,
        views=row.views,
        downloads=row.downloads,
        uploads=row.uploads,
        uploaded_bytes=row.uploaded_bytes,
        last_access_at=row.last_access_at,
        created_at=row.created_at,
    )


def kinds_for(is_dir: bool) -> list[LinkKind]:
    """The kinds a link may have: any to a folder; a file is only viewed (drops and edits
    write into a folder)."""
    return list(LinkKind) if is_dir else [LinkKind.VIEW]


def _positive(name: str, value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_COUNT:
        raise InvalidName(f"{name} must be a whole number from 1 to {MAX_COUNT}, or null")
    return value


def text_value(name: str, value: Any) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > MAX_TEXT:
        raise InvalidName(f"{name} must be text of at most {MAX_TEXT} characters")
    return value


def checked_changes(changes: Mapping[str, Any]) -> dict[str, Any]:
    """The column values of ``changes``; InvalidName for an unknown field or a bad value."""
    unknown = sorted(set(changes) - set(_SETTABLE))
    if unknown:
        raise InvalidName(f"unknown link field(s): {', '.join(unknown)}")
    values: dict[str, Any] = {}
    for name, value in changes.items():
        if name == "kind":
            if value not in tuple(LinkKind):
                raise InvalidName("kind must be view, drop or edit")
            values["kind"] = str(value)
        elif name == "password":
            if value is not None and (
                not isinstance(value, str) or not value or len(value) > MAX_PASSWORD
            ):
                raise InvalidName(f"a link password is 1 to {MAX_PASSWORD} characters, or null")
            values["password_hash"] = None if value is None else hash_password(value)
        elif name == "expires_at":
            if value is not None and (
                isinstance(value, bool)
                or not isinstance(value, int | float)
                or not 0 < value <= LATEST_TIME
            ):
                raise InvalidName(f"expires_at must be unix seconds up to {LATEST_TIME}, or null")
            values["expires_at"] = None if value is None else float(value)
        elif name in ("max_downloads", "max_upload_bytes"):
            values[name] = _positive(name, value)
        elif name in ("require_name", "disabled"):
            if not isinstance(value, bool):
                raise InvalidName(f"{name} must be true or false")
            values[name] = value
        else:
            values[name] = text_value(name, value)
    return values
