"""``make revision MESSAGE="..."``: write the next schema revision for a model change.

Alembic compares the models with a scratch SQLite database built by every existing revision
and writes what differs into ``migrations/versions/NNNN_<message>.py`` of the source tree.
Review it (autogenerate misses renames and data moves), then run tests/test_migrations.py,
which checks the result against the models on SQLite and PostgreSQL.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from alembic import command

from davfiles.db import schema
from davfiles.db.engine import make_engine


def main(message: str) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        engine = make_engine(f"sqlite:///{Path(scratch) / 'schema.sqlite3'}", threads=1)
        try:
            schema.upgrade(engine, create=False)
            number = max(int(script.revision) for script in schema.scripts().walk_revisions())
            with schema.locked(engine) as connection:
                command.revision(
                    schema.alembic_config(connection),
                    message,
                    autogenerate=True,
                    rev_id=f"{number + 1:04d}",
                )
        finally:
            engine.dispose()


if __name__ == "__main__":
    if len(sys.argv) != 2 or not sys.argv[1].strip():
        raise SystemExit('usage: make revision MESSAGE="what changes"')
    main(sys.argv[1])
