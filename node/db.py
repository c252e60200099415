"""The store's engine, made once per process: SQLite in WAL mode."""

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlmodel import create_engine


def make_engine(path: Path) -> Engine:
    """An engine whose connections use WAL, wait on locks and enforce foreign keys."""
    path.parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        f"sqlite:///{path}", connect_args={"check_same_thread": False, "timeout": 30}
    )

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_conn, _record):
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=FULL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    from node.migrations import upgrade

    upgrade(engine)
    return engine


@contextmanager
def write_transaction(engine: Engine) -> Iterator[Connection]:
    """One SQLite write transaction, taken up front (BEGIN IMMEDIATE) so that what it read
    cannot change before it writes; everything in it lands together or not at all."""
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.exec_driver_sql("ROLLBACK")
            raise
        conn.exec_driver_sql("COMMIT")


@contextmanager
def read_connection(engine: Engine) -> Iterator[Connection]:
    """A connection for reads; WAL lets them run beside a writer."""
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        yield conn


@contextmanager
def read_snapshot(engine: Engine) -> Iterator[Connection]:
    """A connection whose reads all see the store as of one moment (one read transaction):
    several reads that must agree, in one checkout of a connection."""
    with read_connection(engine) as conn:
        conn.exec_driver_sql("BEGIN")
        try:
            yield conn
        finally:
            conn.exec_driver_sql("COMMIT")


def driver_rows(conn: Connection, sql: str, params: Sequence[Any] = ()) -> list[Any]:
    """The rows of one read as plain tuples, from the driver's own cursor on `conn` (inside
    its transaction): for the few reads made on every request between nodes, where building
    SQLAlchemy's result object costs more than the read itself."""
    cursor = conn.connection.cursor()
    try:
        cursor.execute(sql, tuple(params))
        return list(cursor.fetchall())
    finally:
        cursor.close()
