"""the event index: chain events and the blocks read

Revision ID: 0005
Create Date: 2026-11-25 09:00:00.000000

Only the tables are made here; the index fills them by reading the chain from block 0.
"""

import sqlalchemy as sa
from alembic import op
from sqlmodel.sql.sqltypes import AutoString

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "chain_event",
        sa.Column("block_number", sa.Integer(), nullable=False),
        sa.Column("log_index", sa.Integer(), nullable=False),
        sa.Column("block_hash", AutoString(), nullable=False),
        sa.Column("block_time", sa.Integer(), nullable=False),
        sa.Column("tx_hash", AutoString(), nullable=False),
        sa.Column("contract", AutoString(), nullable=False),
        sa.Column("address", AutoString(), nullable=False),
        sa.Column("event", AutoString(), nullable=False),
        sa.Column("topic1", AutoString(), nullable=True),
        sa.Column("topic2", AutoString(), nullable=True),
        sa.Column("topic3", AutoString(), nullable=True),
        sa.Column("args", AutoString(), nullable=False),
        sa.PrimaryKeyConstraint("block_number", "log_index"),
    )
    with op.batch_alter_table("chain_event", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_chain_event_contract"), ["contract"], unique=False)
        batch_op.create_index(batch_op.f("ix_chain_event_topic1"), ["topic1"], unique=False)
    op.create_table(
        "chain_block",
        sa.Column("number", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("hash", AutoString(), nullable=False),
        sa.PrimaryKeyConstraint("number"),
    )


def downgrade() -> None:
    op.drop_table("chain_block")
    with op.batch_alter_table("chain_event", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_chain_event_topic1"))
        batch_op.drop_index(batch_op.f("ix_chain_event_contract"))
    op.drop_table("chain_event")
