"""disputes: the objections derived from the Disputes contract's events

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03 03:00:00.000000

The table is derived: with no cursor row the projection rebuilds it from chain_event on the
index's next write, so a store indexed before this revision fills it then.
"""

import sqlalchemy as sa
from alembic import op
from sqlmodel.sql.sqltypes import AutoString

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

Int = sa.Integer().with_variant(sa.BigInteger(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "dispute_objection",
        sa.Column("id", Int, primary_key=True, autoincrement=False),
        sa.Column("subject_key", sa.LargeBinary(), nullable=False),
        sa.Column("kind", AutoString(), nullable=False),
        sa.Column("target", AutoString(), nullable=False),
        sa.Column("holder", AutoString(), nullable=False),
        sa.Column("reasons_hash", AutoString(), nullable=False),
        sa.Column("filed_by", AutoString(), nullable=False),
        sa.Column("borrower", AutoString(), nullable=True),
        sa.Column("filed_at", Int, nullable=False),
        sa.Column("deadline", Int, nullable=False),
        sa.Column("batch_id", Int, nullable=False),
        sa.Column("leaf_index", Int, nullable=False),
        sa.Column("state", AutoString(), nullable=False),
        sa.Column("closed_by", AutoString(), nullable=True),
        sa.Column("closed_at", Int, nullable=True),
        sa.Column("answer_hash", AutoString(), nullable=True),
        sa.Column("by_regulator", sa.Boolean(), nullable=False),
        sa.Column("statement_hash", AutoString(), nullable=True),
        sa.Column("block_number", Int, nullable=False),
        sa.Column("tx_hash", AutoString(), nullable=False),
        sa.Column("changed_block", Int, nullable=False),
    )
    op.create_index("ix_dispute_objection_subject_key", "dispute_objection", ["subject_key"])
    op.create_index("ix_dispute_objection_holder", "dispute_objection", ["holder"])
    op.create_index("ix_dispute_objection_changed_block", "dispute_objection", ["changed_block"])
    op.create_table(
        "dispute_cursor",
        sa.Column("id", Int, primary_key=True, autoincrement=False),
        sa.Column("block_number", Int, nullable=False),
        sa.Column("block_time", Int, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("dispute_cursor")
    op.drop_index("ix_dispute_objection_changed_block", table_name="dispute_objection")
    op.drop_index("ix_dispute_objection_holder", table_name="dispute_objection")
    op.drop_index("ix_dispute_objection_subject_key", table_name="dispute_objection")
    op.drop_table("dispute_objection")
