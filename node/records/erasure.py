"""What another domain may ask of the records tables to erase records: the stored versions
in the order they were stored, which of them are current, and the destruction of a
version's data key (crypto-shredding).

Erasing destroys the wrapped data key and the ciphertext and keeps the row's clear columns
(record_id, version, subject_key, kind, event_date, commitment, leaf_id): the commitment
stays on chain and the row says the record was there and is gone, never what it held."""

from collections.abc import Sequence
from typing import Any, NamedTuple

from sqlalchemy.engine import Connection

from node.db import TRUE


class StoredVersion(NamedTuple):
    """One stored version, with the clear columns a retention schedule is made from."""

    row_id: int
    record_id: str
    version: int
    leaf_id: int
    kind: str
    event_date: str
    commitment: bytes
    settles: bytes | None  # a settled record: the commitment it settles


def versions_after(conn: Connection, after_row: int, limit: int) -> list[StoredVersion]:
    """Stored versions with a row id above `after_row`, oldest first. Row ids are given in
    the one write transaction that stores a submission, so they only ever grow."""
    rows = conn.exec_driver_sql(
        "SELECT id, record_id, version, leaf_id, kind, event_date, commitment, settles "
        "FROM record "
        "WHERE id > ? ORDER BY id LIMIT ?",
        (after_row, limit),
    ).all()
    return [StoredVersion(*r) for r in rows]


def record_of(conn: Connection, commitment: bytes) -> tuple[str, str] | None:
    """(record_id, kind) of the stored version with `commitment`; None if there is none."""
    row = conn.exec_driver_sql(
        "SELECT record_id, kind FROM record WHERE commitment = ?", (commitment,)
    ).first()
    return (row[0], row[1]) if row else None


class Version(NamedTuple):
    row_id: int
    leaf_id: int
    commitment: bytes
    erased: bool


_VERSION = "SELECT id, leaf_id, commitment, wrapped_key IS NULL FROM record WHERE record_id = ? "


def current_of(conn: Connection, record_id: str) -> Version | None:
    """The current version of `record_id`; None if there is none."""
    row = conn.exec_driver_sql(
        _VERSION + f"AND is_current = {TRUE[conn.dialect.name]}", (record_id,)
    ).first()
    return Version(row[0], row[1], row[2], bool(row[3])) if row else None


def versions_of(conn: Connection, record_id: str) -> list[Version]:
    """Every stored version of `record_id`, oldest first."""
    rows = conn.exec_driver_sql(_VERSION + "ORDER BY version", (record_id,)).all()
    return [Version(r[0], r[1], r[2], bool(r[3])) for r in rows]


def event_date_of(conn: Connection, row_id: int) -> str:
    """The event_date of stored version `row_id`."""
    return conn.exec_driver_sql(
        "SELECT event_date FROM record WHERE id = ?", (row_id,)
    ).scalar_one()


def current_rows(conn: Connection, row_ids: Sequence[int]) -> set[int]:
    """Which of `row_ids` are their record's current version."""
    if not row_ids:
        return set()
    marks = ", ".join("?" * len(row_ids))
    rows = conn.exec_driver_sql(
        f"SELECT id FROM record WHERE is_current = {TRUE[conn.dialect.name]} AND id IN ({marks})",
        tuple(row_ids),
    ).all()
    return {r[0] for r in rows}


def shred(conn: Connection, row_ids: Sequence[int]) -> None:
    """Destroy the data keys (and ciphertexts) of `row_ids` inside the caller's write
    transaction. On SQLite the store overwrites the freed bytes (secure_delete, node/db.py);
    the caller checkpoints the WAL after the commit (node/retention/scrub.py)."""
    if row_ids:
        marks = ", ".join("?" * len(row_ids))
        conn.exec_driver_sql(
            f"UPDATE record SET wrapped_key = NULL, ciphertext = NULL WHERE id IN ({marks})",
            tuple(row_ids),
        )


def is_erased(row: Any) -> bool:
    """A stored row (with wrapped_key) whose data key is gone."""
    return row.wrapped_key is None
