"""Folder tree state: each folder's recursive size and a change counter for its ETag.

Sync clients (Nextcloud, ownCloud) descend only into folders whose ETag changed, so a folder's
ETag must change when anything at any depth below it does; ``tree_version`` is that counter,
``tree_size`` the bytes below the folder (``oc:size``). Existing folders get their sizes
computed from the file records here, and every folder's ETag changes once with the new
format, so a client that missed a deep change before the upgrade looks again.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

from collections import defaultdict

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_BATCH = 1000


def upgrade() -> None:
    op.add_column(
        "nodes", sa.Column("tree_size", sa.BigInteger(), server_default="0", nullable=False)
    )
    op.add_column(
        "nodes", sa.Column("tree_version", sa.BigInteger(), server_default="0", nullable=False)
    )
    _compute_tree_sizes()


def _compute_tree_sizes() -> None:
    """Add each file's size to every folder above it, then write the folders' totals."""
    nodes = sa.table(
        "nodes",
        sa.column("id", sa.Integer),
        sa.column("owner_id", sa.Integer),
        sa.column("parent", sa.Text),
        sa.column("name", sa.Text),
        sa.column("is_dir", sa.Boolean),
        sa.column("size", sa.BigInteger),
        sa.column("tree_size", sa.BigInteger),
    )
    connection = op.get_bind()
    totals: defaultdict[tuple[int, str], int] = defaultdict(int)
    files = connection.execute(
        sa.select(nodes.c.owner_id, nodes.c.parent, nodes.c.size).where(
            nodes.c.is_dir.is_(False), nodes.c.size > 0
        )
    )
    for owner_id, parent, size in files:
        parts = parent.split("/") if parent else []
        for depth in range(len(parts) + 1):
            totals[owner_id, "/".join(parts[:depth])] += size
    folders = connection.execute(
        sa.select(nodes.c.id, nodes.c.owner_id, nodes.c.parent, nodes.c.name).where(
            nodes.c.is_dir.is_(True)
        )
    ).all()
    updates = []
    for node_id, owner_id, parent, name in folders:
        path = f"{parent}/{name}" if parent else name
        total = totals.get((owner_id, path), 0)
        if total:
            updates.append({"node_id": node_id, "total": total})
    statement = (
        sa.update(nodes)
        .where(nodes.c.id == sa.bindparam("node_id"))
        .values(tree_size=sa.bindparam("total"))
    )
    for start in range(0, len(updates), _BATCH):
        connection.execute(statement, updates[start : start + _BATCH])


def downgrade() -> None:
    with op.batch_alter_table("nodes", schema=None) as batch_op:
        batch_op.drop_column("tree_version")
        batch_op.drop_column("tree_size")
