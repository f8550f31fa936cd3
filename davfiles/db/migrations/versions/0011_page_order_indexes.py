"""Folder pages by date and by size read from an index, as pages by name always did.

Adds two indexes on nodes: (owner_id, parent, modified_at, name) and (owner_id, parent,
<a member's size: a folder's bytes below it, else the file's size>, name), the expression of
``models.PAGE_SIZE_KEY``. Without them the web app sorted a whole folder for every page in
those orders. No row changes.

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_nodes_page_modified", "nodes", ["owner_id", "parent", "modified_at", "name"]
    )
    op.create_index(
        "ix_nodes_page_size",
        "nodes",
        [
            "owner_id",
            "parent",
            sa.text("(CASE WHEN is_dir THEN tree_size ELSE size END)"),
            "name",
        ],
    )


def downgrade() -> None:
    op.drop_index("ix_nodes_page_size", table_name="nodes")
    op.drop_index("ix_nodes_page_modified", table_name="nodes")
