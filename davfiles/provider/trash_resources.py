"""Nextcloud's trashbin and versions WebDAV: ``/remote.php/dav/trashbin/<user>/`` and
``/remote.php/dav/versions/<user>/``, as its web app and clients send them.

- ``PROPFIND trashbin/<user>/trash`` lists the trash; each item is named
  ``<name>.d<time>.<item id>`` (unique: Nextcloud's ``<name>.d<time>`` is not when two files
  of one name go in one second; its clients take the name as opaque) and carries
  ``nc:trashbin-filename``, ``nc:trashbin-original-location`` and
  ``nc:trashbin-deletion-time``. ``MOVE`` of an item to ``trashbin/<user>/restore/<name>``
  restores it (201), ``DELETE`` of an item deletes it for good, of ``trash`` empties it.
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
    HTTP_METHOD_NOT_ALLOWED,
    HTTP_NOT_FOUND,
    DAVError,
)
from wsgidav.dav_provider import DAVCollection, DAVNonCollection
from wsgidav.xml_tools import etree

from davfiles.provider.chunk_resources import AreaMixin
from davfiles.provider.errors import dav_errors
from davfiles.store import Owner
from davfiles.store.trash import TrashEntry
from davfiles.store.versions import VersionInfo, version_path

if TYPE_CHECKING:
    from davfiles.provider.provider import DavfilesProvider

NC_NS = "{http://nextcloud.org/ns}"
TRASH_FILENAME = NC_NS + "trashbin-filename"
TRASH_LOCATION = NC_NS + "trashbin-original-location"
TRASH_TIME = NC_NS + "trashbin-deletion-time"
TRASH_TITLE = NC_NS + "trashbin-title"
VERSION_LABEL = NC_NS + "version-label"
VERSION_AUTHOR = NC_NS + "version-author"
OC_FILEID = "{http://owncloud.org/ns}fileid"
OC_PERMISSIONS = "{http://owncloud.org/ns}permissions"


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

    def get_member_list(self) -> list[TrashItemResource]:
        """Every item from one listing (WsgiDAV would look each name up again)."""
        return [self._resource(entry) for entry in self._entries()]

    def get_member(self, name: str) -> TrashItemResource | None:
        item_id = name.rpartition(".")[2]
        if not item_id.isdigit():
            return None
        with dav_errors():
            entry = self.provider.store.trash_entry(self.owner, int(item_id))
        if entry is None or trash_member_name(entry) != name:
            return None
        return self._resource(entry)

    def _resource(self, entry: TrashEntry) -> TrashItemResource:
        path = util.join_uri(self.path, trash_member_name(entry))
        return TrashItemResource(self, path, entry)

    def handle_delete(self) -> bool:
        with dav_errors():
            self.provider.store.trash_purge(self.owner)
        return True


class TrashItemResource(AreaMixin, DAVNonCollection):
    """One deleted file or folder (a folder item is shown with its folder resourcetype)."""

    def __init__(self, folder: TrashFolder, path: str, entry: TrashEntry) -> None:
        DAVNonCollection.__init__(self, path, folder.environ)
        self.provider, self.owner, self.area = folder.provider, folder.owner, "trashbin"
        self.relative = f"trash/{util.get_uri_name(path)}"
        self.entry = entry

    def get_content_length(self) -> int:
        return self.entry.size

    def get_content_type(self) -> str:
        return "httpd/unix-directory" if self.entry.is_dir else "application/octet-stream"

    def get_last_modified(self) -> float:
        return self.entry.deleted_at

    def support_ranges(self) -> bool:
        return False

    def get_content(self) -> Any:
        raise DAVError(HTTP_METHOD_NOT_ALLOWED, context_info="restore the item to read it")

    def get_property_names(self, *, is_allprop: bool) -> list[str]:
        names = super().get_property_names(is_allprop=is_allprop)
        extra = [TRASH_FILENAME, TRASH_LOCATION, TRASH_TITLE, TRASH_TIME, OC_FILEID, OC_PERMISSIONS]
        return [*names, *extra]

    def get_display_name(self) -> str:
        return self.entry.name

    def get_property_value(self, name: str) -> Any:
        entry = self.entry
        if name == TRASH_FILENAME:
            return entry.name
        if name in (TRASH_LOCATION, TRASH_TITLE):
            return entry.original_path.text
        if name == OC_PERMISSIONS:
            return "GD"  # readable, deletable
        if name == TRASH_TIME:
            return str(int(entry.deleted_at))
        if name == OC_FILEID:
            return str(entry.node_id)
        if name == "{DAV:}resourcetype" and entry.is_dir:
            element = etree.Element(name)
            etree.SubElement(element, "{DAV:}collection")
            return element
        return super().get_property_value(name)

    def handle_delete(self) -> bool:
        with dav_errors():
            self.provider.store.trash_purge(self.owner, [self.entry.id])
        return True

    def handle_move(self, dest_path: str) -> bool:
        """Only into ``restore/``: the item goes back to its original path."""
        if not _is_restore_target(dest_path, "trashbin", self.owner):
            raise DAVError(HTTP_FORBIDDEN, context_info="move a trash item to restore/")
        with dav_errors():
            info = self.provider.store.trash_restore(self.owner, self.entry.id)
        self.provider.add_response_header(self.environ, "OC-FileId", str(info.id))
        self.provider.set_response_status(self.environ, "201 Created")
        return True


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
        if rest[0] != "trash" or len(rest) > 2:
            return None
        return trash if len(rest) == 1 else trash.get_member(rest[1])
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
    if not rest[1].isdigit():
        return None
    with dav_errors():
        info = provider.store.stat_id(owner, int(rest[1]))
    if info is None or info.is_dir:
        return None
    file_versions = VersionsFolder(versions, f"{home}/versions/{rest[1]}", int(rest[1]))
    return file_versions if len(rest) == 2 else file_versions.get_member(rest[2])
