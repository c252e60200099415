"""A borrower's trail: everything done about their subject key, each item with what proves it.

Bindings, consents, blacklist notices and entries, and objections are on chain: each comes
with its chain position (its block; bindings, consents and objections their transaction too).
Queries are leaves of this node's anchored query log: each comes with its receipt, checked
against the chain alone by `creditchain verify` (or "pending" until its batch is confirmed).
"""

from typing import Any

from sqlalchemy.engine import Engine

from node.anchoring.service import LeafPending
from node.blacklist import service as blacklist
from node.chain.index import EventIndex
from node.consents import service as consents
from node.disputes import reads as disputes
from node.queries.log import entries_for_subject, query_receipt


def _consents(engine: Engine, subject_key: str) -> list[dict[str, Any]]:
    """Each consent with its chain position: registered_block and tx_hash, and the
    revocation's revoked_block and revoked_tx_hash."""
    return [c.public() for c in consents.consents_of(engine, subject_key=subject_key)]


def _queries(engine: Engine, subject_key: str, chain_id: int, registry: str) -> list[dict]:
    out = []
    for q in entries_for_subject(engine, subject_key):
        item: dict[str, Any] = {**q["entry"]}
        try:
            item["receipt"] = query_receipt(engine, entry=q["entry"], salt=q["salt"],
                                            leaf_id=q["leaf_id"], chain_id=chain_id,
                                            registry=registry)  # fmt: skip
        except LeafPending as err:
            item["receipt"] = None
            item["receipt_state"] = f"pending ({err.where})"
        out.append(item)
    return out


def blacklist_for_subject(engine: Engine, index: EventIndex, subject_key: str) -> dict[str, list]:
    """The subject's blacklist entries, whatever their status (active, disputed, delisted,
    expired), and every notice given before a listing, with the entry it served."""
    return {
        "entries": blacklist.entries_for_subject(engine=engine, subject_key=subject_key),
        "notices": blacklist.notices_for_subject(index=index, subject_key=subject_key),
    }


def trail(
    *, engine: Engine, index: EventIndex, subject_key: str, chain_id: int, registry: str
) -> dict[str, Any]:
    """Every binding, consent (and revocation), query, blacklist item and objection (with
    its deadline, answer or ruling, and the statement a record carries) about the subject."""
    subject_key = subject_key.lower()
    as_of = index.indexed_block()
    return {
        "subject_key": subject_key,
        "as_of_block": as_of,
        "bindings": consents.bindings_of(engine, subject_key=subject_key),
        "consents": _consents(engine, subject_key),
        "queries": _queries(engine, subject_key, chain_id, registry),
        "blacklist": blacklist_for_subject(engine, index, subject_key),
        "objections": disputes.for_subject(engine, subject_key),
    }
