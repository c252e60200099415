"""What the retention API gives."""

from typing import Literal

from pydantic import BaseModel, Field


class ChainMark(BaseModel):
    status: str = Field(description="the commitment's status the event set: expired, revoked")
    block: int
    time: int = Field(description="the block's timestamp, unix seconds")
    tx_hash: str
    by: str = Field(description="who sent it: this member, or a consortium contract")


class Entry(BaseModel):
    record_row: int = Field(description="the stored version's row, the order of the schedule")
    record_id: str
    version: int
    commitment: str = Field(description="stays on chain after the erasure")
    kind: str
    negative: bool = Field(description="negative information (overdue, default, ...)")
    ended_on: str | None = Field(
        description="the day the adverse event ended (or the event_date, for a record with "
        "no negative information); null: a default or write-off not settled yet"
    )
    expires_at: int | None = Field(description="unix seconds, by the chain's block time")
    state: Literal["open", "scheduled", "erased"]
    reason: str | None = Field(
        description="why it was erased: expired, or repaired (an approved repair case)"
    )
    erased_block: int | None = Field(description="the block the index stood at when erased")
    erased_time: int | None = Field(description="that block's timestamp")
    mark_requested: bool = Field(
        description="its commitment was queued to be marked on chain: Expired, or Revoked "
        "when repaired (a current version; an older version stays Superseded)"
    )


class Counts(BaseModel):
    open: int
    scheduled: int
    erased: int


class SchedulePage(BaseModel):
    as_of_block: int | None = Field(description="the block whose time retention goes by")
    chain_time: int | None = Field(description="that block's timestamp, unix seconds")
    counts: Counts
    entries: list[Entry]
    next_after_row: int | None = Field(description="pass as after_row for the next page")


class Erasure(Entry):
    chain: ChainMark | None = Field(
        description="the event that gave the commitment its final status, from the event "
        "index: expired (LeavesExpired setting its leaf's bit in the batch's expiry bitmap, "
        "the mark the erasure queued), superseded (an older version, which stays so), "
        "revoked (RecordStatusChanged); null while the mark is on its way"
    )
    on_schedule: bool | None = Field(
        description="the erasure's block time, and the chain's mark if any, are at or after "
        "expires_at"
    )


class ErasurePage(SchedulePage):
    entries: list[Erasure]  # type: ignore[assignment]
