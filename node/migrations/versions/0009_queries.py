"""the query log; records found by subject

Revision ID: 0008q
Revises: 0008c
Create Date: 2026-11-24 06:30:00.000000

Each query this node makes or answers is a row of `query_log`, anchored as a leaf of kind
"query". A member answering a query reads a subject's current records, so `record` gains an
index on its subject key.
"""

import sqlalchemy as sa
from alembic import op
from sqlmodel.sql.sqltypes import AutoString

revision = "0008q"
down_revision = "0008c"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "query_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("query_id", AutoString(), nullable=False),
        sa.Column("side", AutoString(), nullable=False),
        sa.Column("subject_key", AutoString(), nullable=False),
        sa.Column("consent_id", AutoString(), nullable=False),
        sa.Column("purpose", AutoString(), nullable=False),
        sa.Column("requester", AutoString(), nullable=False),
        sa.Column("holder", AutoString(), nullable=False),
        sa.Column("at", sa.Integer(), nullable=False),
        sa.Column("salt", sa.LargeBinary(), nullable=False),
        sa.Column("entry", sa.LargeBinary(), nullable=False),
        sa.Column("leaf_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["leaf_id"], ["leaf.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_query_log_query_id", "query_log", ["query_id"], unique=False)
    op.create_index("ix_query_log_subject", "query_log", ["subject_key", "at"], unique=False)
    op.create_index("ix_record_subject", "record", ["subject_key"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_record_subject", table_name="record")
    op.drop_index("ix_query_log_subject", table_name="query_log")
    op.drop_index("ix_query_log_query_id", table_name="query_log")
    op.drop_table("query_log")
