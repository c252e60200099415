"""Tables of the anchoring domain: the leaf log, its batches and the status changes.

Anchoring never reads or writes another domain's tables: a domain appends its commitments
as leaves (node/anchoring/service.py) and keeps the leaf id; anchoring answers for that leaf.
"""

from sqlalchemy import Column, LargeBinary
from sqlmodel import Field, SQLModel


class Leaf(SQLModel, table=True):
    """One entry of the log this member anchors: a commitment and what kind of entry it is.

    The id is the position in the log: leaves get consecutive ids in the write transaction
    that appends them, and batches are cut in id order, so the leaves after the last batch's
    last_leaf are exactly the pending ones. A leaf is never rewritten.
    """

    id: int | None = Field(default=None, primary_key=True)
    kind: str  # "record"; later "query", ...
    commitment: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    created_at: float


class Batch(SQLModel, table=True):
    """One Merkle batch: leaves first_leaf..last_leaf (leaf index = leaf id - first_leaf)
    and its anchoring transaction.

    state: built (root computed, not yet sent) -> sent (transaction signed and sent)
    -> anchored (in a block) -> confirmed (deep enough; receipts are handed out).
    A reorg that drops the transaction sends the batch back to built.
    """

    id: int | None = Field(default=None, primary_key=True)
    root: bytes = Field(sa_column=Column(LargeBinary, nullable=False, unique=True))
    size: int
    first_leaf: int
    last_leaf: int = Field(unique=True)
    prev_root: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    state: str = Field(default="built", index=True)
    chain_batch_id: int | None = None
    tx_hash: str | None = None
    block_number: int | None = None
    block_hash: str | None = None
    created_at: float
    anchored_at: float | None = None


class BatchTree(SQLModel, table=True):
    """A batch's Merkle tree, written with the batch so a receipt reads its proof, not rebuilds it.

    The levels of `tree_levels` laid end to end, leaves first (so every position follows from
    the batch size, see `inclusion_proof_positions`), cut into chunks of CHUNK_HASHES hashes:
    a proof reads a dozen small rows, never the whole tree.
    """

    __tablename__ = "batch_tree"

    batch_id: int = Field(foreign_key="batch.id", primary_key=True)
    chunk: int = Field(primary_key=True)
    hashes: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class StatusChange(SQLModel, table=True):
    """A leaf's commitment to be marked on chain: superseded (by `replacement`, a later
    leaf), revoked or expired. pending -> done once the transaction is in (or refused, when the
    chain holds a status this one cannot follow); a reorg that drops the transaction makes it
    pending again. A leaf's status is that of its last done change."""

    __tablename__ = "status_change"

    id: int | None = Field(default=None, primary_key=True)
    leaf_id: int = Field(foreign_key="leaf.id", index=True)
    status: str
    replacement: int | None = Field(default=None, foreign_key="leaf.id")
    state: str = Field(default="pending", index=True)  # pending -> done | refused
    tx_hash: str | None = None
    block_number: int | None = None
    created_at: float
