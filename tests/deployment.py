"""A deployment holding one of everything (users, files, tokens, locks, dead properties,
a public file), made through a live server, and the checks that all of it is still there:
for the schema-upgrade and backup tests."""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import requests
from alembic import command
from sqlalchemy import Engine, MetaData, inspect, select, text

from davfiles.db import schema
from davfiles.db.engine import make_engine
from tests.dav.helpers import lock
from tests.harness import LiveServer

# The ``new_database`` fixture: each call gives the URL of another empty database.
NewDatabase = Callable[[], str]
PROPPATCH = (
    '<?xml version="1.0" encoding="utf-8"?>'
    '<D:propertyupdate xmlns:D="DAV:" xmlns:Z="urn:davfiles-test">'
    "<D:set><D:prop><Z:color>blue &amp; grün</Z:color></D:prop></D:set></D:propertyupdate>"
)
COLOR = "{urn:davfiles-test}color"
FILES = {
    "notes.txt": b"first line\n",
    "empty.bin": b"",
    "docs/ünïcødé €.txt": "grüße".encode(),
    "docs/deep/er/random.bin": os.urandom(300_000),
}


@dataclass
class Deployment:
    """What a populated deployment holds, as its users would check it."""

    files: dict[str, dict[str, bytes]] = field(default_factory=dict)
    passwords: dict[str, str] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)
    locked: str = ""
    lock_token: str = ""
    public_id: int = 0


def populate(server: LiveServer) -> Deployment:
    deployment = Deployment()
    for name, quota in (("alice", 10_000_000), ("bob", None)):
        user = server.add_user(name, f"pw-{name}", max_bytes=quota)
        deployment.passwords[name] = user.password
        _, deployment.tokens[name] = server.services.accounts.create_token(name, "sync")
        session = server.session(user)
        for path, body in FILES.items():
            data = body + name.encode()
            for depth in range(1, path.count("/") + 1):
                folder = "/".join(path.split("/")[:depth])
                session.request("MKCOL", server.url(f"/dav/{folder}/"))
            assert session.put(server.url(f"/dav/{path}"), data=data).status_code == 201
            deployment.files.setdefault(name, {})[path] = data
    alice = requests.Session()
    alice.auth = ("alice", "pw-alice")
    deployment.locked = "notes.txt"
    locked = lock(alice, server.url("/dav/notes.txt"))
    assert locked.status_code == 200, locked.text
    deployment.lock_token = locked.headers["Lock-Token"].strip("<>")
    patched = alice.request("PROPPATCH", server.url("/dav/docs/ünïcødé €.txt"), data=PROPPATCH)
    assert patched.status_code == 207
    owner = server.services.accounts.owner("alice")
    info = next(f for f in server.services.store.list_files(owner) if f.name == "empty.bin")
    server.services.store.set_public(owner, info.id, True)
    deployment.public_id = info.id
    return deployment


def check(server: LiveServer, deployment: Deployment) -> None:
    """Every byte over HTTP, every login, the lock, the dead property and the public link."""
    for name, files in deployment.files.items():
        for credential in (deployment.passwords[name], deployment.tokens[name]):
            session = requests.Session()
            session.auth = (name, credential)
            for path, data in files.items():
                response = session.get(server.url(f"/dav/{path}"))
                assert response.status_code == 200, (name, path)
                assert response.content == data, (name, path)
    alice = requests.Session()
    alice.auth = ("alice", deployment.passwords["alice"])
    refused = alice.put(server.url(f"/dav/{deployment.locked}"), data=b"x")
    assert refused.status_code == 423
    found = alice.request(
        "PROPFIND",
        server.url("/dav/docs/ünïcødé €.txt"),
        headers={"Depth": "0"},
        data='<?xml version="1.0"?><D:propfind xmlns:D="DAV:" xmlns:Z="urn:davfiles-test">'
        "<D:prop><Z:color/></D:prop></D:propfind>",
    )
    assert ET.fromstring(found.content).findtext(f".//{COLOR}") == "blue & grün"
    public = requests.get(server.url(f"/public/{deployment.public_id}"))
    assert public.status_code == 200
    assert public.content == deployment.files["alice"]["empty.bin"]


Shape = dict[str, list[str]]


def shape(engine: Engine) -> Shape:
    """The davfiles tables and their columns, as the database has them."""
    tables = inspect(engine).get_table_names()
    return {
        table: sorted(column["name"] for column in inspect(engine).get_columns(table))
        for table in tables
        if table != "alembic_version"
    }


def table_rows(engine: Engine, only: Shape) -> dict[str, list[tuple[object, ...]]]:
    """Every row of the tables and columns in ``only``, in a stable order."""
    metadata = MetaData()
    metadata.reflect(engine, only=list(only))
    rows = {}
    with engine.connect() as connection:
        for name, columns in only.items():
            table = metadata.tables[name]
            result = connection.execute(select(*(table.c[column] for column in columns)))
            rows[name] = sorted((tuple(row) for row in result), key=repr)
    return rows


def copy_rows(source: Engine, target: Engine) -> None:
    """Copy every row of the target's tables and columns from the source, parents first;
    PostgreSQL's id sequences then continue after the copied ids, as in the original."""
    metadata = MetaData()
    metadata.reflect(target)
    with source.connect() as reading, target.begin() as writing:
        for table in metadata.sorted_tables:
            if table.name == "alembic_version":
                continue
            rows = reading.execute(select(*(table.c[c.name] for c in table.columns)))
            batch = [row._asdict() for row in rows]
            if batch:
                writing.execute(table.insert(), batch)
            if target.dialect.name == "postgresql" and "id" in table.c:
                writing.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                        f"coalesce((SELECT max(id) FROM {table.name}), 1))"
                    )
                )


def config_for(path: Path, url: str) -> Path:
    """A configuration file that points ``davfiles`` commands at the database ``url``."""
    path.write_text(f"davfiles:\n  database_url: '{url}'\n")
    return path


@contextmanager
def downgraded(url: str, revision: str) -> Iterator[Engine]:
    """The database at ``url`` taken back to ``revision``, as a davfiles of that revision left
    it, to test the upgrade from there; the engine is disposed afterwards."""
    engine = make_engine(url, threads=1)
    try:
        with schema.locked(engine) as connection:
            command.downgrade(schema.alembic_config(connection), revision)
        yield engine
    finally:
        engine.dispose()
