"""each batch's Merkle tree, stored with it for receipts

Revision ID: 0004
Revises: 0002
Create Date: 2026-11-26 09:00:00.000000

Batches built before this revision have no stored tree: the first receipt or correction that
needs one rebuilds it from the batch's commitments and stores it (node/anchoring/proofs.py).
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "batch_tree",
        sa.Column("batch_id", sa.Integer(), nullable=False),
        sa.Column("chunk", sa.Integer(), nullable=False),
        sa.Column("hashes", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(["batch_id"], ["batch.id"]),
        sa.PrimaryKeyConstraint("batch_id", "chunk"),
    )


def downgrade() -> None:
    op.drop_table("batch_tree")
