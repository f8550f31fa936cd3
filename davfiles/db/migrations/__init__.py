"""Alembic revisions of the davfiles schema, shipped inside the package (see ``db/schema.py``)."""
