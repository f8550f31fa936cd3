"""Property-based tests of quota arithmetic on a real SQLite database.

Random sequences of reservations and releases never take usage past a limit, a refusal changes
nothing, and releasing everything returns usage to zero; random sequences of store operations
(uploads, overwrites, streamed and aborted uploads, copies, moves, deletes) keep the counters
equal to what the store holds (live files, trash and versions) and within the limits.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from davfiles.app import Services, create_services
from davfiles.config import Settings
from davfiles.errors import AlreadyExists, Conflict, NotFound, QuotaExceeded
from davfiles.store import ROOT, Owner, QuotaFigures, UploadOptions, parse_user_path, quota
from tests.kept import disk_bytes, kept_bytes

EXAMPLES = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
_users = itertools.count()

LIMITS = st.one_of(st.none(), st.integers(min_value=0, max_value=5_000))
FILE_LIMITS = st.one_of(st.none(), st.integers(min_value=0, max_value=6))


@pytest.fixture(scope="module")
def services(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    built = create_services(Settings(data_dir=tmp_path_factory.mktemp("quota") / "data"))
    yield built
    built.close()


def new_owner(services: Services, max_bytes: int | None, max_files: int | None) -> Owner:
    return services.accounts.add_user(
        f"q{next(_users)}", "pw", max_bytes=max_bytes, max_files=max_files
    )


def within_limits(figures: QuotaFigures) -> bool:
    return (figures.max_bytes is None or figures.used_bytes <= figures.max_bytes) and (
        figures.max_files is None or figures.used_files <= figures.max_files
    )


# A step: reserve (bytes, files), or release the reservation at an index (modulo the count).
STEPS = st.lists(
    st.one_of(
        st.tuples(
            st.just("reserve"),
            st.integers(min_value=0, max_value=3_000),
            st.integers(min_value=0, max_value=3),
        ),
        st.tuples(st.just("release"), st.integers(min_value=0, max_value=50), st.just(0)),
    ),
    max_size=40,
)


@EXAMPLES
@given(max_bytes=LIMITS, max_files=FILE_LIMITS, steps=STEPS)
def test_reservations_never_exceed_and_releases_return_to_zero(
    services: Services,
    max_bytes: int | None,
    max_files: int | None,
    steps: list[tuple[str, int, int]],
) -> None:
    owner = new_owner(services, max_bytes, max_files)
    held: list[tuple[int, int]] = []
    used = (0, 0)
    for action, first, second in steps:
        if action == "reserve":
            fits = (max_bytes is None or used[0] + first <= max_bytes) or first == 0
            fits = fits and ((max_files is None or used[1] + second <= max_files) or second == 0)
            try:
                with services.db.write() as session:
                    quota.adjust(session, owner.id, first, second)
                held.append((first, second))
                used = (used[0] + first, used[1] + second)
                assert fits
            except QuotaExceeded as refusal:
                assert not fits
                assert refusal.kind == (
                    "files"
                    if max_files is not None and second and used[1] + second > max_files
                    else "bytes"
                )
        elif held:
            released = held.pop(first % len(held))
            with services.db.write() as session:
                quota.adjust(session, owner.id, -released[0], -released[1])
            used = (used[0] - released[0], used[1] - released[1])
        figures = services.store.usage(owner)
        assert (figures.used_bytes, figures.used_files) == used
        assert within_limits(figures)
    for released in held:
        with services.db.write() as session:
            quota.adjust(session, owner.id, -released[0], -released[1])
    figures = services.store.usage(owner)
    assert (figures.used_bytes, figures.used_files) == (0, 0)


NAMES = st.sampled_from(["/a", "/b", "/c", "/d/x", "/d/y", "/e"])
OPERATIONS = st.lists(
    st.one_of(
        st.tuples(st.just("write"), NAMES, st.integers(min_value=0, max_value=2_500)),
        st.tuples(st.just("stream"), NAMES, st.integers(min_value=0, max_value=2_500)),
        st.tuples(st.just("abort"), NAMES, st.integers(min_value=0, max_value=2_500)),
        st.tuples(st.just("delete"), NAMES, st.just(0)),
        st.tuples(st.just("copy"), NAMES, NAMES),
        st.tuples(st.just("move"), NAMES, NAMES),
        st.tuples(st.just("copy_dir"), st.just("/d"), st.sampled_from(["/d2", "/e"])),
    ),
    max_size=25,
)


def apply(services: Services, owner: Owner, operation: tuple[str, str, object]) -> None:
    store = services.store
    action, name, argument = operation
    path = parse_user_path(name)
    if action == "write":
        assert isinstance(argument, int)
        store.write_bytes(owner, path, b"w" * argument)
    elif action == "stream":
        assert isinstance(argument, int)
        with store.upload(owner, path) as upload:
            for start in range(0, argument, 700):
                upload.write(b"s" * min(700, argument - start))
    elif action == "abort":
        assert isinstance(argument, int)
        upload = store.upload(owner, path, UploadOptions(expected_size=argument))
        upload.write(b"a" * (argument // 2))
        upload.abort()
    elif action == "delete":
        store.delete(owner, path)
    elif action in ("copy", "copy_dir"):
        assert isinstance(argument, str)
        store.copy(owner, path, parse_user_path(argument), overwrite=True)
    else:
        assert isinstance(argument, str)
        store.move(owner, path, parse_user_path(argument), overwrite=True)


@EXAMPLES
@given(max_bytes=LIMITS, max_files=FILE_LIMITS, operations=OPERATIONS)
def test_store_usage_equals_what_it_holds_and_stays_within_limits(
    services: Services,
    max_bytes: int | None,
    max_files: int | None,
    operations: list[tuple[str, str, object]],
) -> None:
    owner = new_owner(services, max_bytes, max_files)
    store = services.store
    store.mkdir(owner, parse_user_path("/d"))
    for operation in operations:
        try:
            apply(services, owner, operation)
        except (QuotaExceeded, NotFound, Conflict, AlreadyExists):
            pass
        figures = store.usage(owner)
        files = store.list_files(owner, ROOT)
        assert (figures.used_bytes, figures.used_files) == (
            sum(info.size for info in files) + kept_bytes(services, owner),
            len(files),
        ), operation
        assert within_limits(figures), operation
        assert disk_bytes(services, owner) == figures.used_bytes
    for info in store.list_dir(owner, ROOT):
        store.delete(owner, info.path)
    store.trash_purge(owner)
    figures = store.usage(owner)
    assert (figures.used_bytes, figures.used_files) == (0, 0)
    assert list(store.staging_dir.iterdir()) == []
