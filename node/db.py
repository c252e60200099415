"""The store's engine, made once per process: SQLite in WAL mode (the default, DATA/node.db),
or PostgreSQL (`--store postgresql://...`), migrated alike by Alembic.

The node's SQL is written once, with SQLite's `?` placeholders, in the syntax both databases
share (ON CONFLICT, RETURNING, TRUE/FALSE). On PostgreSQL the placeholders are turned into
psycopg's `%s` as each statement is sent, and writers take one lock, as SQLite's writers do:
a write transaction reads what it will change, so two of them never run at once on either."""

import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import OperationalError
from sqlmodel import create_engine

# pg_advisory_xact_lock key of the store's one writer ("cc" "wr": creditchain write)
WRITER_LOCK = 0x6363_7772


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


def is_postgresql(url: str) -> bool:
    return make_url(url).get_backend_name() == "postgresql"


def safe_url(url: str) -> str:
    """The store's URL as it may be printed: without its password."""
    return make_url(url).render_as_string(hide_password=True)


class StoreError(Exception):
    """The store cannot be used; the message is one line for the operator, with no password."""


def _unreachable(url: str, err: OperationalError) -> StoreError:
    why = " ".join(str(err.orig or err).split())
    return StoreError(f"cannot reach the store at {safe_url(url)}: {why}")


def check_store(url: str) -> None:
    """Connect once to the store at `url`; StoreError saying why not."""
    if not is_postgresql(url):
        return
    engine = _postgresql_engine(url)
    try:
        with engine.connect():
            pass
    except OperationalError as err:
        raise _unreachable(url, err) from None
    finally:
        engine.dispose()


def make_engine(store: Path | str) -> Engine:
    """The store's engine, its schema brought to the newest migration. `store` is the SQLite
    file's path, or a database URL: sqlite:///FILE or postgresql://USER:PASSWORD@HOST/DB."""
    url = sqlite_url(store) if isinstance(store, Path) else store
    postgresql = is_postgresql(url)
    engine = _postgresql_engine(url) if postgresql else _sqlite_engine(url)
    from node.migrations import upgrade

    try:
        upgrade(engine)
    except OperationalError as err:
        engine.dispose()
        if postgresql:  # a server down or a wrong password: one line for the operator
            raise _unreachable(url, err) from None
        raise
    return engine


def _sqlite_engine(url: str) -> Engine:
    """Connections that use WAL, wait on locks, enforce foreign keys and zero freed bytes."""
    database = make_url(url).database
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_conn, _record):
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=FULL")
        cur.execute("PRAGMA foreign_keys=ON")
        # freed bytes are overwritten with zeros, so an erased record's destroyed data key
        # leaves no copy in the file's free space (node/retention/)
        cur.execute("PRAGMA secure_delete=ON")
        cur.close()

    return engine


def _postgresql_engine(url: str) -> Engine:
    """psycopg 3 connections; a plain BEGIN reads one snapshot (REPEATABLE READ), as a read
    transaction does on SQLite."""
    engine = create_engine(
        make_url(url).set(drivername="postgresql+psycopg"),
        pool_pre_ping=True,
        connect_args={"options": "-c default_transaction_isolation=repeatable\\ read"},
    )

    @event.listens_for(engine, "before_cursor_execute", retval=True)
    def _placeholders(conn, cursor, statement, parameters, context, executemany):
        if context is not None and context.compiled is None:  # exec_driver_sql: our SQL
            statement = pyformat(statement)
        return statement, parameters

    return engine


_QUOTED_OR_MARK = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|\?|%")


def pyformat(sql: str) -> str:
    """`sql` with each `?` placeholder outside quotes as `%s`, and each `%` doubled."""

    def swap(m: re.Match[str]) -> str:
        token = m.group(0)
        if token == "?":
            return "%s"
        return token.replace("%", "%%")

    return _QUOTED_OR_MARK.sub(swap, sql)


# a true flag as SQL, in the form each store's partial indexes are written with (SQLite's
# planner uses ix_record_current only for `is_current = 1`; PostgreSQL's booleans are no ints)
TRUE = {"sqlite": "1", "postgresql": "TRUE"}


def json_values(conn: Connection) -> str:
    """A subquery of the strings in one JSON array parameter, in this store's dialect."""
    if conn.dialect.name == "postgresql":
        return "SELECT json_array_elements_text(CAST(? AS json))"
    return "SELECT value FROM json_each(?)"


@contextmanager
def write_transaction(engine: Engine) -> Iterator[Connection]:
    """One write transaction, taken up front (BEGIN IMMEDIATE on SQLite, the writer lock on
    PostgreSQL) so that what it read cannot change before it writes; everything in it lands
    together or not at all."""
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql("BEGIN ISOLATION LEVEL READ COMMITTED")
            conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({WRITER_LOCK})")
        else:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.exec_driver_sql("ROLLBACK")
            raise
        conn.exec_driver_sql("COMMIT")


@contextmanager
def read_connection(engine: Engine) -> Iterator[Connection]:
    """A connection for reads; WAL (or PostgreSQL's MVCC) lets them run beside a writer."""
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
    SQLAlchemy's result object costs more than the read itself. (The driver's cursor is past
    SQLAlchemy's events, so the placeholders are turned into psycopg's here.)"""
    if conn.dialect.name == "postgresql":
        sql = pyformat(sql)
    cursor = conn.connection.cursor()
    try:
        cursor.execute(sql, tuple(params))
        return list(cursor.fetchall())
    finally:
        cursor.close()
