"""Schema migrations: the revisions build what the models describe, a database of the last
release before migrations upgrades in place keeping every record and byte, and a database at
another revision is refused with one line. Each test runs on SQLite and PostgreSQL."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.operations import Operations
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, column, func, inspect, select, table, text

from davfiles.app import create_services
from davfiles.config import Settings
from davfiles.db import schema
from davfiles.db.engine import make_engine
from davfiles.db.models import Base, Node, Token
from davfiles.store import parse_user_path
from tests.deployment import (
    NewDatabase,
    check,
    config_for,
    copy_rows,
    downgraded,
    populate,
    shape,
    table_rows,
)
from tests.harness import LiveServer, TestUser
from tests.test_cli import assert_one_line_error, davfiles


def migrated(url: str) -> Engine:
    """A database built by running every revision, as an upgraded deployment has it."""
    engine = make_engine(url, threads=1)
    schema.upgrade(engine, create=False)
    return engine


def pre_migration(url: str) -> Engine:
    """A database as davfiles 0.1.0 left it: the baseline tables and no alembic_version."""
    engine = make_engine(url, threads=1)
    schema.upgrade(engine, schema.BASELINE)
    with engine.begin() as connection:
        connection.execute(text("DROP TABLE alembic_version"))
    return engine


def _without_layout_of_expressions(differences: list[Any]) -> list[Any]:
    """Alembic compares an expression index as PostgreSQL prints it back, line breaks and
    all, with the model's one-line text, and so reports an index to drop and the same one to
    add (``ix_nodes_page_size``). A pair whose expressions match once blanks are dropped is
    no difference; any other change of the index still is."""

    def shape(index: Any) -> list[str]:
        prefix = index.table.name + "."
        return [
            "".join(str(part).replace(prefix, "").split()).strip("()") for part in index.expressions
        ]

    removed = {d[1].name: shape(d[1]) for d in differences if d[0] == "remove_index"}
    added = {d[1].name: shape(d[1]) for d in differences if d[0] == "add_index"}
    same = {name for name, parts in removed.items() if added.get(name) == parts}
    return [
        d for d in differences if not (d[0] in ("remove_index", "add_index") and d[1].name in same)
    ]


def test_the_revisions_build_what_the_models_describe(new_database: NewDatabase) -> None:
    """Fails when a model changes without a revision (see README, Development)."""
    engine = migrated(new_database())
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            differences = compare_metadata(context, Base.metadata)
        assert _without_layout_of_expressions(differences) == []
        assert schema.state(engine).up_to_date
    finally:
        engine.dispose()


def test_a_new_database_is_created_at_the_newest_revision(new_database: NewDatabase) -> None:
    engine = make_engine(new_database(), threads=1)
    try:
        schema.prepare(engine)
        assert schema.state(engine) == schema.SchemaState(schema.head(), schema.head())
        schema.prepare(engine)
    finally:
        engine.dispose()


def test_a_database_of_0_1_0_upgrades_in_place_keeping_every_record_and_byte(
    new_database: NewDatabase, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    services = create_services(Settings(data_dir=data_dir, database_url=new_database()))
    server = LiveServer(services)
    try:
        deployment = populate(server)
    finally:
        server.stop()
    old_url = new_database()
    old = pre_migration(old_url)
    copy_rows(services.db.engine, old)
    old_shape = shape(old)
    before = table_rows(old, old_shape)
    old.dispose()
    services.close()
    assert all(before[table] for table in ("users", "nodes", "tokens", "dead_properties", "locks"))

    config = config_for(tmp_path / "old.yaml", old_url)
    upgraded = davfiles(data_dir, "db", "upgrade", config=config)
    assert upgraded.returncode == 0, upgraded.stderr
    assert f"from schema revision none to {schema.head()}" in upgraded.stdout
    assert davfiles(data_dir, "db", "current", config=config).returncode == 0

    services = create_services(Settings(data_dir=data_dir, database_url=old_url))
    server = LiveServer(services)
    try:
        assert table_rows(services.db.engine, old_shape) == before
        assert services.store.fsck(hashes=True).clean
        check(server, deployment)
        newcomer = server.add_user("carol")
        assert server.session(newcomer).put(server.url("/dav/n.txt"), data=b"n").status_code == 201
    finally:
        server.stop()
        services.close()


def test_a_database_of_0_1_0_is_recognised_as_the_baseline(new_database: NewDatabase) -> None:
    """Without an upgrade, a start names it when the newest revision is past the baseline."""
    engine = pre_migration(new_database())
    try:
        try:
            schema.prepare(engine)
        except schema.SchemaOutOfDate as refusal:
            assert "davfiles db upgrade" in str(refusal)
        assert schema.state(engine).current == schema.BASELINE
    finally:
        engine.dispose()


def test_a_database_at_another_revision_is_refused_with_one_line(
    new_database: NewDatabase, tmp_path: Path
) -> None:
    url = new_database()
    engine = make_engine(url, threads=1)
    schema.prepare(engine)
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = 'f00d'"))
    engine.dispose()
    config = config_for(tmp_path / "ahead.yaml", url)
    data_dir = tmp_path / "data"
    assert_one_line_error(davfiles(data_dir, "serve", config=config), "does not know")
    assert_one_line_error(davfiles(data_dir, "user", "list", config=config), "does not know")
    current = davfiles(data_dir, "db", "current", config=config)
    assert current.returncode == 1
    assert "f00d" in current.stdout


def test_the_refusal_of_a_database_behind_names_the_upgrade() -> None:
    with pytest.raises(schema.SchemaOutOfDate, match="run `davfiles db upgrade`"):
        schema.check(schema.SchemaState(schema.BASELINE, "0002"))


def test_the_revisions_read_from_file_names_are_alembics() -> None:
    """The start-up check reads the revisions without Alembic; they must be the ones it runs."""
    assert schema.head() == schema.scripts().get_current_head()
    assert schema._known() == {script.revision for script in schema.scripts().walk_revisions()}


def test_a_server_on_an_up_to_date_database_never_imports_alembic(tmp_path: Path) -> None:
    """Alembic and Mako cost every worker about 11 MiB and serve no request."""
    create_services(Settings(data_dir=tmp_path)).close()
    probe = (
        "import sys; from pathlib import Path; from davfiles.app import create_app, "
        "create_services; from davfiles.config import Settings; "
        f"create_app(create_services(Settings(data_dir=Path({str(tmp_path)!r})))); "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('alembic', 'mako')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.strip() == "[]"


def test_rebuilding_a_table_on_sqlite_keeps_the_rows_that_point_at_it(tmp_path: Path) -> None:
    """Batch mode drops the old copy of a table; with foreign keys on, that drop would delete
    every file and token of every user."""
    services = create_services(Settings(data_dir=tmp_path / "data"))
    try:
        owner = services.accounts.add_user("alice", "pw", max_bytes=None, max_files=None)
        services.store.write_bytes(owner, parse_user_path("/a.txt"), b"a")
        services.accounts.create_token("alice")
        engine = services.db.engine
        counts = select(func.count(Node.id)), select(func.count(Token.id))
        with engine.connect() as connection:
            before = [connection.scalar(count) for count in counts]
        with schema.locked(engine) as connection:
            operations = Operations(MigrationContext.configure(connection))
            with operations.batch_alter_table("users", recreate="always"):
                pass
        with engine.connect() as connection:
            assert [connection.scalar(count) for count in counts] == before
            assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    finally:
        services.close()


def test_revision_0005_adds_trash_and_versions_keeping_every_row(
    new_database: NewDatabase, tmp_path: Path
) -> None:
    """A database taken back to 0002 (users and files, no trash tables) upgrades to 0005
    keeping every row; its files then go to the trash and come back with their ids."""
    url = new_database()
    data_dir = tmp_path / "data"
    services = create_services(Settings(data_dir=data_dir, database_url=url))
    try:
        owner = services.accounts.add_user("dora", "pw", max_bytes=None, max_files=None)
        kept = services.store.write_bytes(owner, parse_user_path("/kept.txt"), b"kept")
    finally:
        services.close()
    with downgraded(url, "0002") as engine:
        assert "trash_items" not in inspect(engine).get_table_names()
        old_shape = shape(engine)
        before = table_rows(engine, old_shape)
        schema.upgrade(engine)
        assert schema.state(engine).up_to_date
        assert table_rows(engine, old_shape) == before
    services = create_services(Settings(data_dir=data_dir, database_url=url))
    try:
        store = services.store
        store.delete(owner, parse_user_path("/kept.txt"))
        [entry] = store.trash_list(owner)
        assert store.trash_restore(owner, entry.id).id == kept.id
        assert store.fsck(owner, hashes=True).clean
    finally:
        services.close()


def test_revision_0006_adds_the_deleting_door_and_agent_keeping_every_trash_item(
    new_database: NewDatabase, tmp_path: Path
) -> None:
    """Trash items of 0005 survive the upgrade with no door or agent; a delete through a
    door afterwards records both."""
    url = new_database()
    data_dir = tmp_path / "data"
    services = create_services(Settings(data_dir=data_dir, database_url=url))
    try:
        owner = services.accounts.add_user("erin", "pw", max_bytes=None, max_files=None)
        for name in ("/old.txt", "/new.txt"):
            services.store.write_bytes(owner, parse_user_path(name), name.encode())
        services.store.delete(owner, parse_user_path("/old.txt"))
    finally:
        services.close()
    with downgraded(url, "0005") as engine:
        old_shape = shape(engine)
        assert "door" not in old_shape["trash_items"]
        before = table_rows(engine, old_shape)
        schema.upgrade(engine)
        assert table_rows(engine, old_shape) == before
    services = create_services(Settings(data_dir=data_dir, database_url=url))
    server = LiveServer(services)
    try:
        user = TestUser("erin", "pw", owner)
        answer = server.session(user).delete(server.url("/dav/new.txt"))
        assert answer.status_code == 204
        trash = services.store.trash_list(owner)
        who = [(entry.name, entry.door, entry.agent is not None) for entry in trash]
        assert who == [("new.txt", "webdav", True), ("old.txt", None, False)]
    finally:
        server.stop()
        services.close()


def test_0003_computes_every_folders_size_from_the_records_before_it(
    new_database: NewDatabase,
) -> None:
    """Records written before folder tree state existed get their totals in the upgrade."""
    engine = make_engine(new_database(), threads=1)
    try:
        schema.upgrade(engine, "0002")
        nodes = table(
            "nodes",
            *(
                column(name)
                for name in ("owner_id", "parent", "name", "is_dir", "size", "created_at")
            ),
            column("modified_at"),
            column("content_type"),
            column("public"),
        )
        users = table(
            "users",
            *(column(name) for name in ("id", "name", "password_hash", "auth_version")),
            column("used_bytes"),
            column("used_files"),
            column("created_at"),
        )
        tree = {
            (1, "", ""): 0,
            (1, "", "a"): None,
            (1, "a", "b"): None,
            (1, "a/b", "deep.bin"): 100,
            (1, "a", "f.txt"): 10,
            (1, "", "empty"): None,
            (1, "", "top.txt"): 1,
            (2, "", ""): 0,
            (2, "", "a"): None,
            (2, "a", "g.txt"): 7,
        }
        with engine.begin() as connection:
            for user_id in (1, 2):
                connection.execute(
                    users.insert().values(
                        id=user_id,
                        name=f"user{user_id}",
                        password_hash="x",
                        auth_version=0,
                        used_bytes=0,
                        used_files=0,
                        created_at=0.0,
                    )
                )
            for (owner_id, parent, name), size in tree.items():
                is_dir = size is None or name == ""
                connection.execute(
                    nodes.insert().values(
                        owner_id=owner_id,
                        parent=parent,
                        name=name,
                        is_dir=is_dir,
                        size=size or 0,
                        created_at=0.0,
                        modified_at=0.0,
                        content_type="application/octet-stream",
                        public=False,
                    )
                )
        schema.upgrade(engine)
        with engine.connect() as connection:
            rows = connection.execute(
                select(Node.owner_id, Node.parent, Node.name, Node.tree_size, Node.tree_version)
            ).all()
        sizes = {(row[0], row[1], row[2]): row[3] for row in rows}
        assert sizes == {
            (1, "", ""): 111,
            (1, "", "a"): 110,
            (1, "a", "b"): 100,
            (1, "a/b", "deep.bin"): 0,
            (1, "a", "f.txt"): 0,
            (1, "", "empty"): 0,
            (1, "", "top.txt"): 0,
            (2, "", ""): 7,
            (2, "", "a"): 7,
            (2, "a", "g.txt"): 0,
        }
        assert {row[4] for row in rows} == {0}
    finally:
        engine.dispose()
