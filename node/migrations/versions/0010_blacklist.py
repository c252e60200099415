"""blacklist: the entries derived from the Blacklist contract's events

Revision ID: 0008b
Revises: 0007
Create Date: 2026-11-24 06:30:00.000000

The table is derived: with no cursor row the projection rebuilds it from chain_event on the
index's next write, so a store indexed before this revision fills it then.
"""

import sqlalchemy as sa
from alembic import op
from sqlmodel.sql.sqltypes import AutoString

revision = "0008b"
down_revision = "0008q"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "blacklist_entry",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("subject_key", sa.LargeBinary(), nullable=False),
        sa.Column("member", AutoString(), nullable=False),
        sa.Column("reason", AutoString(), nullable=False),
        sa.Column("evidence", AutoString(), nullable=False),
        sa.Column("listed_at", sa.Integer(), nullable=False),
        sa.Column("expires_at", sa.Integer(), nullable=False),
        sa.Column("notice_id", sa.Integer(), nullable=False),
        sa.Column("status", AutoString(), nullable=False),
        sa.Column("disputed", sa.Boolean(), nullable=False),
        sa.Column("ended_by", AutoString(), nullable=True),
        sa.Column("end_reason", AutoString(), nullable=True),
        sa.Column("block_number", sa.Integer(), nullable=False),
        sa.Column("changed_block", sa.Integer(), nullable=False),
    )
    op.create_index("ix_blacklist_entry_subject_key", "blacklist_entry", ["subject_key"])
    op.create_index("ix_blacklist_entry_changed_block", "blacklist_entry", ["changed_block"])
    op.create_index("ix_blacklist_entry_due", "blacklist_entry", ["status", "expires_at"])
    op.create_table(
        "blacklist_cursor",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("block_number", sa.Integer(), nullable=False),
        sa.Column("block_time", sa.Integer(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("blacklist_cursor")
    op.drop_index("ix_blacklist_entry_due", table_name="blacklist_entry")
    op.drop_index("ix_blacklist_entry_changed_block", table_name="blacklist_entry")
    op.drop_index("ix_blacklist_entry_subject_key", table_name="blacklist_entry")
    op.drop_table("blacklist_entry")
