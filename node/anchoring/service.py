"""What other domains ask of anchoring: take commitments into the log, mark one on chain,
and say where a leaf stands (its batch, proof and status).

Domain-neutral: anchoring knows leaves (a kind and a commitment), never what they stand for,
and never reads or writes another domain's tables. A domain calls `append_leaves` and
`request_status_change` on its own write connection, so its rows and their leaves land in
one transaction, and keeps the leaf ids it is given.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Connection, Engine

from node.anchoring import proofs
from node.crypto.hexutil import from_hex, to_hex
from node.db import read_connection
from node.errors import DomainError

# RecordRegistry's RecordStatus, in its order. A member may ask for superseded, revoked and
# expired; disputed (and active again) are set by the consortium's contracts.
CHAIN_STATUSES = ("active", "superseded", "disputed", "revoked", "expired")
REQUESTABLE = ("superseded", "revoked", "expired")
_LAST_BATCHED = "(SELECT COALESCE(MAX(last_leaf), 0) FROM batch)"


class AnchoringError(DomainError):
    """A refusal of the anchoring domain."""


class LeafPending(AnchoringError):
    """The leaf is not in a confirmed batch yet: `where` says where it is (queued, or its
    batch's state). A domain serving receipts answers this with its own not-anchored error."""

    code, status = "not_anchored", 409

    def __init__(self, where: str) -> None:
        super().__init__(where, detail=f"not anchored yet: {where}")
        self.where = where

    def context(self) -> dict[str, Any]:
        return {"state": f"pending ({self.where})"}


@dataclass(frozen=True)
class Standing:
    """Where a leaf is: queued (in no batch yet), built, sent, anchored or confirmed; and its
    status on chain as last marked by this node."""

    state: str
    status: str


def append_leaves(conn: Connection, kind: str, commitments: Sequence[bytes], now: float) -> int:
    """Append commitments to the log, in order, inside the caller's write transaction; the
    first leaf's id (the others follow it one by one)."""
    first = conn.exec_driver_sql("SELECT COALESCE(MAX(id), 0) FROM leaf").scalar_one() + 1
    conn.exec_driver_sql(
        "INSERT INTO leaf (id, kind, commitment, created_at) VALUES (?, ?, ?, ?)",
        [(first + i, kind, com, now) for i, com in enumerate(commitments)],
    )
    return first


def request_status_change(
    conn: Connection,
    *,
    status: str,
    leaves: Sequence[int],
    now: float,
    replacements: Sequence[int] | None = None,
) -> None:
    """Ask for the leaves' commitments to be marked `status` on chain, inside the caller's
    write transaction; superseded names each leaf's replacement (a later leaf). The batcher
    does it once the leaf's batch (and the replacement's) is confirmed."""
    if status not in REQUESTABLE:
        raise ValueError(f"status must be one of {', '.join(REQUESTABLE)}")
    if (status == "superseded") != (replacements is not None):
        raise ValueError("replacements go with superseded, and only with it")
    paired: list[tuple[int, int | None]] = (
        list(zip(leaves, replacements, strict=True))
        if replacements is not None
        else [(leaf, None) for leaf in leaves]
    )
    conn.exec_driver_sql(
        "INSERT INTO status_change (leaf_id, status, replacement, state, created_at) "
        "VALUES (?, ?, ?, 'pending', ?)",
        [(leaf, status, replacement, now) for leaf, replacement in paired],
    )


def status_of(conn: Connection, leaf_id: int) -> str:
    """The leaf's status on chain as this node last marked it: active until a change is done."""
    status = conn.exec_driver_sql(
        "SELECT status FROM status_change WHERE leaf_id = ? AND state = 'done' "
        "ORDER BY id DESC LIMIT 1",
        (leaf_id,),
    ).scalar()
    return status or "active"


def _batch_of(conn: Connection, leaf_id: int) -> Any:
    row = conn.exec_driver_sql(
        "SELECT id, first_leaf, size, root, state, chain_batch_id, tx_hash, block_number "
        "FROM batch WHERE last_leaf >= ? ORDER BY last_leaf LIMIT 1",
        (leaf_id,),
    ).first()
    return row if row is not None and row.first_leaf <= leaf_id else None


def standing(conn: Connection, leaf_id: int) -> Standing:
    batch = _batch_of(conn, leaf_id)
    return Standing(batch.state if batch else "queued", status_of(conn, leaf_id))


def receipt_anchor(engine: Engine, leaf_id: int) -> dict[str, Any]:
    """The chain side of a receipt for any leaf: its commitment, chain batch id, index, tree
    size, RFC 9162 inclusion proof, root and transaction. LeafPending until confirmed."""
    with read_connection(engine) as conn:
        commitment = conn.exec_driver_sql(
            "SELECT commitment FROM leaf WHERE id = ?", (leaf_id,)
        ).scalar()
        if commitment is None:
            raise LookupError(f"no leaf {leaf_id}")
        batch = _batch_of(conn, leaf_id)
    if batch is None or batch.state != "confirmed":
        raise LeafPending("queued" if batch is None else f"batch {batch.state}")
    index = leaf_id - batch.first_leaf
    proof = proofs.inclusion_path(
        engine, batch_id=batch.id, size=batch.size, index=index, entry=commitment, root=batch.root
    )
    return {
        "commitment": commitment,
        "batch_id": batch.chain_batch_id,
        "leaf_index": index,
        "tree_size": batch.size,
        "proof": proof,
        "root": batch.root,
        "tx_hash": batch.tx_hash,
        "block_number": batch.block_number,
    }


def receipt_fields(anchor: dict[str, Any], *, chain_id: int, registry: str) -> dict[str, Any]:
    """A leaf's anchor as the protocol's receipt writes it, in its order (hex with 0x),
    from `commitment` to `block_number`: what every kind of receipt shares."""
    return {
        "commitment": to_hex(anchor["commitment"]),
        "batch_id": anchor["batch_id"],
        "leaf_index": anchor["leaf_index"],
        "tree_size": anchor["tree_size"],
        "proof": [to_hex(h) for h in anchor["proof"]],
        "root": to_hex(anchor["root"]),
        "chain_id": chain_id,
        "registry": registry,
        "tx_hash": anchor["tx_hash"],
        "block_number": anchor["block_number"],
    }


def pending_count(conn: Connection) -> int:
    """Leaves in no batch yet."""
    return conn.exec_driver_sql(
        f"SELECT COALESCE(MAX(id), 0) - {_LAST_BATCHED} FROM leaf"
    ).scalar_one()


def counts(*, engine: Engine) -> dict[str, int]:
    """How many leaves wait for the chain and how many are anchored (cheap: indexed)."""
    with read_connection(engine) as conn:
        queued = pending_count(conn)
        in_flight, anchored, batches = conn.exec_driver_sql(
            "SELECT COALESCE(SUM(CASE WHEN state != 'confirmed' THEN size END), 0), "
            "COALESCE(SUM(CASE WHEN state = 'confirmed' THEN size END), 0), COUNT(*) FROM batch"
        ).one()
    # int(): PostgreSQL sums 64-bit integers as numeric (Decimal)
    return {"pending": int(queued + in_flight), "anchored": int(anchored), "batches": batches}


def backlog(*, engine: Engine) -> dict[str, float | int | None]:
    """For metrics, from indexed columns alone (no scan, whatever the size of the log):
    `waiting`, the leaves in no confirmed batch yet; `oldest_at`, when the oldest of them was
    appended (None: none waits); `confirmed_batches`, the batches confirmed on chain (batch
    ids are consecutive and no batch is ever deleted)."""
    with read_connection(engine) as conn:
        newest, last_batch = conn.exec_driver_sql(
            "SELECT (SELECT COALESCE(MAX(id), 0) FROM leaf), "
            "(SELECT COALESCE(MAX(id), 0) FROM batch)"
        ).one()
        unconfirmed = conn.exec_driver_sql(
            "SELECT COUNT(*), MIN(first_leaf) FROM batch WHERE state != 'confirmed'"
        ).one()
        first_waiting = unconfirmed[1]
        if first_waiting is None:
            first_waiting = conn.exec_driver_sql(f"SELECT {_LAST_BATCHED} + 1").scalar_one()
        oldest_at = conn.exec_driver_sql(
            "SELECT created_at FROM leaf WHERE id = ?", (first_waiting,)
        ).scalar()
    return {
        "waiting": max(newest - first_waiting + 1, 0),
        "oldest_at": oldest_at,
        "confirmed_batches": last_batch - unconfirmed[0],
    }


def leaf_at(engine: Engine, chain_batch_id: int, leaf_index: int) -> int | None:
    """The id of this node's leaf `leaf_index` of its confirmed chain batch `chain_batch_id`;
    None if this node did not anchor that batch (or that leaf)."""
    with read_connection(engine) as conn:
        row = conn.exec_driver_sql(
            "SELECT first_leaf, size FROM batch WHERE chain_batch_id = ? AND state = 'confirmed'",
            (chain_batch_id,),
        ).first()
    if row is None or not 0 <= leaf_index < row.size:
        return None
    return int(row.first_leaf + leaf_index)


def unknown_own_batches(*, engine: Engine, index: Any, member: str) -> list[dict[str, Any]]:
    """The batches the chain holds of `member` (as the event index has read it) whose roots
    this store never held: anchored from a newer copy of the store than this one (restored
    from an older backup). Their records are not here; the member sends them again."""
    events = index.read("RecordRegistry", "BatchAnchored", where={"member": member}).events
    if not events:
        return []
    with read_connection(engine) as conn:
        known = {bytes(r[0]) for r in conn.exec_driver_sql("SELECT root FROM batch").all()}
    return [{"batch_id": e.args["batchId"], "size": e.args["size"],
             "block_number": e.block_number, "anchored_at": e.block_time}
            for e in events if from_hex(e.args["root"]) not in known]  # fmt: skip
