"""Nextcloud's trashbin and versions WebDAV: ``/remote.php/dav/trashbin/<user>/`` and
``/remote.php/dav/versions/<user>/``, as its web app and clients send them.

- ``PROPFIND trashbin/<user>/trash`` lists the trash; each item is named
  ``<name>.d<time>.<item id>`` (unique: Nextcloud's ``<name>.d<time>`` is not when two files
  of one name go in one second; its clients take the name as opaque) and carries
  ``nc:trashbin-filename``, ``nc:trashbin-original-location``, ``nc:trashbin-deletion-time``
  and ``nc:trashbin-deleted-by-id``/``-display-name`` (the owner: only they delete in their
  home). ``MOVE`` of an item to ``trashbin/<user>/restore/<name>`` restores it (201),
  ``DELETE`` of an item deletes it for good, of ``trash`` empties it. ``GET`` of a trashed
  file reads it (``Content-Disposition`` names the original), ``PROPFIND`` of a trashed
  folder lists what it held (``trash/<item>/<name>/...``, plain names, readable only); PUT,
  MKCOL and PROPPATCH in the trash answer 403, as Nextcloud does.
- ``PROPFIND versions/<user>/versions/<file id>`` lists a file's versions (named by their
  id, with ``nc:version-label`` and ``nc:version-author``); ``GET`` of one reads it,
  ``MOVE`` to ``versions/<user>/restore/<name>`` makes it current again (201), ``PROPPATCH``
  of ``nc:version-label`` labels (pins) it, ``DELETE`` deletes it for good.

All the work is done by the store; these resources only translate.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from wsgidav import util
from wsgidav.dav_error import (
    HTTP_FORBIDDEN,
    HTTP_NOT_FOUND,
    DAVError,
)
from wsgidav.dav_provider import DAVCollection, DAVNonCollection

from davfiles.errors import InvalidName
from davfiles.provider.chunk_resources import AreaMixin
from davfiles.provider.errors import dav_errors
from davfiles.rest.io import content_disposition
from davfiles.store import ROOT, FileInfo, Owner, UserPath, parse_id, parse_user_path
from davfiles.store.nodes import FOLDER_TYPE
from davfiles.store.trash import TrashEntry
from davfiles.store.versions import VersionInfo, version_path

if TYPE_CHECKING:
    from davfiles.provider.provider import DavfilesProvider

NC_NS = "{http://nextcloud.org/ns}"
TRASH_FILENAME = NC_NS + "trashbin-filename"
TRASH_LOCATION = NC_NS + "trashbin-original-location"
TRASH_TIME = NC_NS + "trashbin-deletion-time"
TRASH_TITLE = NC_NS + "trashbin-title"
TRASH_DELETED_BY_ID = NC_NS + "trashbin-deleted-by-id"
TRASH_DELETED_BY_NAME = NC_NS + "trashbin-deleted-by-display-name"
VERSION_LABEL = NC_NS + "version-label"
VERSION_AUTHOR = NC_NS + "version-author"
OC_FILEID = "{http://owncloud.org/ns}fileid"
OC_PERMISSIONS = "{http://owncloud.org/ns}permissions"
OC_SIZE = "{http://owncloud.org/ns}size"
_TRASH_PROPERTIES = (
    TRASH_FILENAME,
    TRASH_LOCATION,
    TRASH_TITLE,
    TRASH_TIME,
    TRASH_DELETED_BY_ID,
    TRASH_DELETED_BY_NAME,
    OC_FILEID,
    OC_PERMISSIONS,
    OC_SIZE,
)
_READ_ONLY = "the trash is read-only: restore the item to change it"
_WHOLE_ITEMS = "only a whole trash item is restored or deleted, not what lies inside it"


def trash_member_name(entry: TrashEntry) -> str:
    """The name of a trash item: Nextcloud's original name and deletion time, then the id."""
    return f"{entry.name}.d{int(entry.deleted_at)}.{entry.id}"


class _Folder(AreaMixin, DAVCollection):
    """A fixed folder of the areas (``trashbin/<user>/``, ``restore``, ``versions``)."""

    def __init__(
        self,
        provider: DavfilesProvider,
        path: str,
        environ: dict[str, Any],
        owner: Owner,
        area: str,
        members: dict[str, Any] | None = None,
    ) -> None:
        DAVCollection.__init__(self, path, environ)
        self.provider, self.owner, self.area = provider, owner, area
        self.relative = path.strip("/").partition("/")[2].partition("/")[2]
        self._members = members or {}

    def get_member_names(self) -> list[str]:
        return list(self._members)

    def get_member(self, name: str) -> Any:
        make = self._members.get(name)
        return make(util.join_uri(self.path, name)) if make else None

    def handle_delete(self) -> bool:
        raise DAVError(HTTP_FORBIDDEN, context_info="this folder cannot be deleted")


class TrashFolder(_Folder):
    """``trashbin/<user>/trash``: the items; DELETE empties the trash."""

    def _entries(self) -> list[TrashEntry]:
        with dav_errors():
            return self.provider.store.trash_list(self.owner)

    def get_member_names(self) -> list[str]:
        return [trash_member_name(entry) for entry in self._entries()]

    def get_member_list(self) -> list[TrashedResource]:
        """Every item from one listing and one read of their records (WsgiDAV would look
        each name up again)."""
        entries = self._entries()
        with dav_errors():
            roots = self.provider.store.trash_roots(self.owner, entries)
        return [self._resource(entry, roots[entry.id]) for entry in entries if entry.id in roots]

    def get_member(self, name: str) -> TrashedResource | None:
        item_id = parse_id(name.rpartition(".")[2])
        if item_id is None:
            return None
        with dav_errors():
            entry = self.provider.store.trash_entry(self.owner, item_id)
            if entry is None or trash_member_name(entry) != name:
                return None
            info = self.provider.store.trash_inside(self.owner, entry, ROOT)
        # Without its own record (fsck reports such an item) an item cannot be shown.
        return self._resource(entry, info) if info is not None else None

    def _resource(self, entry: TrashEntry, info: FileInfo) -> TrashedResource:
        path = util.join_uri(self.path, trash_member_name(entry))
        return trashed_resource(self, path, entry, info)

    def handle_delete(self) -> bool:
        with dav_errors():
            self.provider.store.trash_purge(self.owner)
        return True


def trashed_resource(
    parent: _Folder | TrashedFolderResource, path: str, entry: TrashEntry, info: FileInfo
) -> TrashedResource:
    make = TrashedFolderResource if info.is_dir else TrashedFileResource
    return make(parent, path, entry, info)


class _Trashed(AreaMixin):
    """A trash item (``trash/<name>.d<time>.<id>``), or a file or folder inside a trashed
    folder (``trash/<item>/<name>/...``), with Nextcloud's trashbin properties. Read-only:
    an item is restored (MOVE to ``restore/``) or deleted whole, what lies inside is only
    read."""

    entry: TrashEntry
    info: FileInfo
    path: str

    def __init__(
        self,
        parent: _Folder | TrashedFolderResource,
        path: str,
        entry: TrashEntry,
        info: FileInfo,
    ) -> None:
        # WsgiDAV's DAVNonCollection or DAVCollection, whichever the class also is.
        super().__init__(path, parent.environ)  # type: ignore[call-arg]
        self.provider, self.owner, self.area = parent.provider, parent.owner, "trashbin"
        self.entry, self.info = entry, info
        self.relative = "trash/" + self.path.strip("/").split("/", 3)[3]
        # The item itself, not something inside it.
        self.is_item = info.id == entry.node_id

    def get_content_length(self) -> int:
        return self._size()

    def _size(self) -> int:
        """A folder's: the bytes of every file below it."""
        if self.is_item:
            return self.entry.size
        return self.info.tree_size if self.info.is_dir else self.info.size

    def get_content_type(self) -> str:
        return FOLDER_TYPE if self.info.is_dir else self.info.content_type

    def get_last_modified(self) -> float:
        return self.entry.deleted_at

    def get_display_name(self) -> str:
        return self.info.name

    def get_property_names(self, *, is_allprop: bool) -> list[str]:
        names = super().get_property_names(is_allprop=is_allprop)  # type: ignore[misc]
        return [*names, *_TRASH_PROPERTIES]

    def get_property_value(self, name: str) -> Any:
        if name == TRASH_FILENAME:
            return self.info.name
        if name in (TRASH_LOCATION, TRASH_TITLE):
            return self.info.path.text
        if name == OC_PERMISSIONS:
            # Readable; an item is also deletable, what lies inside one is not.
            return "GD" if self.is_item else "G"
        if name == TRASH_TIME:
            return str(int(self.entry.deleted_at))
        if name in (TRASH_DELETED_BY_ID, TRASH_DELETED_BY_NAME):
            # Only the owner deletes in their home: the deleter is the owner.
            return self.owner.name
        if name == OC_FILEID:
            return str(self.info.id)
        if name == OC_SIZE:
            return str(self._size())
        return super().get_property_value(name)  # type: ignore[misc]

    def handle_delete(self) -> bool:
        if not self.is_item:
            raise DAVError(HTTP_FORBIDDEN, context_info=_WHOLE_ITEMS)
        with dav_errors():
            self.provider.store.trash_purge(self.owner, [self.entry.id])
        return True

    def handle_move(self, dest_path: str) -> bool:
        """Only into ``restore/``: the item goes back to its original path."""
        if not self.is_item:
            raise DAVError(HTTP_FORBIDDEN, context_info=_WHOLE_ITEMS)
        if not _is_restore_target(dest_path, "trashbin", self.owner):
            raise DAVError(HTTP_FORBIDDEN, context_info="move a trash item to restore/")
        with dav_errors():
            info = self.provider.store.trash_restore(self.owner, self.entry.id)
        self.provider.add_response_header(self.environ, "OC-FileId", str(info.id))
        self.provider.set_response_status(self.environ, "201 Created")
        return True

    def set_property_value(self, name: str, value: Any, *, dry_run: bool = False) -> None:
        raise DAVError(HTTP_FORBIDDEN, context_info=_READ_ONLY)

    def copy_move_single(self, dest_path: str, *, is_move: bool) -> bool:
        """COPY out of the trash (WsgiDAV's own copy would fail with a 500)."""
        raise DAVError(HTTP_FORBIDDEN, context_info=_READ_ONLY)


class TrashedFileResource(_Trashed, DAVNonCollection):
    """A trashed file: GET reads it (with Nextcloud's download name), nothing writes it."""

    def support_ranges(self) -> bool:
        return True

    def finalize_headers(self, environ: dict[str, Any], response_headers: list[Any]) -> None:
        """Name the download as the original (the item's name has ``.d<time>.<id>``)."""
        response_headers.append(("Content-Disposition", content_disposition(self.info.name)))

    def get_content(self) -> Any:
        with dav_errors():
            return self.provider.store.trash_open(self.owner, self.entry, self.info)

    def begin_write(self, *, content_type: str | None = None) -> Any:
        raise DAVError(HTTP_FORBIDDEN, context_info=_READ_ONLY)


class TrashedFolderResource(_Trashed, DAVCollection):
    """A trashed folder: PROPFIND lists what it held, nothing is created in it."""

    def _members(self) -> list[FileInfo]:
        with dav_errors():
            return self.provider.store.trash_members(self.owner, self.entry, self.info)

    def get_member_names(self) -> list[str]:
        return [info.name for info in self._members()]

    def get_member_list(self) -> list[TrashedResource]:
        """Every member from one query."""
        return [
            trashed_resource(self, util.join_uri(self.path, info.name), self.entry, info)
            for info in self._members()
        ]

    def get_member(self, name: str) -> TrashedResource | None:
        return self.descendant([name])

    def descendant(self, names: list[str]) -> TrashedResource | None:
        """What lies at ``names`` below this folder, looked up at once."""
        try:
            below = parse_user_path("/".join(names))
        except InvalidName:
            return None
        relative = UserPath(self.info.path.parts[len(self.entry.original_path.parts) :])
        with dav_errors():
            info = self.provider.store.trash_inside(
                self.owner, self.entry, UserPath(relative.parts + below.parts)
            )
        if info is None:
            return None
        return trashed_resource(self, util.join_uri(self.path, *below.parts), self.entry, info)

    def create_empty_resource(self, name: str) -> Any:
        raise DAVError(HTTP_FORBIDDEN, context_info=_READ_ONLY)

    def create_collection(self, name: str) -> Any:
        raise DAVError(HTTP_FORBIDDEN, context_info=_READ_ONLY)


TrashedResource = TrashedFileResource | TrashedFolderResource


class VersionsFolder(_Folder):
    """``versions/<user>/versions/<file id>``: a file's versions, newest first."""

    def __init__(self, parent: _Folder, path: str, file_id: int) -> None:
        super().__init__(parent.provider, path, parent.environ, parent.owner, "versions")
        self.file_id = file_id

    def _versions(self) -> list[VersionInfo]:
        with dav_errors():
            return self.provider.store.versions_of(self.owner, self.file_id)

    def get_member_names(self) -> list[str]:
        return [str(version.id) for version in self._versions()]

    def get_member_list(self) -> list[VersionResource]:
        """Every version from one listing."""
        return [
            VersionResource(self, util.join_uri(self.path, str(version.id)), version)
            for version in self._versions()
        ]

    def get_member(self, name: str) -> VersionResource | None:
        for version in self._versions():
            if str(version.id) == name:
                return VersionResource(self, util.join_uri(self.path, name), version)
        return None


class VersionResource(AreaMixin, DAVNonCollection):
    def __init__(self, folder: VersionsFolder, path: str, version: VersionInfo) -> None:
        DAVNonCollection.__init__(self, path, folder.environ)
        self.provider, self.owner, self.area = folder.provider, folder.owner, "versions"
        self.relative = f"versions/{folder.file_id}/{version.id}"
        self.version = version

    def get_content_length(self) -> int:
        return self.version.size

    def get_content_type(self) -> str:
        return "application/octet-stream"

    def get_last_modified(self) -> float:
        return self.version.modified_at

    def support_ranges(self) -> bool:
        return False

    def get_content(self) -> Any:
        try:
            path = version_path(self.provider.store, self.owner.id, self.version.disk_name)
            return path.open("rb")
        except FileNotFoundError:
            raise DAVError(HTTP_NOT_FOUND, context_info="the version's bytes are gone") from None

    def get_property_names(self, *, is_allprop: bool) -> list[str]:
        names = super().get_property_names(is_allprop=is_allprop)
        return [*names, VERSION_LABEL, VERSION_AUTHOR]

    def get_property_value(self, name: str) -> Any:
        if name == VERSION_LABEL:
            return self.version.label or ""
        if name == VERSION_AUTHOR:
            return self.version.author
        return super().get_property_value(name)

    def set_property_value(self, name: str, value: Any, *, dry_run: bool = False) -> None:
        if name != VERSION_LABEL:
            raise DAVError(HTTP_FORBIDDEN, context_info="only nc:version-label can be set")
        if dry_run:
            return
        text = None if value is None else "".join(value.itertext())
        with dav_errors():
            self.version = self.provider.store.version_label(self.owner, self.version.id, text)

    def handle_delete(self) -> bool:
        with dav_errors():
            self.provider.store.version_delete(self.owner, self.version.id)
        return True

    def copy_move_single(self, dest_path: str, *, is_move: bool) -> bool:
        """COPY of a version (WsgiDAV's own copy would fail with a 500)."""
        raise DAVError(HTTP_FORBIDDEN, context_info="move a version to restore/ to use it")

    def handle_move(self, dest_path: str) -> bool:
        """Only into ``restore/``: the version becomes the file's content again."""
        if not _is_restore_target(dest_path, "versions", self.owner):
            raise DAVError(HTTP_FORBIDDEN, context_info="move a version to restore/")
        with dav_errors():
            self.provider.store.version_restore(self.owner, self.version.id)
        self.provider.set_response_status(self.environ, "201 Created")
        return True


def _is_restore_target(dest_path: str, area: str, owner: Owner) -> bool:
    parts = dest_path.strip("/").split("/")
    return len(parts) == 4 and parts[:3] == [area, owner.name, "restore"]


def resolve(provider: DavfilesProvider, environ: dict[str, Any], owner: Owner, path: str) -> Any:
    """The resource at ``/trashbin/<user>/...`` or ``/versions/<user>/...``, or None."""
    parts = path.strip("/").split("/")
    area, rest = parts[0], parts[2:]
    home = f"/{area}/{owner.name}"

    def folder(relative: str, members: dict[str, Any] | None = None) -> _Folder:
        return _Folder(provider, home + relative, environ, owner, area, members)

    restore = folder("/restore")
    if area == "trashbin":
        trash = TrashFolder(provider, home + "/trash", environ, owner, area)
        top = folder("", {"trash": lambda _p: trash, "restore": lambda _p: restore})
        if not rest:
            return top
        if rest[0] == "restore" and len(rest) == 1:
            return restore
        if rest[0] != "trash":
            return None
        if len(rest) == 1:
            return trash
        item = trash.get_member(rest[1])
        if len(rest) == 2 or item is None:
            return item
        return item.descendant(rest[2:]) if isinstance(item, TrashedFolderResource) else None
    versions = folder("/versions")
    top = folder("", {"versions": lambda _p: versions, "restore": lambda _p: restore})
    if not rest:
        return top
    if rest[0] == "restore" and len(rest) == 1:
        return restore
    if rest[0] != "versions" or len(rest) > 3:
        return None
    if len(rest) == 1:
        return versions
    file_id = parse_id(rest[1])
    if file_id is None:
        return None
    with dav_errors():
        info = provider.store.stat_id(owner, file_id)
    if info is None or info.is_dir:
        return None
    file_versions = VersionsFolder(versions, f"{home}/versions/{rest[1]}", int(rest[1]))
    return file_versions if len(rest) == 2 else file_versions.get_member(rest[2])
