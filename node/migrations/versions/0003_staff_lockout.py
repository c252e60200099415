"""staff locks per (account, source), counted refusals in the operator log

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 10:00:00.000000

Failed tokens lock an account for the source that sent them only (staff_lockout), so the
account-wide lock goes: accounts it locked are unlocked by this upgrade, since anyone could set
it by naming an account id. The operator log gains `count`, the calls one row stands for; the
column is added in place (ALTER TABLE ADD COLUMN), which keeps its append-only triggers.
"""

import sqlalchemy as sa
from alembic import op
from sqlmodel.sql.sqltypes import AutoString

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("staff_account", schema=None) as batch_op:
        batch_op.drop_column("locked_at")
    op.execute("UPDATE staff_account SET failed_attempts = 0")
    op.add_column(
        "operator_log", sa.Column("count", sa.Integer(), server_default="1", nullable=False)
    )
    op.create_table(
        "staff_lockout",
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("source", AutoString(), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_failure_at", sa.Float(), nullable=False),
        sa.Column("locked_at", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(["account_id"], ["staff_account.id"]),
        sa.PrimaryKeyConstraint("account_id", "source"),
    )


def downgrade() -> None:
    op.drop_table("staff_lockout")
    op.execute("ALTER TABLE operator_log DROP COLUMN count")  # in place: the triggers stay
    with op.batch_alter_table("staff_account", schema=None) as batch_op:
        batch_op.add_column(sa.Column("locked_at", sa.Float(), nullable=True))
