"""Admins and the link policy.

Adds ``users.is_admin`` (false for everyone but the user named ``admin``, the one the server
creates on its first start) and the one-row ``link_policy`` table, empty: no rules until an
admin sets some. Existing rows are untouched otherwise.

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A plain ADD COLUMN on both databases: SQLite need not rebuild the users table.
    op.add_column(
        "users", sa.Column("is_admin", sa.Boolean(), server_default=sa.false(), nullable=False)
    )
    users = sa.table("users", sa.column("name", sa.String), sa.column("is_admin", sa.Boolean))
    op.execute(users.update().where(users.c.name == "admin").values(is_admin=True))
    op.create_table(
        "link_policy",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("default_expiry_days", sa.Integer(), nullable=True),
        sa.Column("max_expiry_days", sa.Integer(), nullable=True),
        sa.Column("password_kinds", sa.String(length=32), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )


def downgrade() -> None:
    op.drop_table("link_policy")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("is_admin")
