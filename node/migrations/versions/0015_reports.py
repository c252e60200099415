"""reports: the borrower's reports given, from which each year's free reports are counted

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-03 03:00:00.000000
"""

import sqlalchemy as sa
from alembic import op
from sqlmodel.sql.sqltypes import AutoString

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    big = sa.BigInteger() if op.get_bind().dialect.name == "postgresql" else sa.Integer()
    op.create_table(
        "report_given",
        sa.Column("id", big, nullable=False),
        sa.Column("subject_key", AutoString(), nullable=False),
        sa.Column("gatherer", AutoString(), nullable=False),
        sa.Column("nonce", AutoString(), nullable=False),
        sa.Column("given_at", big, nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("report_given", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_report_given_subject_key"), ["subject_key"], unique=False
        )


def downgrade() -> None:
    op.drop_table("report_given")
