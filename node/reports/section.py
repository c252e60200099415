"""One member's part of a borrower's report, as that member's node reads it from its own store:
every current record it holds about the subject (decrypted, in the committed canonical form)
with its receipt and its status on chain, how many records wait for the chain, and the queries
its query log holds about the subject (node/queries/trail.py), each with its receipt.

The statuses come from the node's event index (RecordStatusChanged), not from one RPC call
per record: a commitment no change names is active.
"""

from typing import Any

from sqlalchemy.engine import Connection, Engine

from node.chain.index import EventIndex
from node.db import read_snapshot
from node.queries.holder import subject_receipts
from node.queries.trail import trail
from node.receipts.verify import STATUSES
from node.records.intake import RecordKeys


def indexed_status(index: EventIndex, conn: Connection, commitment: str) -> str:
    """The commitment's status on chain, as the index has read it."""
    snap = index.read("RecordRegistry", "RecordStatusChanged",
                      where={"commitment": bytes.fromhex(commitment[2:])}, conn=conn)  # fmt: skip
    return STATUSES[int(snap.events[-1].args["status"])] if snap.events else "active"


def member_section(
    *,
    engine: Engine,
    index: EventIndex,
    keys: RecordKeys,
    subject_key: str,
    chain_id: int,
    registry: str,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """This member's section of the subject's report (records, pending, erased, queries, the
    block the index stood at), and the subject's whole trail (bindings, consents, blacklist:
    the chain's, the same at every member)."""
    subject_key = subject_key.lower()
    with read_snapshot(engine) as conn:  # the records and their statuses agree
        as_of = index.indexed_block(conn)
        receipts, pending, erased = subject_receipts(
            engine=engine, keys=keys, subject_key=subject_key, chain_id=chain_id,
            registry=registry, conn=conn,
        )  # fmt: skip
        records = [{"record": r["record"],
                    "chain_status": indexed_status(index, conn, r["commitment"]),
                    "receipt": r} for r in receipts]  # fmt: skip
    whole = trail(engine=engine, index=index, subject_key=subject_key, chain_id=chain_id,
                  registry=registry)  # fmt: skip
    section = {"as_of_block": as_of, "records": records, "pending": pending, "erased": erased,
               "queries": whole["queries"]}  # fmt: skip
    return section, whole
