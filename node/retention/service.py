"""Retention's work: schedule each stored record version, erase the due ones, and show the
schedule and the erasures beside the chain's Expired events.

Erasing is one store transaction: the versions' data keys are destroyed (records' `shred`),
the current versions' commitments are queued to be marked Expired on chain (anchoring's
`request_status_change`, which the batcher carries out and retries until it lands), and the
entries say when, by the chain's clock. Key first, in the same transaction as the request for
the chain: a record is never readable past its expiry because the chain is down, and a
crash before the commit leaves everything as it was, after it the batcher sends what is
queued. Nothing accepted is erased early: the clock is the chain's, which only moves forward.
"""

import time
from typing import Any

from sqlalchemy.engine import Connection, Engine

from node.anchoring import expiries
from node.anchoring import service as anchoring
from node.chain.index import EventIndex
from node.config import Settings
from node.crypto.hexutil import to_hex
from node.db import read_connection, write_transaction
from node.errors import DomainError
from node.records import erasure as records
from node.retention.clock import chain_now
from node.retention.models import ERASED, OPEN, SCHEDULED
from node.retention.policy import NEGATIVE, OPEN_UNTIL_SETTLED, Policy, schedule

SCHEDULE_STEP = 5_000  # versions scheduled per transaction
ERASE_STEP = 200  # versions erased per transaction
_PUBLIC = (
    "record_row, record_id, version, commitment, kind, negative, ended_on, expires_at, state, "
    "reason, erased_block, erased_time, mark_requested"
)


class RetentionError(DomainError):
    """A refusal of the retention domain."""


class UnknownState(RetentionError):
    code, status, field = "invalid_state", 422, "state"

    def __init__(self, state: str) -> None:
        super().__init__(state, detail=f"state must be one of {OPEN}, {SCHEDULED}, {ERASED}")


def retention_policy(settings: Settings) -> Policy:
    return Policy(settings.retention_negative_years, settings.retention_other_years)


def schedule_new(*, engine: Engine, policy: Policy, limit: int = SCHEDULE_STEP) -> int:
    """Make the entries of versions stored since the last call; how many were made. A
    settlement of a default or write-off schedules the record it settles (policy.py)."""
    with write_transaction(engine) as conn:
        last = conn.exec_driver_sql(
            "SELECT COALESCE(MAX(record_row), 0) FROM retention_entry"
        ).scalar_one()
        versions = records.versions_after(conn, last, limit)
        for v in versions:
            target = records.record_of(conn, v.settles) if v.settles else None
            settled_on = _settled_on(conn, v.record_id) if v.kind in OPEN_UNTIL_SETTLED else None
            s = schedule(policy, kind=v.kind, event_date=v.event_date,
                         settles_negative=target is not None and target[1] in NEGATIVE,
                         settled_on=settled_on)  # fmt: skip
            conn.exec_driver_sql(
                "INSERT INTO retention_entry (record_row, record_id, version, leaf_id, "
                "commitment, kind, negative, ended_on, expires_at, state, mark_requested, "
                "settles_record) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, FALSE, ?)",
                (v.row_id, v.record_id, v.version, v.leaf_id, v.commitment, v.kind, s.negative,
                 s.ended_on, s.expires_at, SCHEDULED if s.expires_at is not None else OPEN,
                 target[0] if target else None),
            )  # fmt: skip
            if target is not None and target[1] in OPEN_UNTIL_SETTLED:
                _settle(conn, policy, target[0])
    return len(versions)


def _settled_on(conn: Connection, record_id: str) -> str | None:
    """The day the first settlement of `record_id` took effect, if it was settled."""
    return conn.exec_driver_sql(
        "SELECT MIN(ended_on) FROM retention_entry WHERE settles_record = ?", (record_id,)
    ).scalar()


def _settle(conn: Connection, policy: Policy, record_id: str) -> None:
    """A default or write-off was settled: its versions not erased are scheduled from then."""
    settled_on = _settled_on(conn, record_id)
    rows = conn.exec_driver_sql(
        "SELECT record_row, kind, ended_on FROM retention_entry WHERE record_id = ? AND state != ?",
        (record_id, ERASED),
    ).all()
    for row, kind, _ in rows:
        if kind not in OPEN_UNTIL_SETTLED:
            continue
        event_date = records.event_date_of(conn, row)
        s = schedule(policy, kind=kind, event_date=event_date, settled_on=settled_on)
        conn.exec_driver_sql(
            "UPDATE retention_entry SET ended_on = ?, expires_at = ?, state = ? "
            "WHERE record_row = ?",
            (s.ended_on, s.expires_at, SCHEDULED, row),
        )


def _due(conn: Connection, now: int, limit: int) -> list[Any]:
    return list(
        conn.exec_driver_sql(
            "SELECT record_row, leaf_id FROM retention_entry WHERE state = ? AND expires_at <= ? "
            "ORDER BY expires_at, record_row LIMIT ?",
            (SCHEDULED, now, limit),
        ).all()
    )


def erase(
    conn: Connection, *, rows: list[tuple[int, int]], reason: str, status: str | None,
    block: int | None, block_time: int | None,
) -> None:  # fmt: skip
    """Inside the caller's write transaction: destroy the data keys of `rows` (record row,
    leaf), queue the current versions' commitments to be marked `status` on chain (None:
    nothing to mark) and write down when."""
    row_ids = [r for r, _ in rows]
    current = records.current_rows(conn, row_ids)
    records.shred(conn, row_ids)
    to_mark = [leaf for row, leaf in rows if row in current] if status else []
    if to_mark and status:
        anchoring.request_status_change(conn, status=status, leaves=to_mark, now=time.time())
    conn.exec_driver_sql(
        "UPDATE retention_entry SET state = ?, reason = ?, erased_block = ?, erased_time = ?, "
        "erased_at = ?, mark_requested = ? WHERE record_row = ?",
        [(ERASED, reason, block, block_time, time.time(), row in current and status is not None,
          row) for row in row_ids],
    )  # fmt: skip


def erase_due(*, engine: Engine, limit: int = ERASE_STEP) -> int:
    """Erase the versions whose expiry the chain's time has reached; how many."""
    with write_transaction(engine) as conn:
        now = chain_now(conn)
        if now is None:
            return 0
        due = [(r[0], r[1]) for r in _due(conn, now[1], limit)]
        if due:
            erase(conn, rows=due, reason="expired", status="expired", block=now[0],
                  block_time=now[1])  # fmt: skip
    return len(due)


def scrub(engine: Engine) -> bool:
    """Leave no old copy of an erased row in the store's files: on SQLite, checkpoint the
    WAL into the database and truncate it (freed bytes are already zeroed: secure_delete);
    False if a reader kept it from completing (try again). PostgreSQL: see the README."""
    if engine.dialect.name != "sqlite":
        return True
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        busy, _, _ = conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)").one()
    return busy == 0


def clock(*, engine: Engine) -> dict[str, int] | None:
    with read_connection(engine) as conn:
        now = chain_now(conn)
    return {"block": now[0], "time": now[1]} if now else None


def _public(row: Any) -> dict[str, Any]:
    out = dict(row._mapping)
    out["commitment"] = to_hex(out["commitment"])
    out["negative"] = bool(out["negative"])
    out["mark_requested"] = bool(out["mark_requested"])
    return out


def list_schedule(
    *, engine: Engine, state: str | None = None, due_by: int | None = None,
    after_row: int = 0, limit: int = 100,
) -> dict[str, Any]:  # fmt: skip
    """Entries in the order they expire (open ones last), filtered by state and by expiry
    (`due_by`, unix seconds), a page after `after_row`; with the chain's clock."""
    if state is not None and state not in (OPEN, SCHEDULED, ERASED):
        raise UnknownState(state)
    sql = f"SELECT {_PUBLIC} FROM retention_entry WHERE record_row > ?"
    params: list[Any] = [after_row]
    if state is not None:
        sql += " AND state = ?"
        params.append(state)
    if due_by is not None:
        sql += " AND expires_at <= ?"
        params.append(due_by)
    sql += " ORDER BY record_row LIMIT ?"
    params.append(limit)
    with read_connection(engine) as conn:
        rows = conn.exec_driver_sql(sql, tuple(params)).all()
        now = chain_now(conn)
        counts: dict[str, int] = dict(
            conn.exec_driver_sql("SELECT state, COUNT(*) FROM retention_entry GROUP BY state").all()
        )
    entries = [_public(r) for r in rows]
    return {
        "as_of_block": now[0] if now else None,
        "chain_time": now[1] if now else None,
        "counts": {s: int(counts.get(s, 0)) for s in (OPEN, SCHEDULED, ERASED)},
        "entries": entries,
        "next_after_row": entries[-1]["record_row"] if entries else None,
    }


def entries_of(*, engine: Engine, record_id: str) -> list[dict[str, Any]]:
    """The entries of every stored version of `record_id`."""
    with read_connection(engine) as conn:
        rows = conn.exec_driver_sql(
            f"SELECT {_PUBLIC} FROM retention_entry WHERE record_id = ? ORDER BY record_row",
            (record_id,),
        ).all()
    return [_public(r) for r in rows]


def erasures(
    *, engine: Engine, index: EventIndex, after_row: int = 0, limit: int = 100
) -> dict[str, Any]:
    """Erased versions with the chain's word on each: the event that gave its commitment a
    final status (from the event index: RecordStatusChanged, or LeavesExpired setting its
    leaf's bit in the batch's expiry bitmap), its block time, and whether both the erasure
    and that event came at or after the scheduled expiry (`on_schedule`)."""
    page = list_schedule(engine=engine, state=ERASED, after_row=after_row, limit=limit)
    rows = [e["record_row"] for e in page["entries"]]
    with read_connection(engine) as conn:
        leaf_of: dict[int, int] = (
            dict(
                conn.exec_driver_sql(
                    "SELECT record_row, leaf_id FROM retention_entry WHERE record_row IN "
                    f"({','.join('?' * len(rows))})",
                    tuple(rows),
                ).all()
            )
            if rows
            else {}
        )
        places = expiries.places_of(conn, list(leaf_of.values()))
    for e in page["entries"]:
        e["chain"] = _chain_mark(index, e["commitment"], places.get(leaf_of[e["record_row"]]))
        marked = e["chain"] is not None and e["chain"]["status"] == "expired"
        chain_ok = not marked or e["chain"]["time"] >= (e["expires_at"] or 0)
        e["on_schedule"] = (
            e["expires_at"] is not None and (e["erased_time"] or 0) >= e["expires_at"] and chain_ok
            if e["reason"] == "expired"
            else None
        )
    return page


def _chain_mark(
    index: EventIndex, commitment: str, place: expiries.Place | None
) -> dict[str, Any] | None:
    """The event that gave `commitment` its final status on chain (Superseded, Revoked,
    Expired), its leaf's expiry bit folded in as the registry's statusAt folds it."""
    status, event = expiries.status_from_index(index, commitment, place)
    return expiries.chain_mark(event, status)
