"""The objections' derived table, kept in step with the event index.

The index calls DISPUTES_PROJECTION inside its own write transaction after every range it
commits and every reorg or rewind it unwinds, so the objections always stand at the index's
block, and say so (dispute_cursor holds that block and its time, against which deadlines
are judged). How it keeps in step, on an unwind too, is node/chain/projection.py's.
"""

from sqlalchemy.engine import Connection

from node.chain.events import Event
from node.chain.projection import KeyedProjection
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


# The objections of the Disputes contract, as of the index's block.
DISPUTES_PROJECTION = KeyedProjection(
    contract=CONTRACT, table="dispute_objection", cursor="dispute_cursor", fold=_fold
)
