"""Tables of the retention domain: each stored record version's schedule, and the chain's
time as the event index last read it.

A version's entry is made by the sweeper from the records' clear columns (kind and
event_date, never the sealed content); the records tables stay the records domain's.
"""

from sqlalchemy import Column, Index, LargeBinary
from sqlmodel import Field, SQLModel

# states of an entry
OPEN = "open"  # no expiry yet: a default or write-off until it is settled
SCHEDULED = "scheduled"  # expires at expires_at (chain time)
ERASED = "erased"  # its data key destroyed


class RetentionEntry(SQLModel, table=True):
    """When one stored record version expires, and when it was erased.

    `ended_on` is the day the adverse event ended (for a record with no negative information:
    its event_date); `expires_at` is midnight UTC of that day plus the retention years, in
    unix seconds, compared with the time of the block the event index stands at. `erased_block`
    and `erased_time` are that block and its time at the erasure; `mark_requested` says
    whether the commitment was queued to be marked on chain (Expired, or Revoked for a
    repair; only a current version: an older one stays Superseded), `reason` why it was
    erased (expired, repaired)."""

    __tablename__ = "retention_entry"
    __table_args__ = (Index("ix_retention_due", "state", "expires_at"),)

    record_row: int = Field(primary_key=True, foreign_key="record.id")
    record_id: str = Field(index=True)
    version: int
    leaf_id: int
    commitment: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    kind: str
    negative: bool
    ended_on: str | None = None
    expires_at: int | None = None
    state: str
    reason: str | None = None  # "expired", "repaired"
    erased_block: int | None = None
    erased_time: int | None = None
    erased_at: float | None = None
    mark_requested: bool = False
    settles_record: str | None = Field(default=None, index=True)  # a settlement: what it settles


class RetentionClock(SQLModel, table=True):
    """The block the event index stands at and its time: the clock retention goes by."""

    __tablename__ = "retention_clock"

    id: int = Field(primary_key=True)
    block_number: int
    block_time: int
