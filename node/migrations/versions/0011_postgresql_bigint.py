"""on PostgreSQL, every integer column 64-bit, as SQLite's are

Revision ID: 0011
Revises: 0008b
Create Date: 2026-12-02 23:00:00.000000

SQLite stores every INTEGER in up to 8 bytes; PostgreSQL's INTEGER is 4, which a node's leaf
and record ids, microsecond times or chain values would outgrow. This revision makes each
integer column of the store BIGINT (and each id sequence), on PostgreSQL only: on SQLite it
changes nothing. Later revisions on PostgreSQL add BIGINT columns themselves.
"""

from alembic import op

revision = "0011"
down_revision = "0008b"
branch_labels = None
depends_on = None


def upgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name != "postgresql":
        return
    columns = conn.exec_driver_sql(
        "SELECT table_name, column_name FROM information_schema.columns "
        "WHERE table_schema = current_schema() AND data_type = 'integer' "
        "ORDER BY table_name, ordinal_position"
    ).all()
    for table, column in columns:
        op.execute(f'ALTER TABLE "{table}" ALTER COLUMN "{column}" TYPE BIGINT')
    sequences = conn.exec_driver_sql(
        "SELECT sequence_name FROM information_schema.sequences "
        "WHERE sequence_schema = current_schema() AND data_type = 'integer'"
    ).scalars()
    for sequence in sequences.all():
        op.execute(f'ALTER SEQUENCE "{sequence}" AS BIGINT')


def downgrade() -> None:
    pass  # BIGINT holds every value INTEGER did; nothing to take back
