"""records and query log entries found by their leaf: an audit export walks the leaf log

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03 03:00:00.000000

`creditchain audit-export` reads the log batch by batch, leaf id ranges joined to the rows
that hold each leaf's preimage; without these indexes each batch would scan both tables.
"""

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_record_leaf_id", "record", ["leaf_id"], unique=False)
    op.create_index("ix_query_log_leaf_id", "query_log", ["leaf_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_query_log_leaf_id", table_name="query_log")
    op.drop_index("ix_record_leaf_id", table_name="record")
