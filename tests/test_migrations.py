"""The store's schema comes from the migrations, and they agree with the models."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel

from node.db import make_engine


def test_migrations_build_exactly_the_schema_the_models_describe(store):
    engine = make_engine(store)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
    assert diff == []


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
