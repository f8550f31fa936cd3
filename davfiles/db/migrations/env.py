"""Alembic's entry point: runs on the connection ``davfiles.db.schema`` hands over.

There is no alembic.ini: ``davfiles db upgrade`` opens the connection (with the schema lock
held) and passes it in ``config.attributes``, so the installed package carries everything.
"""

from __future__ import annotations

from alembic import context

from davfiles.db.models import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise SystemExit("run migrations with `davfiles db upgrade`, not the alembic command")
# SQLite alters a table by copying it ("batch" mode); every later revision gets that for free.
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=True,
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
