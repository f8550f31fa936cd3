"""Disk journal marks: a store write killed half-way is completed or undone, never left torn.

Adds disk_journal, one row per committed write whose disk steps a journal file in the
staging folder records (``store/journal.py``). Existing tables and rows are untouched.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "disk_journal",
        sa.Column("token", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("token"),
    )


def downgrade() -> None:
    op.drop_table("disk_journal")
