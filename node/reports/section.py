"""One member's part of a borrower's report, as that member's node reads it from its own store:
every current record it holds about the subject (decrypted, in the committed canonical form)
with its receipt and its status on chain, how many records wait for the chain, and the queries
its query log holds about the subject (node/queries/trail.py), each with its receipt.

The statuses come from the node's event index, not from one RPC call per record: a
commitment's RecordStatusChanged events with its leaf's LeavesExpired bit folded in (by the
receipt's batch id and leaf index), as the registry's statusAt folds them; a commitment no
event names is active.
"""

from typing import Any

from sqlalchemy.engine import Connection, Engine

from node.anchoring import expiries
from node.chain.index import EventIndex
from node.db import read_snapshot
from node.queries.holder import subject_receipts
from node.queries.trail import trail
from node.records.intake import RecordKeys


def indexed_status(
    index: EventIndex, conn: Connection, commitment: str, batch_id: int, leaf_index: int
) -> str:
    """The status on chain of `commitment`, leaf `leaf_index` of chain batch `batch_id`, as
    the index has read it."""
    return expiries.status_from_index(index, commitment, (batch_id, leaf_index), conn=conn)[0]


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
                    "chain_status": indexed_status(index, conn, r["commitment"], r["batch_id"],
                                                   r["leaf_index"]),
                    "receipt": r} for r in receipts]  # fmt: skip
    whole = trail(engine=engine, index=index, subject_key=subject_key, chain_id=chain_id,
                  registry=registry)  # fmt: skip
    section = {"as_of_block": as_of, "records": records, "pending": pending, "erased": erased,
               "queries": whole["queries"]}  # fmt: skip
    return section, whole
