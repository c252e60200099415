"""Reads of the objections from the derived table (projection.py), as of the index's block:
one objection, lists, a subject's objections (for their trail), the statements records
carry, and the regulator's SLA view per member. No read asks the chain."""

from typing import Any

from sqlalchemy.engine import Connection, Engine

from node.chain.index import EventIndex
from node.crypto.eip712 import checksum
from node.db import read_connection
from node.disputes import errors
from node.disputes.models import OPEN
from node.members.service import list_members

_SELECT = (
    "SELECT id, subject_key, kind, target, holder, reasons_hash, filed_by, borrower, filed_at, "
    "deadline, batch_id, leaf_index, state, closed_by, closed_at, answer_hash, by_regulator, "
    "statement_hash, block_number, tx_hash FROM dispute_objection"
)
_FILTERS = {"state": "state = ?", "holder": "holder = ?", "subject_key": "subject_key = ?"}


def cursor(conn: Connection) -> tuple[int | None, int | None]:
    """The block the objections stand at, and its time (None, None before the first)."""
    row = conn.exec_driver_sql("SELECT block_number, block_time FROM dispute_cursor").first()
    return (None, None) if row is None else (row[0], row[1])


def _public(r: Any, now: int | None) -> dict[str, Any]:
    kind = r.kind
    answer = None
    if r.state != OPEN:
        answer = {"by": r.closed_by, "at": r.closed_at, "reason_hash": r.answer_hash,
                  "by_regulator": bool(r.by_regulator), "in_time": not r.by_regulator}  # fmt: skip
    return {
        "objection_id": r.id,
        "subject_key": "0x" + bytes(r.subject_key).hex(),
        "kind": kind,
        "target": int(r.target, 16) if kind == "blacklist_entry" else r.target,
        "holder": r.holder,
        "filed_by": r.filed_by,
        "borrower": r.borrower,
        "reasons_hash": r.reasons_hash,
        "filed_at": r.filed_at,
        "deadline": r.deadline,
        "state": r.state,
        "overdue": r.state == OPEN and now is not None and now >= r.deadline,
        "answer": answer,
        "statement_hash": r.statement_hash,
        "anchor": {"batch_id": r.batch_id, "leaf_index": r.leaf_index} if kind == "record"
        else None,
        "block_number": r.block_number,
        "tx_hash": r.tx_hash,
    }  # fmt: skip


def row_of(conn: Connection, objection_id: int) -> Any:
    """The stored row of objection `objection_id`; UnknownObjection if the index has none."""
    row = conn.exec_driver_sql(_SELECT + " WHERE id = ?", (objection_id,)).first()
    if row is None:
        raise errors.UnknownObjection(objection_id)
    return row


def get_or_raise(*, engine: Engine, objection_id: int) -> tuple[dict[str, Any], int | None]:
    """One objection and the block it stands at; UnknownObjection if the index has none."""
    with read_connection(engine) as conn:
        block, now = cursor(conn)
        return _public(row_of(conn, objection_id), now), block


def list_objections(
    *, engine: Engine, state: str | None = None, holder: str | None = None,
    subject_key: bytes | None = None, limit: int = 1000, after: int = 0,
) -> dict[str, Any]:  # fmt: skip
    """Objections in id order (after id `after`, at most `limit`), filtered as given."""
    holder = checksum(holder) if holder is not None else None
    clauses: list[str] = ["id > ?"]
    params: list[Any] = [after]
    for name, value in (("state", state), ("holder", holder), ("subject_key", subject_key)):
        if value is not None:
            clauses.append(_FILTERS[name])
            params.append(value)
    sql = _SELECT + " WHERE " + " AND ".join(clauses) + " ORDER BY id LIMIT ?"
    with read_connection(engine) as conn:
        block, now = cursor(conn)
        rows = conn.exec_driver_sql(sql, (*params, limit)).all()
    return {"as_of_block": block, "block_time": now,
            "objections": [_public(r, now) for r in rows]}  # fmt: skip


def for_subject(engine: Engine, subject_key: str) -> list[dict[str, Any]]:
    """Every objection about the subject, whatever its state (for the borrower's trail)."""
    key = bytes.fromhex(subject_key.removeprefix("0x"))
    return list(list_objections(engine=engine, subject_key=key, limit=10_000)["objections"])


def statements_for(engine: Engine, targets: list[str]) -> dict[str, str]:
    """The borrower's statement each record commitment carries (from an unresolved
    objection), by commitment: shown beside the record wherever it is shown."""
    if not targets:
        return {}
    out: dict[str, str] = {}
    with read_connection(engine) as conn:
        for start in range(0, len(targets), 500):
            chunk = [t.lower() for t in targets[start : start + 500]]
            rows = conn.exec_driver_sql(
                "SELECT target, statement_hash FROM dispute_objection WHERE kind = 'record' "
                f"AND statement_hash IS NOT NULL AND target IN ({', '.join('?' * len(chunk))}) "
                "ORDER BY id",
                tuple(chunk),
            )
            out.update({r[0]: r[1] for r in rows})
    return out


def member_names(index: EventIndex) -> dict[str, str]:
    """Every member's name by address, as far as the index has read."""
    return {m["address"]: m["name"] for m in list_members(index=index).value}


def beside_record(engine: Engine, commitment: str) -> dict[str, Any]:
    """What is shown beside a record: its open objection (None if none) and the borrower's
    statement it carries (None if none), as of the index's block."""
    with read_connection(engine) as conn:
        rows = conn.exec_driver_sql(
            "SELECT id, state, statement_hash FROM dispute_objection WHERE kind = 'record' "
            "AND target = ? ORDER BY id",
            (commitment.lower(),),
        ).all()
    open_ = [r.id for r in rows if r.state == OPEN]
    statements = [r.statement_hash for r in rows if r.statement_hash is not None]
    return {"open_objection": open_[-1] if open_ else None,
            "statement_hash": statements[-1] if statements else None}  # fmt: skip


def _sla_members(conn: Connection, now: int | None, names: dict[str, str]) -> list[dict]:
    rows = conn.exec_driver_sql(
        "SELECT holder, COUNT(*), "
        "SUM(CASE WHEN state = 'open' AND deadline > ? THEN 1 ELSE 0 END), "
        "SUM(CASE WHEN state != 'open' AND NOT by_regulator THEN 1 ELSE 0 END), "
        "SUM(CASE WHEN state = 'open' AND deadline <= ? THEN 1 ELSE 0 END), "
        "SUM(CASE WHEN by_regulator THEN 1 ELSE 0 END) "
        "FROM dispute_objection GROUP BY holder ORDER BY holder",
        (now or 0, now or 0),
    ).all()
    return [
        {"member": holder, "name": names.get(holder), "total": int(total), "open": int(open_),
         "answered_in_time": int(in_time), "overdue": int(late) + int(ruled),
         "overdue_open": int(late), "ruled": int(ruled)}
        for holder, total, open_, in_time, late, ruled in rows
    ]  # fmt: skip


def sla(*, engine: Engine, names: dict[str, str] | None = None) -> dict[str, Any]:
    """Per holding member: objections open, answered in time, and overdue (open past the
    deadline, or left to a regulator's ruling), judged at the index's block time. From the
    chain's events alone: a late answer cannot exist, the contract refuses it."""
    with read_connection(engine) as conn:
        block, now = cursor(conn)
        members = _sla_members(conn, now, names or {})
    return {"as_of_block": block, "block_time": now, "members": members}


def sla_and_overdue(*, engine: Engine, names: dict[str, str] | None = None) -> dict[str, Any]:
    """The SLA per member (as `sla`) and every objection open past its deadline, oldest
    deadline first, both read at the same block."""
    with read_connection(engine) as conn:
        block, now = cursor(conn)
        members = _sla_members(conn, now, names or {})
        rows = [] if now is None else conn.exec_driver_sql(
            _SELECT + " WHERE state = ? AND deadline <= ? ORDER BY deadline, id", (OPEN, now)
        ).all()  # fmt: skip
    return {"as_of_block": block, "block_time": now, "members": members,
            "overdue": [_public(r, now) for r in rows]}  # fmt: skip
