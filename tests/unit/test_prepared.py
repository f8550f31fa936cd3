"""The hot statements run on the driver's cursor answer what ``Connection.execute`` answers.

``Prepared`` bypasses SQLAlchemy's execution of a statement, not its compilation or types:
each hot statement is run both ways on the same data, on SQLite and PostgreSQL, and the rows
(values and their Python types) or the changed row counts must be the same.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, bindparam, event, select
from sqlalchemy.exc import IntegrityError

from davfiles.app import Services, create_services
from davfiles.auth import service as auth_service
from davfiles.config import Settings
from davfiles.db.models import DiskJournal, Node
from davfiles.db.prepared import Prepared
from davfiles.errors import AuthFailed
from davfiles.store import journal, locks, nodes, parse_user_path, quota, slots
from davfiles.store.models import FileInfo

NewDatabase = Callable[[], str]


@pytest.fixture
def filled(new_database: NewDatabase, tmp_path: Path) -> Iterator[Services]:
    """A user with a few folders and files, and a second user without any."""
    services = create_services(Settings(data_dir=tmp_path / "data", database_url=new_database()))
    try:
        services.accounts.add_user("ann", "ann-password", max_bytes=10_000, max_files=None)
        services.accounts.add_user("bob", "bob-password", max_bytes=None, max_files=None)
        owner = services.accounts.owner("ann")
        services.store.mkdir(owner, parse_user_path("/docs"))
        services.store.mkdir(owner, parse_user_path("/docs/deep"))
        for name in ("b.txt", "a.txt", "c.bin"):
            services.store.write_bytes(owner, parse_user_path(f"/docs/{name}"), b"x" * 10)
        yield services
    finally:
        services.close()


def _both(
    services: Services, prepared: Prepared, values: dict[str, Any]
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """The rows of ``prepared`` run both ways, each in a transaction rolled back after it."""
    with services.db.engine.connect() as connection:
        with connection.begin() as transaction:
            through_sqlalchemy = [
                tuple(row) for row in connection.execute(prepared.statement, values)
            ]
            transaction.rollback()
        with connection.begin() as transaction:
            prepared_rows = prepared.all(connection, values)
            transaction.rollback()
    return through_sqlalchemy, prepared_rows


def _same(expected: list[tuple[Any, ...]], found: list[tuple[Any, ...]]) -> None:
    assert found == expected
    assert [[type(value) for value in row] for row in found] == [
        [type(value) for value in row] for row in expected
    ]


def _counts(services: Services, prepared: Prepared, values: dict[str, Any]) -> tuple[int, int]:
    with services.db.engine.connect() as connection:
        with connection.begin() as transaction:
            through_sqlalchemy = connection.execute(prepared.statement, values).rowcount
            transaction.rollback()
        with connection.begin() as transaction:
            prepared_count = prepared.run(connection, values)
            transaction.rollback()
    return through_sqlalchemy, prepared_count


def test_node_reads_answer_the_same(filled: Services) -> None:
    owner = filled.accounts.owner("ann")
    for parent, name in [("docs", "a.txt"), ("docs", "deep"), ("", ""), ("docs", "missing")]:
        values = {"owner_id": owner.id, "parent": parent, "name": name}
        for prepared in (nodes._AT, nodes._AT_FOR_UPDATE):
            expected, found = _both(filled, prepared, values)
            _same(expected, found)
    expected, found = _both(filled, nodes._CHILDREN, {"owner_id": owner.id, "parent": "docs"})
    assert [row[3] for row in found] == ["a.txt", "b.txt", "c.bin", "deep"]
    _same(expected, found)
    # Booleans come back as booleans on SQLite too (SQLAlchemy's result processor).
    assert {type(row[4]) for row in found} == {bool}


def test_login_read_answers_the_same(filled: Services) -> None:
    # A failure and a success leave a failure counter and a trusted pair to read.
    with pytest.raises(AuthFailed):
        filled.authenticator.verify("ann", "wrong", client="127.0.0.2")
    filled.authenticator.verify("ann", "ann-password", client="127.0.0.1")
    throttle = filled.authenticator._throttle
    for name, client in [("ann", "127.0.0.1"), ("ann", "127.0.0.2"), ("nobody", "127.0.0.1")]:
        values = {"name": name, **throttle.snapshot_parameters(name, client)}
        expected, found = _both(filled, auth_service._USER_LOGIN, values)
        _same(expected, found)
        assert len(found) == (name == "ann")


def test_counts_and_lock_probe_answer_the_same(filled: Services) -> None:
    owner = filled.accounts.owner("ann")
    _same(*_both(filled, slots._COUNT, {"user_id": owner.id}))
    probe = {"home": "/ann", "below": "/ann/%", "now": time.time()}
    _same(*_both(filled, locks._ANY_LOCK_BELOW, probe))


def test_writes_change_the_same_rows(filled: Services) -> None:
    owner = filled.accounts.owner("ann")
    # Within the byte limit, past it, and a decrease.
    for delta in (100, 20_000, -5):
        values = {"user_id": owner.id, "bytes_delta": delta, "files_delta": 1}
        expected, found = _counts(filled, quota._ADJUST, values)
        assert found == expected == (0 if delta == 20_000 else 1)
    chain = {"owner": owner.id, "delta": 7, "p0": "", "n0": "", "p1": "", "n1": "docs"}
    assert _counts(filled, nodes._touch(1), chain) == (2, 2)
    mark = {"token": "t" * 32, "created_at": time.time()}
    with filled.db.write() as session:
        assert journal._MARK.run(session.connection(), mark) == 1
    with filled.db.read() as session:
        stored = session.execute(
            select(DiskJournal.token, DiskJournal.created_at).where(
                DiskJournal.token == mark["token"]
            )
        ).all()
    assert [tuple(row) for row in stored] == [(mark["token"], mark["created_at"])]


def test_insert_returns_the_new_id_and_a_clash_is_sqlalchemys_error(filled: Services) -> None:
    owner = filled.accounts.owner("ann")
    now = time.time()
    info = FileInfo(
        id=0,
        owner_id=owner.id,
        path=parse_user_path("/docs/new.txt"),
        is_dir=False,
        size=3,
        content_type="text/plain",
        md5="0" * 32,
        sha1="0" * 40,
        created_at=now,
        modified_at=now,
        description=None,
        public=False,
    )
    with filled.db.write() as session:
        stored = nodes.insert_file(session, info)
    with filled.db.read() as session:
        node = session.scalars(select(Node).where(Node.id == stored.id)).one()
    assert (node.parent, node.name, node.size, node.is_dir) == ("docs", "new.txt", 3, False)
    with pytest.raises(IntegrityError), filled.db.write() as session:
        nodes.insert_file(session, info)


def test_cursor_events_see_each_statement(filled: Services) -> None:
    """The metrics' database time and the tests' statement counts rely on them."""
    owner = filled.accounts.owner("ann")
    seen: list[str] = []

    def record(_conn: Connection, _cursor: Any, statement: str, *_: Any) -> None:
        seen.append(statement)

    event.listen(filled.db.engine, "before_cursor_execute", record)
    try:
        with filled.db.connect() as connection:
            assert nodes.info_at(connection, owner.id, parse_user_path("/docs")) is not None
    finally:
        event.remove(filled.db.engine, "before_cursor_execute", record)
    assert seen == [nodes._AT._plan(filled.db.engine.dialect).sql]


def test_a_statement_whose_sql_depends_on_its_values_is_refused(filled: Services) -> None:
    expanding = Prepared(select(Node.id).where(Node.id.in_(bindparam("ids", expanding=True))))
    with filled.db.connect() as connection, pytest.raises(ValueError, match="ids"):
        expanding.all(connection, {"ids": [1, 2]})
