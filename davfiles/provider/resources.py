"""WsgiDAV resources over the store: a thin adapter, every rule is in the store."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, BinaryIO
from urllib.parse import quote

from wsgidav import util
from wsgidav.dav_provider import DAVCollection, DAVNonCollection

from davfiles.body_rate import BODY_RECEIVED_KEY
from davfiles.numbers import whole_number
from davfiles.provider.errors import dav_errors
from davfiles.provider.nextcloud import (
    LIVE_MTIME_PROPERTIES,
    OC_CHECKSUMS,
    OC_NS,
    oc_property,
    parse_timestamp,
    requested_checksum,
    requested_mtime,
)
from davfiles.provider.property_cache import property_cache
from davfiles.provider.streams import DavWriteStream
from davfiles.store import FileInfo, Owner, Upload, UploadOptions, UserPath

if TYPE_CHECKING:
    from davfiles.provider.provider import DavfilesProvider


# As WsgiDAV's get_href: Nautilus chokes on '(' quoted as '%28'.
_HREF_SAFE = "/!*'(),$-_|."
# Text that ``quote`` returns unchanged with "/" safe: letters, digits, "_.-~" and "/".
_PLAIN = re.compile(r"[A-Za-z0-9_.\-~/]*")


def quote_path(text: str, safe: str = "/") -> str:
    """``urllib.parse.quote`` for a ``safe`` that holds "/", skipped where it would change
    nothing: a listing quotes two paths per entry, and most names need no escape."""
    if _PLAIN.fullmatch(text):
        return text
    return quote(text, safe=safe)


def outside_href(environ: dict[str, Any], preferred_path: str) -> str:
    """A resource's href as the client reached it: SCRIPT_NAME holds the share and any path
    prefix a trusted proxy announced (WsgiDAV's own get_href knows only the share)."""
    return quote_path(environ.get("SCRIPT_NAME", "") + preferred_path, safe=_HREF_SAFE)


class _StoreResourceMixin:
    """What files and folders share: identity, times, properties and native DELETE/COPY/MOVE."""

    provider: DavfilesProvider
    environ: dict[str, Any]
    path: str
    is_collection: bool

    def __init__(
        self,
        provider: DavfilesProvider,
        path: str,
        environ: dict[str, Any],
        owner: Owner,
        user_path: UserPath,
        info: FileInfo | None,
    ) -> None:
        super().__init__(path, environ)  # type: ignore[call-arg]
        self.provider = provider
        self.owner = owner
        self.user_path = user_path
        self.info = info

    @property
    def store(self) -> Any:
        return self.provider.store

    def get_ref_url(self) -> str:
        # Locks and properties are keyed by this URL: it names the user and the path in the
        # home, so users never share a lock and every mount of a home shares the same ones.
        text = self.user_path.text
        slash = "/" if self.is_collection and text else ""
        return quote_path(f"/{self.owner.name}/{text}{slash}")

    def get_href(self) -> str:
        return outside_href(self.environ, self.get_preferred_path())  # type: ignore[attr-defined]

    def get_display_name(self) -> str:
        return self.user_path.name

    def get_creation_date(self) -> float | None:
        return self.info.created_at if self.info else None

    def get_last_modified(self) -> float | None:
        return self.info.modified_at if self.info else None

    def get_etag(self) -> str | None:
        return self.info.etag if self.info else None

    def support_etag(self) -> bool:
        return True

    def get_property_value(self, name: str) -> Any:
        if name.startswith(OC_NS) and self.info is not None:
            value = oc_property(self.info, name)
            if value is not None:
                return value
        return super().get_property_value(name)  # type: ignore[misc]

    def set_property_value(self, name: str, value: Any, *, dry_run: bool = False) -> Any:
        if name in LIVE_MTIME_PROPERTIES:
            timestamp = parse_timestamp(value.text if value is not None else None)
            if not dry_run:
                with dav_errors():
                    self.store.set_modified(self.owner, self.user_path, timestamp)
            return None
        if name == OC_CHECKSUMS:
            # Checksums are computed by the store from the bytes; a client's value is not kept.
            return None
        return super().set_property_value(name, value, dry_run=dry_run)  # type: ignore[misc]

    def handle_delete(self) -> bool:
        # WsgiDAV checks only the parent's locks before a native DELETE; a DELETE removes the
        # whole tree, so every lock on it or below must be honoured here.
        lock_manager = self.provider.lock_manager
        if lock_manager is not None:
            util.parse_if_header_dict(self.environ)
            lock_manager.check_write_permission(
                url=self.get_ref_url(),
                depth="infinity",
                token_list=self.environ["wsgidav.ifLockTokenList"],
                principal=self.environ["wsgidav.user_name"],
            )
        with dav_errors():
            self.store.delete(self.owner, self.user_path)
        self.remove_all_locks(recursive=True)  # type: ignore[attr-defined]
        return True

    def handle_copy(self, dest_path: str, *, depth_infinity: bool) -> bool:
        target = self.provider.user_path_of(dest_path, self.environ)
        with dav_errors():
            created = self.store.copy(
                self.owner,
                self.user_path,
                target,
                overwrite=self.environ.get("HTTP_OVERWRITE", "T") == "T",
                recursive=depth_infinity,
            )
        self._finish_copy_or_move(target, created)
        return True

    def handle_move(self, dest_path: str) -> bool:
        target = self.provider.user_path_of(dest_path, self.environ)
        with dav_errors():
            created = self.store.move(
                self.owner,
                self.user_path,
                target,
                overwrite=self.environ.get("HTTP_OVERWRITE", "T") == "T",
            )
        self.remove_all_locks(recursive=True)  # type: ignore[attr-defined]
        if self.info is not None:
            # The id survives the move; ownCloud clients compare it with their journal's. A
            # file moved over a file takes that file's id (store/saves.py).
            moved = self.info if self.info.is_dir else self.store.stat(self.owner, target)
            if moved is not None:
                self.provider.add_response_header(self.environ, "OC-FileId", str(moved.id))
        self._finish_copy_or_move(target, created)
        return True

    def _finish_copy_or_move(self, target: UserPath, created: bool) -> None:
        mtime = requested_mtime(self.environ)
        if mtime is not None:
            with dav_errors():
                self.store.set_modified(self.owner, target, mtime)
            self.provider.add_response_header(self.environ, "X-OC-Mtime", "accepted")
        if created:
            self.provider.set_response_status(self.environ, "201 Created")

    def set_last_modified(self, dest_path: str, time_stamp: float, *, dry_run: bool) -> bool:
        if not dry_run:
            with dav_errors():
                self.store.set_modified(self.owner, self.user_path, float(time_stamp))
        return True


class FileResource(_StoreResourceMixin, DAVNonCollection):
    """A file; ``info`` is None while a PUT to a new path has not committed yet."""

    _upload: Upload | None = None

    def get_content_length(self) -> int:
        return self.info.size if self.info else 0

    def get_content_type(self) -> str:
        return self.info.content_type if self.info else "application/octet-stream"

    def support_ranges(self) -> bool:
        return True

    def get_content(self) -> BinaryIO:
        assert self.info is not None
        with dav_errors():
            return self.store.open_read(self.owner, self.info)  # type: ignore[no-any-return]

    def begin_write(self, *, content_type: str | None = None) -> DavWriteStream[FileInfo]:
        options = UploadOptions(
            content_type=content_type,
            expected_size=_announced_length(self.environ),
            mtime=requested_mtime(self.environ),
            checksum=requested_checksum(self.environ),
            body_received=self.environ.get(BODY_RECEIVED_KEY, False),
        )
        with dav_errors():
            self._upload = self.store.upload(self.owner, self.user_path, options)
        return DavWriteStream(self._upload.write, self._upload.commit, self.committed)

    def end_write(self, *, with_errors: bool) -> None:
        if with_errors and self._upload is not None:
            self._upload.abort()
        self._upload = None

    def committed(self, info: FileInfo) -> None:
        """Called when a PUT's body is stored: answer what ownCloud clients look for."""
        self.info = info
        provider, environ = self.provider, self.environ
        provider.add_response_header(environ, "OC-FileId", str(info.id))
        provider.add_response_header(environ, "OC-ETag", f'"{info.etag}"')
        if "HTTP_X_OC_MTIME" in environ:
            provider.add_response_header(environ, "X-OC-Mtime", "accepted")


class FolderResource(_StoreResourceMixin, DAVCollection):
    def get_member_names(self) -> list[str]:
        with dav_errors():
            return [info.name for info in self.store.list_dir(self.owner, self.user_path)]

    def get_member_list(self) -> list[Any]:
        # One query for the whole listing instead of one per member; a PROPFIND also gets
        # every member's dead properties in one more.
        with dav_errors():
            infos = self.store.list_dir(self.owner, self.user_path)
            listing = self.environ["REQUEST_METHOD"] == "PROPFIND"
            properties = (
                self.store.dead_properties_in(self.owner, self.user_path) if listing else {}
            )
        members = [self._member(info) for info in infos]
        if listing:
            cache = property_cache(self.environ)
            for member in members:
                cache[member.get_ref_url()] = properties.get(member.user_path.name, {})
        return members

    def iter_members(self) -> Iterator[Any]:
        """The members one at a time with their dead properties, for a streamed listing:
        each is built when it is written out and dropped after, so a folder of 10,000 files
        never holds 10,000 resources at once. Same two queries as ``get_member_list``."""
        with dav_errors():
            infos = self.store.list_dir(self.owner, self.user_path)
            properties = self.store.dead_properties_in(self.owner, self.user_path)
        cache = property_cache(self.environ)
        for info in infos:
            member = self._member(info)
            url = member.get_ref_url()
            cache[url] = properties.get(info.name, {})
            yield member
            cache.pop(url, None)

    def _member(self, info: FileInfo) -> FileResource | FolderResource:
        path = util.join_uri(self.path, info.name)
        return self.provider.resource_for(path, self.environ, self.owner, info)

    def get_used_bytes(self) -> int:
        """What the user cannot get back by writing: live files and pinned versions (trash
        and the other versions give way to writes), so used + available is the quota."""
        figures = self.provider.usage(self.environ, self.owner)
        return figures.used_bytes - figures.reclaimable_bytes  # type: ignore[no-any-return]

    def get_available_bytes(self) -> int | None:
        figures = self.provider.usage(self.environ, self.owner)
        available = figures.available_bytes
        # RFC 4331: with no limit, report what the disk can still take.
        return available if available is not None else self.provider.disk_free_bytes()

    def create_empty_resource(self, name: str) -> FileResource:
        path = util.join_uri(self.path, name)
        with dav_errors():
            user_path = self.user_path.child(name)
            if self.environ["REQUEST_METHOD"] == "PUT":
                # Nothing is created before the body has arrived completely.
                return FileResource(self.provider, path, self.environ, self.owner, user_path, None)
            info = self.store.create_empty(self.owner, user_path)
        return FileResource(self.provider, path, self.environ, self.owner, user_path, info)

    def create_collection(self, name: str) -> None:
        with dav_errors():
            info = self.store.mkdir(self.owner, self.user_path.child(name))
        # ownCloud clients record the new folder's id from this header.
        self.provider.add_response_header(self.environ, "OC-FileId", str(info.id))

    def support_recursive_delete(self) -> bool:
        return True


def _announced_length(environ: dict[str, Any]) -> int | None:
    """The body size the client announced; macOS Finder sends chunked bodies with
    ``X-Expected-Entity-Length``, which lets the quota be checked before any byte."""
    if "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower():
        expected = environ.get("HTTP_X_EXPECTED_ENTITY_LENGTH", "")
        return whole_number(expected)
    return whole_number(environ.get("CONTENT_LENGTH") or "")
