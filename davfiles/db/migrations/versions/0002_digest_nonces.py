"""Digest nonces: the highest nonce count accepted per server-made nonce.

A captured Digest header can no longer be replayed: every worker process and server on the
database refuses a count it has already seen (``davfiles/auth/digest_nonces.py``).

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "digest_nonces",
        sa.Column("nonce_id", sa.LargeBinary(length=16), nullable=False),
        sa.Column("max_nc", sa.BigInteger(), nullable=False),
        sa.Column("expires_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("nonce_id"),
    )
    with op.batch_alter_table("digest_nonces", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_digest_nonces_expires_at"), ["expires_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("digest_nonces", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_digest_nonces_expires_at"))
    op.drop_table("digest_nonces")
