"""Login flows: Nextcloud Login Flow v2 in progress, shared by every worker process.

Only hashes of a flow's tokens are stored (``davfiles/auth/login_flows.py``); existing tables
are untouched.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "login_flows",
        sa.Column("poll_sha256", sa.String(length=64), nullable=False),
        sa.Column("login_sha256", sa.String(length=64), nullable=False),
        sa.Column("label", sa.String(length=200), nullable=False),
        sa.Column("client_sha256", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("expires_at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("poll_sha256"),
        sa.UniqueConstraint("login_sha256"),
    )
    with op.batch_alter_table("login_flows", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_login_flows_client_sha256"), ["client_sha256"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_login_flows_expires_at"), ["expires_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("login_flows", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_login_flows_expires_at"))
        batch_op.drop_index(batch_op.f("ix_login_flows_client_sha256"))
    op.drop_table("login_flows")
