"""Departures: a document renamed away by an editor's safe save keeps its id and versions.

Adds departures, one row per file recently renamed from its name to a temporary one
(``store/saves.py``). Existing tables and rows are untouched.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "departures",
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("parent", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("node_id", sa.BigInteger(), nullable=False),
        sa.Column("left_at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(["owner_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("owner_id", "parent", "name"),
    )


def downgrade() -> None:
    op.drop_table("departures")
