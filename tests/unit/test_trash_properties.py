"""Property-based tests of trash and versions on a real SQLite database and disk.

Random sequences of writes, overwrites, deletes, restores, purges, labels, retention runs,
MOVEs over files and Word's saves by several users never take ``live + trash + versions``
past a quota, keep the counters equal to the records and to the disk, never lose a labelled
version except by an explicit purge of its trash item, and evict in the documented order
(trash oldest first, then versions).
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from davfiles.app import Services, create_services
from davfiles.config import Settings
from davfiles.db.models import FileVersion, TrashedNode, TrashItem
from davfiles.errors import AlreadyExists, Conflict, NotFound, QuotaExceeded
from davfiles.store import ROOT, Owner, parse_user_path
from davfiles.store.retention import DAY
from tests.kept import disk_bytes, kept_bytes
from tests.unit.test_quota_properties import within_limits

EXAMPLES = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
_users = itertools.count()
NAMES = st.sampled_from(["/a", "/b", "/f/x", "/f/y", "/f"])
SIZES = st.integers(min_value=0, max_value=400)
WHO = st.integers(min_value=0, max_value=1)
PICK = st.integers(min_value=0, max_value=20)
OPERATIONS = st.lists(
    st.one_of(
        st.tuples(st.just("write"), WHO, NAMES, SIZES),
        st.tuples(st.just("delete"), WHO, NAMES, st.just(0)),
        st.tuples(st.just("restore"), WHO, st.just(""), PICK),
        st.tuples(st.just("purge"), WHO, st.just(""), PICK),
        st.tuples(st.just("purge_all"), WHO, st.just(""), st.just(0)),
        st.tuples(st.just("label"), WHO, st.just(""), PICK),
        st.tuples(st.just("retention"), WHO, st.just(""), st.integers(0, 400)),
        st.tuples(st.just("move_over"), WHO, NAMES, PICK),
        st.tuples(st.just("word_save"), WHO, NAMES, SIZES),
    ),
    max_size=30,
)


@pytest.fixture(scope="module")
def services(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    data_dir = tmp_path_factory.mktemp("trash") / "data"
    # No coalescing window, so that quick overwrites make versions too.
    built = create_services(Settings(data_dir=data_dir, versions_coalesce_seconds=0))
    yield built
    built.close()


class World:
    """What the test knows: each user's labelled versions and the state before a step."""

    def __init__(self, services: Services, owners: list[Owner]) -> None:
        self.services = services
        self.owners = owners
        self.pinned: dict[int, set[int]] = {owner.id: set() for owner in owners}

    def versions(self, owner: Owner) -> dict[int, FileVersion]:
        with self.services.db.read() as session:
            rows = session.scalars(select(FileVersion).where(FileVersion.owner_id == owner.id))
            return {row.id: row for row in rows}

    def trash(self, owner: Owner) -> list[TrashItem]:
        with self.services.db.read() as session:
            rows = session.scalars(
                select(TrashItem).where(TrashItem.owner_id == owner.id).order_by(TrashItem.id)
            )
            return list(rows)

    def nodes_of(self, item_ids: list[int]) -> set[int]:
        with self.services.db.read() as session:
            rows = session.scalars(select(TrashedNode.id).where(TrashedNode.trash_id.in_(item_ids)))
            return set(rows)


def apply(world: World, operation: tuple[str, int, str, int]) -> set[int]:
    """Run one step; answer the node ids whose pinned versions it may remove (explicit purge)."""
    action, who, name, number = operation
    owner = world.owners[who]
    store = world.services.store
    trash = world.trash(owner)
    if action == "write":
        path = parse_user_path(name)
        if name == "/f/x" or name == "/f/y":
            store.ensure_dir(owner, parse_user_path("/f"))
        store.write_bytes(owner, path, bytes([65 + number % 26]) * number)
    elif action == "delete":
        store.delete(owner, parse_user_path(name))
    elif action == "restore" and trash:
        store.trash_restore(owner, trash[number % len(trash)].id)
    elif action == "purge" and trash:
        chosen = trash[number % len(trash)].id
        released = world.nodes_of([chosen])
        store.trash_purge(owner, [chosen])
        return released
    elif action == "purge_all":
        released = world.nodes_of([item.id for item in trash])
        store.trash_purge(owner)
        return released
    elif action == "label":
        versions = sorted(world.versions(owner))
        if versions:
            chosen = versions[number % len(versions)]
            store.version_label(owner, chosen, f"label {chosen}")
            world.pinned[owner.id].add(chosen)
    elif action == "retention":
        store.purge_expired(None, now=time.time() + number * DAY)
    elif action == "move_over":
        target = ["/a", "/b", "/f/x", "/f/y", "/f"][number % 5]
        store.move(owner, parse_user_path(name), parse_user_path(target), overwrite=True)
    elif action == "word_save":
        # Word's save (store/saves.py); a step that fails leaves the rest undone, as Word would.
        document, new, old = (parse_user_path(n) for n in (name, "/~WRD0000.tmp", "/~WRL0001.tmp"))
        store.write_bytes(owner, new, bytes([97 + number % 26]) * number)
        store.move(owner, document, old, overwrite=False)
        store.move(owner, new, document, overwrite=False)
        store.delete(owner, old)
    return set()


def check_eviction_order(
    world: World, owner: Owner, before: list[TrashItem], after: list[TrashItem]
) -> None:
    """What a write evicted from the trash is the oldest unpinned items."""
    kept_ids = {item.id for item in after}
    evicted = [item for item in before if item.id not in kept_ids]
    if not evicted:
        return
    pinned_nodes = {
        version.node_id for version in world.versions(owner).values() if version.label is not None
    }
    unpinned_left = [item for item in after if not (world.nodes_of([item.id]) & pinned_nodes)]
    newest_evicted = max((item.deleted_at, item.id) for item in evicted)
    assert all((item.deleted_at, item.id) > newest_evicted for item in unpinned_left)


@EXAMPLES
@given(
    limits=st.tuples(st.integers(200, 1500), st.one_of(st.none(), st.integers(1, 4))),
    operations=OPERATIONS,
)
def test_live_trash_and_versions_stay_within_the_quota_and_equal_the_disk(
    services: Services,
    limits: tuple[int, int | None],
    operations: list[tuple[str, int, str, int]],
) -> None:
    max_bytes, max_files = limits
    owners = [
        services.accounts.add_user(
            f"t{next(_users)}", "pw", max_bytes=max_bytes, max_files=max_files
        )
        for _ in range(2)
    ]
    world = World(services, owners)
    store = services.store
    for operation in operations:
        owner = owners[operation[1]]
        versions_before = world.versions(owner)
        trash_before = world.trash(owner)
        released: set[int] = set()
        try:
            released = apply(world, operation)
        except (QuotaExceeded, NotFound, Conflict, AlreadyExists):
            pass
        versions_after = world.versions(owner)
        trash_after = world.trash(owner)
        for each in owners:
            figures = store.usage(each)
            files = store.list_files(each, ROOT)
            assert within_limits(figures), operation
            assert figures.used_bytes == sum(i.size for i in files) + kept_bytes(services, each)
            assert figures.used_files == len(files)
            assert disk_bytes(services, each) == figures.used_bytes, operation
            present = world.versions(each)
            lost = {
                vid
                for vid in world.pinned[each.id] - set(present)
                if each is not owner or versions_before[vid].node_id not in released
            }
            assert not lost, operation
            world.pinned[each.id] &= set(present)
        if operation[0] == "write":
            check_eviction_order(world, owner, trash_before, trash_after)
            if set(versions_before) - set(versions_after):
                # Versions go only once no unpinned trash item is left.
                pinned_nodes = {v.node_id for v in versions_after.values() if v.label}
                assert all(world.nodes_of([item.id]) & pinned_nodes for item in trash_after)
    for owner in owners:
        # Records, folder totals, trash and versions agree with the disk.
        assert store.fsck(owner).clean
        for info in store.list_dir(owner, ROOT):
            store.delete(owner, info.path)
        store.trash_purge(owner)
        figures = store.usage(owner)
        assert (figures.used_bytes, figures.used_files) == (0, 0)
        assert disk_bytes(services, owner) == 0
    assert list(store.staging_dir.iterdir()) == []
