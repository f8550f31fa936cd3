"""What the trash and versions hold beside a user's live files, for tests that count usage."""

from __future__ import annotations

from sqlalchemy import func, select

from davfiles.app import Services
from davfiles.db.models import FileVersion, TrashItem
from davfiles.store import Owner


def kept_bytes(services: Services, owner: Owner) -> int:
    """Bytes of the owner's trash and versions, from their records."""
    with services.db.read() as session:
        trashed = session.scalar(
            select(func.coalesce(func.sum(TrashItem.size), 0)).where(TrashItem.owner_id == owner.id)
        )
        versions = session.scalar(
            select(func.coalesce(func.sum(FileVersion.size), 0)).where(
                FileVersion.owner_id == owner.id
            )
        )
    return int(trashed) + int(versions)


def disk_bytes(services: Services, owner: Owner) -> int:
    """Bytes of the owner's home, trash and versions on disk."""
    store = services.store
    folders = (
        store.home(owner),
        store.trash_dir / str(owner.id),
        store.versions_dir / str(owner.id),
    )
    return sum(
        item.stat().st_size for folder in folders for item in folder.rglob("*") if item.is_file()
    )


def live_usage(services: Services, owner: Owner) -> tuple[int, int]:
    """Bytes and files of the live files alone, as the counters hold them."""
    figures = services.store.usage(owner)
    return figures.used_bytes - kept_bytes(services, owner), figures.used_files
