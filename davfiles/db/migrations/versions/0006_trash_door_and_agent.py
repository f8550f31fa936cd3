"""Trash items name the door and User-Agent that deleted them, next to the client address.

Two nullable columns on trash_items (added in place, no table rebuild); items trashed before
this revision keep null in both.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("trash_items", sa.Column("door", sa.String(length=64), nullable=True))
    op.add_column("trash_items", sa.Column("agent", sa.String(length=256), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("trash_items", schema=None) as batch_op:
        batch_op.drop_column("agent")
        batch_op.drop_column("door")
