"""staff accounts and the append-only operator log

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 10:00:00.000000

The operator log's triggers abort any UPDATE or DELETE of its rows (and, on PostgreSQL, a
TRUNCATE). A later migration that rebuilds the table (batch mode on SQLite copies it) must
create them again.
"""

import sqlalchemy as sa
from alembic import op
from sqlmodel.sql.sqltypes import AutoString

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "staff_account",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", AutoString(), nullable=False),
        sa.Column("role", AutoString(), nullable=False),
        sa.Column("token_hash", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("failed_attempts", sa.Integer(), nullable=False),
        sa.Column("locked_at", sa.Float(), nullable=True),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "operator_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.Float(), nullable=False),
        sa.Column("who", AutoString(), nullable=False),
        sa.Column("role", AutoString(), nullable=True),
        sa.Column("action", AutoString(), nullable=False),
        sa.Column("outcome", AutoString(), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("client", AutoString(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("operator_log", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_operator_log_who"), ["who"], unique=False)
    if op.get_bind().dialect.name == "postgresql":
        _refuse_changes_postgresql()
        return
    for verb in ("UPDATE", "DELETE"):
        op.execute(
            f"CREATE TRIGGER operator_log_no_{verb.lower()} BEFORE {verb} ON operator_log "
            "BEGIN SELECT RAISE(ABORT, 'the operator log is append-only'); END"
        )


def _refuse_changes_postgresql() -> None:
    """The same rule on PostgreSQL: one function that raises, fired before any UPDATE, DELETE
    or TRUNCATE of the table (ALTER TABLE ADD COLUMN keeps triggers there too)."""
    op.execute(
        "CREATE FUNCTION operator_log_append_only() RETURNS trigger LANGUAGE plpgsql AS "
        "$$ BEGIN RAISE EXCEPTION 'the operator log is append-only'; END $$"
    )
    for verb in ("UPDATE", "DELETE", "TRUNCATE"):
        each = "STATEMENT" if verb == "TRUNCATE" else "ROW"
        op.execute(
            f"CREATE TRIGGER operator_log_no_{verb.lower()} BEFORE {verb} ON operator_log "
            f"FOR EACH {each} EXECUTE FUNCTION operator_log_append_only()"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION operator_log_append_only() CASCADE")  # and its triggers
    else:
        op.execute("DROP TRIGGER IF EXISTS operator_log_no_delete")
        op.execute("DROP TRIGGER IF EXISTS operator_log_no_update")
    with op.batch_alter_table("operator_log", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_operator_log_who"))
    op.drop_table("operator_log")
    op.drop_table("staff_account")
