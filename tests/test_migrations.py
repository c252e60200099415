"""The store's schema comes from the migrations, and they agree with the models."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import BigInteger, Integer
from sqlmodel import SQLModel

from node.db import make_engine


def _same_type(context, inspected_column, metadata_column, inspected_type, metadata_type):  # type: ignore[no-untyped-def]
    """Alembic's comparison, but for the integers revision 0011 makes BIGINT on PostgreSQL."""
    if context.dialect.name == "postgresql" and isinstance(inspected_type, BigInteger):
        return not isinstance(metadata_type, Integer)
    return None


def test_migrations_build_exactly_the_schema_the_models_describe(store):
    engine = make_engine(store)
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": _same_type})
        diff = compare_metadata(context, SQLModel.metadata)
    assert diff == []


def test_every_integer_of_a_postgresql_store_is_64_bit(postgresql):
    from tests.postgres_kit import drop_database, fresh_database

    url = fresh_database(postgresql)
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            narrow = (
                conn.exec_driver_sql(
                    "SELECT table_name || '.' || column_name FROM information_schema.columns "
                    "WHERE table_schema = current_schema() AND data_type IN ('integer', 'smallint')"
                )
                .scalars()
                .all()
            )
            big = 2**62
            conn.exec_driver_sql(
                "INSERT INTO leaf (id, kind, commitment, created_at) VALUES (?, 'record', ?, 0)",
                (big, b"c" * 32),
            )
            assert conn.exec_driver_sql("SELECT MAX(id) FROM leaf").scalar_one() == big
    finally:
        engine.dispose()
        drop_database(postgresql, url)
    assert narrow == []


def test_reopening_a_store_keeps_its_rows_and_revision(store):
    engine = make_engine(store)
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO submission (id, created_at, accepted, rejected, results) "
            "VALUES ('sub_x', 1.0, 0, 0, ?)",
            (b"\x00",),
        )
    engine.dispose()
    again = make_engine(store)
    with again.connect() as conn:
        assert conn.exec_driver_sql("SELECT COUNT(*) FROM submission").scalar_one() == 1
        assert conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar_one()
