"""The store's folder pages: keyset positions in every order and direction, and on SQLite a
plan that reads a page by name straight from the unique index (no sort of the folder)."""

from __future__ import annotations

import pytest
from sqlalchemy import event

from davfiles.app import Services
from davfiles.store import PAGE_ORDERS, ROOT, page_key, parse_user_path


@pytest.fixture
def filled(services: Services) -> Services:
    owner = services.accounts.add_user("alice", "pw", max_bytes=None, max_files=None)
    store = services.store
    for index in range(57):
        path = parse_user_path(f"n{(index * 37) % 57:03d}")
        if index % 5 == 0:
            store.mkdir(owner, path)
        else:
            store.write_bytes(owner, path, b"x" * (index % 4))  # equal sizes: ties by name
            store.set_modified(owner, path, 1000.0 + index % 3)
    return services


@pytest.mark.parametrize("order", PAGE_ORDERS)
@pytest.mark.parametrize("descending", [False, True])
def test_pages_in_a_row_are_the_whole_folder_in_order(
    filled: Services, order: str, descending: bool
) -> None:
    store = filled.store
    owner = filled.accounts.owner("alice")
    every = store.list_dir(owner, ROOT)
    expected = sorted(
        every, key=lambda info: (page_key(info, order), info.name), reverse=descending
    )
    seen = []
    after = None
    for _ in range(20):
        page = store.list_page(
            owner, ROOT, order=order, descending=descending, after=after, limit=8
        )
        if not page:
            break
        seen += page
        after = (page_key(page[-1], order), page[-1].name)
    assert [info.name for info in seen] == [info.name for info in expected]


@pytest.mark.parametrize(
    ("order", "position", "seek"),
    [
        ("name", ("n010", "n010"), "name"),
        ("size", (2, "n010"), "<expr>"),
        ("modified", (1001.0, "n010"), "modified_at"),
    ],
)
@pytest.mark.parametrize("descending", [False, True])
def test_a_page_in_every_order_is_read_from_an_index_without_sorting(
    filled: Services, order: str, position: tuple[object, str], seek: str, descending: bool
) -> None:
    """A page deep in a 100,000-entry folder costs what the first page costs: the plan seeks
    to the position in an index of the order and sorts nothing."""
    engine = filled.db.engine
    if engine.dialect.name != "sqlite":
        pytest.skip("the plan checked is SQLite's")
    owner = filled.accounts.owner("alice")
    statements: list[tuple[str, object]] = []

    def record(
        _conn: object, _cursor: object, statement: str, parameters: object, *_: object
    ) -> None:
        statements.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", record)
    try:
        filled.store.list_page(
            owner, ROOT, order=order, descending=descending, after=position, limit=5
        )
    finally:
        event.remove(engine, "before_cursor_execute", record)
    ((statement, parameters),) = statements
    with engine.connect() as connection:
        plan = connection.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters).all()  # type: ignore[arg-type]
    details = " ".join(str(row[-1]) for row in plan)
    comparison = seek + ("<?" if descending else ">?")
    assert "USING INDEX" in details and f"(owner_id=? AND parent=? AND {comparison})" in details
    assert "TEMP B-TREE" not in details


def test_an_unknown_order_is_refused(filled: Services) -> None:
    with pytest.raises(ValueError):
        filled.store.list_page(filled.accounts.owner("alice"), ROOT, order="colour")


def test_search_is_bounded_and_matches_any_case_and_literal_wildcards(filled: Services) -> None:
    store, owner = filled.store, filled.accounts.owner("alice")
    store.write_bytes(owner, parse_user_path("n000/100%_Done.txt"), b"1")
    store.write_bytes(owner, parse_user_path("n000/1000 done.txt"), b"2")
    found = store.search_names(owner, ROOT, "%_done")
    assert [info.path.text for info in found] == ["n000/100%_Done.txt"]
    assert len(store.search_names(owner, ROOT, "n0", limit=7)) == 7
    assert store.search_names(owner, parse_user_path("n000"), "n0") == []
