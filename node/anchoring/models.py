"""Tables of the anchoring domain."""

from sqlalchemy import Column, LargeBinary
from sqlmodel import Field, SQLModel


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
