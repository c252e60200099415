"""Tables of the records domain. What the API returns lives in schemas.py, never these rows."""

from sqlalchemy import Column, Index, LargeBinary, text
from sqlmodel import Field, SQLModel


class Batch(SQLModel, table=True):
    """One Merkle batch of this member's commitments and its anchoring transaction.

    Its leaves are the record rows first_row..last_row in id order (leaf index = row id -
    first_row): rows get consecutive ids and batches are cut in id order, so the rows after
    the last batch's last_row are exactly the pending ones, and no row is ever rewritten.

    state: built (root computed, not yet sent) -> sent (transaction signed and sent)
    -> anchored (in a block) -> confirmed (deep enough; receipts are handed out).
    A reorg that drops the transaction sends the batch back to built.
    """

    id: int | None = Field(default=None, primary_key=True)
    root: bytes = Field(sa_column=Column(LargeBinary, nullable=False, unique=True))
    size: int
    first_row: int
    last_row: int = Field(unique=True)
    prev_root: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    state: str = Field(default="built", index=True)
    chain_batch_id: int | None = None
    tx_hash: str | None = None
    block_number: int | None = None
    block_hash: str | None = None
    created_at: float
    anchored_at: float | None = None


class Record(SQLModel, table=True):
    """One version of a credit record, encrypted at rest with its own data key."""

    __table_args__ = (
        Index("ix_record_version", "record_id", "version", unique=True),
        Index(
            "ix_record_current",
            "record_id",
            unique=True,
            sqlite_where=text("is_current = 1"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    record_id: str
    version: int
    is_current: bool = True
    subject_key: str
    kind: str
    event_date: str
    commitment: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    content_mac: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    wrapped_key: bytes | None = Field(default=None, sa_column=Column(LargeBinary))
    ciphertext: bytes | None = Field(default=None, sa_column=Column(LargeBinary))
    chain_status: str = "active"
    submission_id: str
    created_at: float


class Submission(SQLModel, table=True):
    """One POST /v1/records: its per-record results, kept so staff can fix the rejected ones."""

    id: str = Field(primary_key=True)
    created_at: float
    accepted: int
    rejected: int
    results: bytes = Field(sa_column=Column(LargeBinary, nullable=False))  # zlib'd JSON


class Supersession(SQLModel, table=True):
    """A correction whose old commitment must be marked superseded on chain."""

    id: int | None = Field(default=None, primary_key=True)
    old_row: int = Field(foreign_key="record.id", index=True)
    new_row: int = Field(foreign_key="record.id")
    state: str = Field(default="pending", index=True)  # pending -> done
    tx_hash: str | None = None
    block_number: int | None = None
