"""Copying within an edit link: the link's rules for a copy, next to ``ShareLinks``' other
edits (``links.py``), on the owner's store so quotas count as for any copy."""

from __future__ import annotations

from typing import TYPE_CHECKING

from davfiles.errors import AlreadyExists, Conflict, PermissionDenied
from davfiles.store.link_values import LinkKind, Visit

if TYPE_CHECKING:
    from davfiles.store.store import Store

_BLOCK = 1024 * 1024


def edit_copy(
    store: Store,
    visit: Visit,
    source: str,
    target: str,
    *,
    overwrite: bool,
    recursive: bool = True,
) -> bool:
    """Copy ``source`` to ``target`` (paths below the shared folder, never onto the folder
    itself); True if the target was created. A file copied over a file is written as that
    file's new content, so the old one is kept as a version, as a write through the link
    keeps it; anything else is the store's copy (a replaced target goes to the trash)."""
    visit.may(LinkKind.EDIT)
    links = store.links
    found = links.resolve(visit, source)
    target_path = links.inside(visit, target)
    if target_path == visit.root.path:
        raise PermissionDenied("the shared folder itself cannot be replaced through its link")
    existing = store.stat(visit.owner, target_path)
    if existing is None or existing.is_dir or found.is_dir:
        return store.copy(
            visit.owner, found.path, target_path, overwrite=overwrite, recursive=recursive
        )
    if not overwrite:
        raise AlreadyExists(f"{target} exists")
    if existing.id == found.id:
        raise Conflict("source and destination are the same file")
    with (
        links.open_file(visit, found) as stream,
        links.edit_upload(visit, target, found.size) as upload,
    ):
        while block := stream.read(_BLOCK):
            upload.write(block)
    return False
