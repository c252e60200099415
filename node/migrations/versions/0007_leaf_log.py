"""anchoring owns its log: leaves, batches of leaves, status changes

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27 09:00:00.000000

Every record row becomes the leaf of the same id (batches were ranges of record rows, so they
keep their ranges, now of leaf ids), each record keeps its leaf id, and each supersession
becomes a status change of the old version's leaf, done or pending as it was; a record's
chain status is no longer stored with it but read from its leaf's done changes.
"""

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlmodel.sql.sqltypes import AutoString

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

# Rebuilding the record table copies it; its indexes (one partial) are made again after.
_RECORD_INDEXES: tuple[tuple[str, list[str], dict[str, Any]], ...] = (
    ("ix_record_version", ["record_id", "version"], {}),
    (
        "ix_record_current",
        ["record_id"],
        {"sqlite_where": sa.text("is_current = 1"), "postgresql_where": sa.text("is_current")},
    ),
)


def _drop_record_indexes() -> None:
    for name, _, _ in _RECORD_INDEXES:
        op.drop_index(name, table_name="record")


def _create_record_indexes() -> None:
    for name, columns, options in _RECORD_INDEXES:
        op.create_index(name, "record", columns, unique=True, **options)


def upgrade() -> None:
    op.create_table(
        "leaf",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", AutoString(), nullable=False),
        sa.Column("commitment", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.execute(
        "INSERT INTO leaf (id, kind, commitment, created_at) "
        "SELECT id, 'record', commitment, created_at FROM record ORDER BY id"
    )
    op.execute("ALTER TABLE batch RENAME COLUMN first_row TO first_leaf")
    op.execute("ALTER TABLE batch RENAME COLUMN last_row TO last_leaf")

    op.create_table(
        "status_change",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("leaf_id", sa.Integer(), nullable=False),
        sa.Column("status", AutoString(), nullable=False),
        sa.Column("replacement", sa.Integer(), nullable=True),
        sa.Column("state", AutoString(), nullable=False),
        sa.Column("tx_hash", AutoString(), nullable=True),
        sa.Column("block_number", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(["leaf_id"], ["leaf.id"]),
        sa.ForeignKeyConstraint(["replacement"], ["leaf.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("status_change", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_status_change_leaf_id"), ["leaf_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_status_change_state"), ["state"], unique=False)
    op.execute(
        "INSERT INTO status_change (id, leaf_id, status, replacement, state, tx_hash, "
        "block_number, created_at) SELECT s.id, s.old_row, 'superseded', s.new_row, s.state, "
        "s.tx_hash, s.block_number, n.created_at FROM supersession s "
        "JOIN record n ON n.id = s.new_row ORDER BY s.id"
    )
    with op.batch_alter_table("supersession", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_supersession_state"))
        batch_op.drop_index(batch_op.f("ix_supersession_old_row"))
    op.drop_table("supersession")

    op.add_column("record", sa.Column("leaf_id", sa.Integer(), nullable=True))
    op.execute("UPDATE record SET leaf_id = id")
    _drop_record_indexes()
    with op.batch_alter_table("record", schema=None, recreate="always") as batch_op:
        batch_op.alter_column("leaf_id", existing_type=sa.Integer(), nullable=False)
        batch_op.create_foreign_key("fk_record_leaf_id_leaf", "leaf", ["leaf_id"], ["id"])
        batch_op.drop_column("chain_status")
    _create_record_indexes()


def downgrade() -> None:
    """Back to record rows as leaves; only a log of records alone, in record row order."""
    conn = op.get_bind()
    strays = conn.exec_driver_sql(
        "SELECT COUNT(*) FROM leaf l LEFT JOIN record r ON r.leaf_id = l.id "
        "WHERE l.kind != 'record' OR r.id IS NULL OR r.id != l.id"
    ).scalar_one()
    if strays:
        raise RuntimeError(f"{strays} leaves are not record rows of the same id; cannot go back")
    op.add_column("record", sa.Column("chain_status", AutoString(), nullable=True))
    op.execute(
        "UPDATE record SET chain_status = COALESCE((SELECT c.status FROM status_change c "
        "WHERE c.leaf_id = record.leaf_id AND c.state = 'done' ORDER BY c.id DESC LIMIT 1), "
        "'active')"
    )
    _drop_record_indexes()
    with op.batch_alter_table("record", schema=None, recreate="always") as batch_op:
        batch_op.alter_column("chain_status", existing_type=AutoString(), nullable=False)
        batch_op.drop_constraint("fk_record_leaf_id_leaf", type_="foreignkey")
        batch_op.drop_column("leaf_id")
    _create_record_indexes()

    op.create_table(
        "supersession",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("old_row", sa.Integer(), nullable=False),
        sa.Column("new_row", sa.Integer(), nullable=False),
        sa.Column("state", AutoString(), nullable=False),
        sa.Column("tx_hash", AutoString(), nullable=True),
        sa.Column("block_number", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["new_row"], ["record.id"]),
        sa.ForeignKeyConstraint(["old_row"], ["record.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("supersession", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_supersession_old_row"), ["old_row"], unique=False)
        batch_op.create_index(batch_op.f("ix_supersession_state"), ["state"], unique=False)
    op.execute(
        "INSERT INTO supersession (id, old_row, new_row, state, tx_hash, block_number) "
        "SELECT id, leaf_id, replacement, state, tx_hash, block_number FROM status_change "
        "WHERE status = 'superseded' AND state != 'refused'"
    )
    with op.batch_alter_table("status_change", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_status_change_state"))
        batch_op.drop_index(batch_op.f("ix_status_change_leaf_id"))
    op.drop_table("status_change")
    op.execute("ALTER TABLE batch RENAME COLUMN last_leaf TO last_row")
    op.execute("ALTER TABLE batch RENAME COLUMN first_leaf TO first_row")
    op.drop_table("leaf")
