"""The objections' derived table, kept in step with the event index.

The index calls DISPUTES_PROJECTION inside its own write transaction after every range it
commits and every reorg or rewind it unwinds, so the objections always stand at the index's
block, and say so (dispute_cursor holds that block and its time, against which deadlines
are judged). On an unwind the objections any dropped event touched are derived again from
the events the index still holds; with no cursor row (a store indexed before this table
existed) the whole table is derived from chain_event once.
"""

from sqlalchemy.engine import Connection

from node.chain.events import COLUMNS, Event, event_from_row
from node.chain.index import Tip
from node.disputes.models import KINDS, OPEN, STATES

CONTRACT = "Disputes"
_COLUMNS = (
    "subject_key, kind, target, holder, reasons_hash, filed_by, borrower, filed_at, deadline, "
    "batch_id, leaf_index, state, by_regulator, block_number, tx_hash, changed_block"
)
_INSERT = (
    f"INSERT INTO dispute_objection (id, {_COLUMNS}) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, FALSE, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in _COLUMNS.split(", "))
)


def _fold(conn: Connection, events: list[Event]) -> None:
    """Write what each Disputes event says of its objection, in chain order."""
    for e in events:
        if e.contract != CONTRACT:
            continue
        a = e.args
        if e.event == "ObjectionFiled":
            borrower = None if int(a["borrower"], 16) == 0 else a["borrower"]
            conn.exec_driver_sql(_INSERT, (
                a["id"], bytes.fromhex(a["subjectKey"][2:]), KINDS[a["kind"]], a["target"],
                a["holder"], a["reasonsHash"], a["filedBy"], borrower, a["filedAt"],
                a["deadline"], a["batchId"], a["leafIndex"], OPEN, e.block_number, e.tx_hash,
                e.block_number,
            ))  # fmt: skip
        elif e.event in ("ObjectionAnswered", "ObjectionRuled"):
            ruled = e.event == "ObjectionRuled"
            conn.exec_driver_sql(
                "UPDATE dispute_objection SET state = ?, closed_by = ?, closed_at = ?, "
                "answer_hash = ?, by_regulator = ?, changed_block = ? WHERE id = ?",
                (STATES[a["state"]], a["regulator"] if ruled else a["holder"],
                 a["ruledAt"] if ruled else a["answeredAt"], a["reasonHash"], ruled,
                 e.block_number, a["id"]),
            )  # fmt: skip
        elif e.event == "StatementAttached":
            conn.exec_driver_sql(
                "UPDATE dispute_objection SET statement_hash = ?, changed_block = ? WHERE id = ?",
                (a["statementHash"], e.block_number, a["id"]),
            )


def _indexed(conn: Connection, ids: list[int] | None) -> list[Event]:
    """The index's Disputes events (of objections `ids` only, if given), in chain order."""
    sql = f"SELECT {COLUMNS} FROM chain_event WHERE contract = ?"
    params: list[object] = [CONTRACT]
    if ids is not None:
        sql += f" AND topic1 IN ({', '.join('?' * len(ids))})"
        params += ["0x" + i.to_bytes(32, "big").hex() for i in ids]
    rows = conn.exec_driver_sql(sql + " ORDER BY block_number, log_index", tuple(params))
    return [event_from_row(r) for r in rows]


def _set_cursor(conn: Connection, tip: Tip) -> None:
    if tip.number is None or tip.time is None:
        conn.exec_driver_sql("DELETE FROM dispute_cursor")
        return
    conn.exec_driver_sql(
        "INSERT INTO dispute_cursor (id, block_number, block_time) VALUES (1, ?, ?) "
        "ON CONFLICT (id) DO UPDATE SET block_number = excluded.block_number, "
        "block_time = excluded.block_time",
        (tip.number, tip.time),
    )


class DisputesProjection:
    """The objections of the Disputes contract, as of the index's block."""

    def apply(self, conn: Connection, events: list[Event], tip: Tip) -> None:
        if conn.exec_driver_sql("SELECT 1 FROM dispute_cursor").first() is None:
            conn.exec_driver_sql("DELETE FROM dispute_objection")
            events = _indexed(conn, None)  # these events are in chain_event already
        _fold(conn, events)
        _set_cursor(conn, tip)

    def unwind(self, conn: Connection, tip: Tip) -> None:
        above = -1 if tip.number is None else tip.number
        ids = [r[0] for r in conn.exec_driver_sql(
            "SELECT id FROM dispute_objection WHERE changed_block > ?", (above,))]  # fmt: skip
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            conn.exec_driver_sql(
                f"DELETE FROM dispute_objection WHERE id IN ({', '.join('?' * len(chunk))})",
                tuple(chunk),
            )
            _fold(conn, _indexed(conn, chunk))
        _set_cursor(conn, tip)


DISPUTES_PROJECTION = DisputesProjection()
