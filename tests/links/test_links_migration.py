"""Revision 0009 adds the share link tables to a database of 0008 keeping every row, and
links made afterwards work; on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import inspect

from davfiles.app import create_services
from davfiles.config import Settings
from davfiles.db import schema
from davfiles.store import parse_user_path
from tests.deployment import NewDatabase, downgraded, shape, table_rows

LINK_TABLES = {"share_links", "retired_link_tokens", "link_transfers"}


def test_revision_0009_adds_share_links_keeping_every_row(
    new_database: NewDatabase, tmp_path: Path
) -> None:
    url = new_database()
    data_dir = tmp_path / "data"
    services = create_services(Settings(data_dir=data_dir, database_url=url))
    try:
        owner = services.accounts.add_user("gina", "pw", max_bytes=None, max_files=None)
        kept = services.store.write_bytes(owner, parse_user_path("/kept.txt"), b"kept")
        services.store.links.create(owner, parse_user_path("/kept.txt"), "view")
    finally:
        services.close()
    with downgraded(url, "0008") as engine:
        assert not LINK_TABLES & set(inspect(engine).get_table_names())
        old_shape = shape(engine)
        before = table_rows(engine, old_shape)
        schema.upgrade(engine)
        assert schema.state(engine).up_to_date
        assert LINK_TABLES <= set(inspect(engine).get_table_names())
        assert table_rows(engine, old_shape) == before
    services = create_services(Settings(data_dir=data_dir, database_url=url))
    try:
        links = services.store.links
        assert links.listing(owner) == []
        link = links.create(owner, parse_user_path("/kept.txt"), "view", {"password": "pw"})
        visit = links.open(link.token)
        assert visit.root.id == kept.id and links.check_password(visit, "pw")
    finally:
        services.close()
