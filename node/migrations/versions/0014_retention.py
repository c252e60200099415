"""retention: each stored record version's schedule, the chain's clock, and settlements

record.settles holds the commitment a settled record settles (ix_record_commitment finds it).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03 03:00:00.000000

The sweeper fills retention_entry from the records already stored at its first step; the
clock is written by the event index at its next range.
"""

import sqlalchemy as sa
from alembic import op
from sqlmodel.sql.sqltypes import AutoString

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def BIG() -> sa.types.TypeEngine:  # noqa: N802  (a column type, as sa.Integer reads)
    """64-bit on PostgreSQL (as revision 0011 made every integer there), INTEGER on SQLite."""
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("record") as batch:
        batch.add_column(sa.Column("settles", sa.LargeBinary(), nullable=True))
    op.create_index("ix_record_commitment", "record", ["commitment"])
    op.create_table(
        "retention_entry",
        sa.Column(
            "record_row", BIG(), sa.ForeignKey("record.id"), primary_key=True, autoincrement=False
        ),
        sa.Column("record_id", AutoString(), nullable=False),
        sa.Column("version", BIG(), nullable=False),
        sa.Column("leaf_id", BIG(), nullable=False),
        sa.Column("commitment", sa.LargeBinary(), nullable=False),
        sa.Column("kind", AutoString(), nullable=False),
        sa.Column("negative", sa.Boolean(), nullable=False),
        sa.Column("ended_on", AutoString(), nullable=True),
        sa.Column("expires_at", BIG(), nullable=True),
        sa.Column("state", AutoString(), nullable=False),
        sa.Column("reason", AutoString(), nullable=True),
        sa.Column("erased_block", BIG(), nullable=True),
        sa.Column("erased_time", BIG(), nullable=True),
        sa.Column("erased_at", sa.Float(), nullable=True),
        sa.Column("mark_requested", sa.Boolean(), nullable=False),
        sa.Column("settles_record", AutoString(), nullable=True),
    )
    op.create_index("ix_retention_entry_record_id", "retention_entry", ["record_id"])
    op.create_index("ix_retention_due", "retention_entry", ["state", "expires_at"])
    op.create_index("ix_retention_entry_settles_record", "retention_entry", ["settles_record"])
    op.create_table(
        "retention_clock",
        sa.Column("id", BIG(), primary_key=True, autoincrement=False),
        sa.Column("block_number", BIG(), nullable=False),
        sa.Column("block_time", BIG(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("retention_clock")
    op.drop_index("ix_retention_entry_settles_record", table_name="retention_entry")
    op.drop_index("ix_retention_due", table_name="retention_entry")
    op.drop_index("ix_retention_entry_record_id", table_name="retention_entry")
    op.drop_table("retention_entry")
    op.drop_index("ix_record_commitment", table_name="record")
    with op.batch_alter_table("record") as batch:
        batch.drop_column("settles")
