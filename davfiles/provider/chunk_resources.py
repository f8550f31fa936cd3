"""WebDAV resources of the chunked-upload area ``/remote.php/dav/uploads/<user>/``.

MKCOL makes an upload folder, PUT stores chunks, DELETE drops them, and
``MOVE <folder>/.file`` with a ``Destination`` in the user's files assembles the file.
All the work is done by the store's ChunkedUploads.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from wsgidav import util
from wsgidav.dav_error import HTTP_METHOD_NOT_ALLOWED, DAVError
from wsgidav.dav_provider import DAVCollection, DAVNonCollection

from davfiles.numbers import whole_number
from davfiles.provider.errors import dav_errors
from davfiles.provider.nextcloud import requested_checksum, requested_mtime
from davfiles.provider.resources import outside_href
from davfiles.provider.streams import DavWriteStream
from davfiles.store import Owner, UploadOptions
from davfiles.store.chunks import Chunk, ChunkWriter

if TYPE_CHECKING:
    from davfiles.provider.provider import DavfilesProvider

ASSEMBLE_NAME = ".file"


class AreaMixin:
    """Resources of an area beside the homes (``uploads``, ``trashbin``, ``versions``) are
    never locked and are keyed apart from every home's paths."""

    provider: DavfilesProvider
    owner: Owner
    area: str = "uploads"
    relative: str
    environ: dict[str, Any]

    def get_ref_url(self) -> str:
        # "@" cannot occur in a user name, so these keys never meet a home's keys.
        return quote(f"/{self.owner.name}@{self.area}/{self.relative}")

    def get_href(self) -> str:
        return outside_href(self.environ, self.get_preferred_path())  # type: ignore[attr-defined]

    def prevent_locking(self) -> bool:
        return True

    def support_etag(self) -> bool:
        return False

    def get_etag(self) -> None:
        return None

    def get_content(self) -> Any:
        raise DAVError(HTTP_METHOD_NOT_ALLOWED, context_info="chunks are not read back")


class UploadsHome(AreaMixin, DAVCollection):
    """``/uploads/<user>/``: the user's upload folders."""

    def __init__(
        self, provider: DavfilesProvider, path: str, environ: dict[str, Any], owner: Owner
    ):
        DAVCollection.__init__(self, path, environ)
        self.provider, self.owner, self.relative = provider, owner, ""

    def get_member_names(self) -> list[str]:
        return self.provider.store.chunked_uploads.folders(self.owner)

    def get_member(self, name: str) -> UploadFolder | None:
        with dav_errors():
            if not self.provider.store.chunked_uploads.exists(self.owner, name):
                return None
        return UploadFolder(
            self.provider, util.join_uri(self.path, name), self.environ, self.owner, name
        )

    def create_collection(self, name: str) -> None:
        with dav_errors():
            self.provider.store.chunked_uploads.create(self.owner, name)


class UploadFolder(AreaMixin, DAVCollection):
    def __init__(
        self,
        provider: DavfilesProvider,
        path: str,
        environ: dict[str, Any],
        owner: Owner,
        folder: str,
    ) -> None:
        DAVCollection.__init__(self, path, environ)
        self.provider, self.owner, self.folder, self.relative = provider, owner, folder, folder

    def _chunks(self) -> list[Chunk]:
        with dav_errors():
            return self.provider.store.chunked_uploads.chunks(self.owner, self.folder)

    def get_member_names(self) -> list[str]:
        return [chunk.name for chunk in self._chunks()]

    def get_member(self, name: str) -> Any:
        if name == ASSEMBLE_NAME:
            return AssemblySource(self, util.join_uri(self.path, name))
        for chunk in self._chunks():
            if chunk.name == name:
                return ChunkResource(self, util.join_uri(self.path, name), chunk)
        return None

    def create_empty_resource(self, name: str) -> ChunkResource:
        return ChunkResource(self, util.join_uri(self.path, name), None)

    def handle_delete(self) -> bool:
        with dav_errors():
            self.provider.store.chunked_uploads.delete(self.owner, self.folder)
        return True


class ChunkResource(AreaMixin, DAVNonCollection):
    def __init__(self, folder: UploadFolder, path: str, chunk: Chunk | None) -> None:
        DAVNonCollection.__init__(self, path, folder.environ)
        self.provider, self.owner, self.folder = folder.provider, folder.owner, folder.folder
        self.relative = f"{folder.folder}/{util.get_uri_name(path)}"
        self.chunk = chunk
        self._writer: ChunkWriter | None = None

    def get_content_length(self) -> int:
        return self.chunk.size if self.chunk else 0

    def get_content_type(self) -> str:
        return "application/octet-stream"

    def get_last_modified(self) -> float | None:
        return self.chunk.modified_at if self.chunk else None

    def support_ranges(self) -> bool:
        return False

    def begin_write(self, *, content_type: str | None = None) -> DavWriteStream[Chunk]:
        length = self.environ.get("CONTENT_LENGTH", "")
        with dav_errors():
            self._writer = self.provider.store.chunked_uploads.open_chunk(
                self.owner,
                self.folder,
                util.get_uri_name(self.path),
                whole_number(length),
            )
        return DavWriteStream(self._writer.write, self._writer.commit, self._stored)

    def _stored(self, chunk: Chunk) -> None:
        self.chunk = chunk

    def end_write(self, *, with_errors: bool) -> None:
        if with_errors and self._writer is not None:
            self._writer.abort()
        self._writer = None

    def handle_delete(self) -> bool:
        with dav_errors():
            self.provider.store.chunked_uploads.delete(
                self.owner, self.folder, util.get_uri_name(self.path)
            )
        return True


class AssemblySource(AreaMixin, DAVNonCollection):
    """``<folder>/.file``: moving it to a path in the user's files assembles the chunks."""

    def __init__(self, folder: UploadFolder, path: str) -> None:
        DAVNonCollection.__init__(self, path, folder.environ)
        self.provider, self.owner, self.folder = folder.provider, folder.owner, folder.folder
        self.relative = f"{folder.folder}/{ASSEMBLE_NAME}"

    def get_content_length(self) -> int:
        return 0

    def get_content_type(self) -> str:
        return "application/octet-stream"

    def support_ranges(self) -> bool:
        return False

    def handle_move(self, dest_path: str) -> bool:
        target = self.provider.user_path_of(dest_path, self.environ)
        total = self.environ.get("HTTP_OC_TOTAL_LENGTH", "")
        options = UploadOptions(
            mtime=requested_mtime(self.environ), checksum=requested_checksum(self.environ)
        )
        with dav_errors():
            info, created = self.provider.store.chunked_uploads.assemble(
                self.owner,
                self.folder,
                target,
                options,
                total_length=whole_number(total),
            )
        provider, environ = self.provider, self.environ
        provider.add_response_header(environ, "OC-FileId", str(info.id))
        provider.add_response_header(environ, "ETag", f'"{info.etag}"')
        provider.add_response_header(environ, "OC-ETag", f'"{info.etag}"')
        if options.mtime is not None:
            provider.add_response_header(environ, "X-OC-Mtime", "accepted")
        if created:
            provider.set_response_status(environ, "201 Created")
        return True
