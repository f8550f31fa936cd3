"""Revision 0012 adds ``users.is_admin`` (set for the user named admin, whom the server's
first start created) and the empty ``link_policy`` table to a database of 0011, keeping
every row; on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import inspect

from davfiles.app import create_services
from davfiles.config import Settings
from davfiles.db import schema
from davfiles.errors import PermissionDenied
from davfiles.store import parse_user_path
from davfiles.store.link_policy import LinkPolicy
from davfiles.store.links import LinkKind
from tests.deployment import NewDatabase, downgraded, shape, table_rows


def test_revision_0012_marks_the_admin_and_adds_the_link_policy_keeping_every_row(
    new_database: NewDatabase, tmp_path: Path
) -> None:
    url = new_database()
    data_dir = tmp_path / "data"
    services = create_services(Settings(data_dir=data_dir, database_url=url))
    try:
        services.accounts.add_user("admin", "pw", max_bytes=None, max_files=None)
        gina = services.accounts.add_user("gina", "pw", max_bytes=5000, max_files=None)
        services.store.write_bytes(gina, parse_user_path("/kept.txt"), b"kept")
        old_link = services.store.links.create(gina, parse_user_path("/kept.txt"), "view")
    finally:
        services.close()
    with downgraded(url, "0011") as engine:
        assert "link_policy" not in inspect(engine).get_table_names()
        assert "is_admin" not in shape(engine)["users"]
        old_shape = shape(engine)
        before = table_rows(engine, old_shape)
        schema.upgrade(engine)
        assert schema.state(engine).up_to_date
        assert "is_admin" in shape(engine)["users"]
        assert table_rows(engine, old_shape) == before
    services = create_services(Settings(data_dir=data_dir, database_url=url))
    try:
        admins = {user.name: user.is_admin for user in services.accounts.list_users()}
        assert admins == {"admin": True, "gina": False}
        links = services.store.links
        assert links.policy() == LinkPolicy()
        links.set_policy(LinkPolicy(password_kinds=frozenset({LinkKind.VIEW})), "admin")
        with pytest.raises(PermissionDenied):
            links.create(gina, parse_user_path("/kept.txt"), "view")
        assert links.get(gina, old_link.id).link.has_password is False
    finally:
        services.close()
