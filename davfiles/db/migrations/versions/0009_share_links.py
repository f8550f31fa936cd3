"""Share links: links bound to a node, the tokens they gave up, and partial transfers.

Adds share_links, retired_link_tokens and link_transfers (``store/links.py``). Existing
tables and rows are untouched.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "share_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("node_id", sa.BigInteger(), nullable=False),
        sa.Column("token", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=True),
        sa.Column("expires_at", sa.Float(), nullable=True),
        sa.Column("max_downloads", sa.BigInteger(), nullable=True),
        sa.Column("max_upload_bytes", sa.BigInteger(), nullable=True),
        sa.Column("require_name", sa.Boolean(), nullable=False),
        sa.Column("label", sa.Text(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.Column("views", sa.BigInteger(), nullable=False),
        sa.Column("downloads", sa.BigInteger(), nullable=False),
        sa.Column("uploads", sa.BigInteger(), nullable=False),
        sa.Column("uploaded_bytes", sa.BigInteger(), nullable=False),
        sa.Column("last_access_at", sa.Float(), nullable=True),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(["owner_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_share_links_owner", "share_links", ["owner_id", "id"])
    op.create_index("ix_share_links_node", "share_links", ["node_id"])
    op.create_table(
        "retired_link_tokens",
        sa.Column("token_sha256", sa.String(length=64), nullable=False),
        sa.Column("retired_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("token_sha256"),
    )
    op.create_table(
        "link_transfers",
        sa.Column("link_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("ranges", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(["link_id"], ["share_links.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("link_id", "key"),
    )
    op.create_index("ix_link_transfers_updated_at", "link_transfers", ["updated_at"])


def downgrade() -> None:
    op.drop_index("ix_link_transfers_updated_at", table_name="link_transfers")
    op.drop_table("link_transfers")
    op.drop_table("retired_link_tokens")
    op.drop_index("ix_share_links_node", table_name="share_links")
    op.drop_index("ix_share_links_owner", table_name="share_links")
    op.drop_table("share_links")
