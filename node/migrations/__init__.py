"""The store's schema, migrated with Alembic from the first table on.

A new node creates its tables by running every migration; a node with an older store is
brought up to date the same way at start. Add a revision under versions/ with each change
to node/*/models.py; tests/test_migrations.py checks that the two agree.
"""

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Engine

from node.db import WRITER_LOCK

HERE = Path(__file__).resolve().parent


def upgrade(engine: Engine) -> None:
    """Bring the store at `engine` to the newest schema (a no-op when it is there)."""
    config = Config()
    config.set_main_option("script_location", str(HERE))
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":  # one node migrates at a time, as on SQLite
            conn.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL READ COMMITTED")
            conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({WRITER_LOCK})")
        config.attributes["connection"] = conn
        command.upgrade(config, "head")
