"""the record an operator log entry names; this store's token tag

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 10:00:00.000000

The operator log gains `target`, the record, submission, account or proposal a call named; the
column is added in place (ALTER TABLE ADD COLUMN), which keeps its append-only triggers. The
store gets its token tag, random, which tokens made from now on carry; tokens made before
have none and keep working.
"""

import secrets

import sqlalchemy as sa
from alembic import op
from sqlmodel.sql.sqltypes import AutoString

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def _tag() -> str:
    while True:  # a letter in it, so that no tag reads as an account id
        tag = secrets.token_hex(4)
        if not tag.isdigit():
            return tag


def upgrade() -> None:
    op.add_column("operator_log", sa.Column("target", AutoString(), nullable=True))
    op.create_table(
        "staff_node_tag",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tag", AutoString(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.execute(f"INSERT INTO staff_node_tag (id, tag) VALUES (1, '{_tag()}')")


def downgrade() -> None:
    op.drop_table("staff_node_tag")
    op.execute("ALTER TABLE operator_log DROP COLUMN target")  # in place: the triggers stay
