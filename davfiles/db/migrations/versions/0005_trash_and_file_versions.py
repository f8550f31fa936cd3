"""Trash and file versions: deleted trees and replaced contents are kept, not destroyed.

Adds trash_items (one deleted file or folder), trashed_nodes and trashed_properties (its
records, ids kept for the restore), file_versions (earlier contents of files) and leases (the
retention purge runs in one process at a time). Existing tables and rows are untouched.
Kept bytes are named on disk by a random ``disk_name``, not by the row id, which SQLite
hands out again after a rollback.

Revision ID: 0005
Revises: 0004 (written beside 0003 and 0004 on 0002; chained after them)
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "leases",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("holder", sa.String(length=64), nullable=False),
        sa.Column("expires_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "file_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("node_id", sa.BigInteger(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("md5", sa.String(length=32), nullable=True),
        sa.Column("sha1", sa.String(length=40), nullable=True),
        sa.Column("modified_at", sa.Float(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("author", sa.String(length=64), nullable=False),
        sa.Column("label", sa.Text(), nullable=True),
        sa.Column("disk_name", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(["owner_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("file_versions", schema=None) as batch_op:
        batch_op.create_index("ix_file_versions_node", ["node_id", "id"], unique=False)
        batch_op.create_index(
            "ix_file_versions_owner_created", ["owner_id", "created_at"], unique=False
        )

    op.create_table(
        "trash_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("node_id", sa.BigInteger(), nullable=False),
        sa.Column("parent", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("is_dir", sa.Boolean(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("files", sa.BigInteger(), nullable=False),
        sa.Column("deleted_at", sa.Float(), nullable=False),
        sa.Column("origin", sa.String(length=64), nullable=True),
        sa.Column("disk_name", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(["owner_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("trash_items", schema=None) as batch_op:
        batch_op.create_index(
            "ix_trash_items_owner_deleted", ["owner_id", "deleted_at"], unique=False
        )

    op.create_table(
        "trashed_nodes",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("trash_id", sa.Integer(), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("parent", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("is_dir", sa.Boolean(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("content_type", sa.String(length=255), nullable=False),
        sa.Column("md5", sa.String(length=32), nullable=True),
        sa.Column("sha1", sa.String(length=40), nullable=True),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("modified_at", sa.Float(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("original_name", sa.Text(), nullable=True),
        sa.Column("public", sa.Boolean(), nullable=False),
        sa.Column("tree_size", sa.BigInteger(), nullable=False),
        sa.Column("tree_version", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["trash_id"], ["trash_items.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("trashed_nodes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_trashed_nodes_trash_id"), ["trash_id"], unique=False)

    op.create_table(
        "trashed_properties",
        sa.Column("node_id", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("value", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(["node_id"], ["trashed_nodes.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("node_id", "name"),
    )


def downgrade() -> None:
    op.drop_table("trashed_properties")
    with op.batch_alter_table("trashed_nodes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_trashed_nodes_trash_id"))

    op.drop_table("trashed_nodes")
    with op.batch_alter_table("trash_items", schema=None) as batch_op:
        batch_op.drop_index("ix_trash_items_owner_deleted")

    op.drop_table("trash_items")
    with op.batch_alter_table("file_versions", schema=None) as batch_op:
        batch_op.drop_index("ix_file_versions_owner_created")
        batch_op.drop_index("ix_file_versions_node")

    op.drop_table("file_versions")
    op.drop_table("leases")
