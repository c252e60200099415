"""Tables of the blacklist domain: the entries as the chain's events left them, derived by
projection.py from the event index, and the block they stand at. What the API returns lives
in schemas.py, never these rows."""

from typing import Literal, get_args

from sqlalchemy import Index
from sqlmodel import Field, SQLModel

LISTED, DELISTED, EXPIRED = "listed", "delisted", "expired"
# The contract's enums, in their order on chain, as the API and the store spell them.
Reason = Literal["serious_default", "fraud", "identity_theft", "court_enforcement",
                 "loan_stacking", "document_forgery"]  # fmt: skip
DelistReason = Literal["repaid", "error", "court_order", "dispute_upheld", "withdrawn"]
Channel = Literal["sms", "letter", "app", "email", "phone", "in_person"]
REASONS: tuple[str, ...] = get_args(Reason)
DELIST_REASONS: tuple[str, ...] = get_args(DelistReason)
CHANNELS: tuple[str, ...] = get_args(Channel)


class BlacklistEntry(SQLModel, table=True):
    """One entry of the Blacklist contract, keyed by its id on chain. Written only by the
    projection, from the index's events; dropped or re-derived when their blocks go."""

    __tablename__ = "blacklist_entry"
    __table_args__ = (Index("ix_blacklist_entry_due", "status", "expires_at"),)  # the sweeper

    id: int = Field(primary_key=True)  # the entry id on chain
    subject_key: bytes = Field(index=True)  # 32 bytes, the subject's HMAC pseudonym
    member: str  # the listing member's address
    reason: str  # serious_default, fraud, ...
    evidence: str  # 0x-hex commitment
    listed_at: int  # block time of the listing
    expires_at: int  # the second from which it no longer matches
    notice_id: int
    status: str  # listed, delisted, expired (as recorded; the expiry is checked on read)
    disputed: bool = False
    ended_by: str | None = None  # who delisted or marked it expired
    end_reason: str | None = None  # why it was delisted
    block_number: int  # the block of the listing
    changed_block: int = Field(index=True)  # the block of its latest event


class BlacklistCursor(SQLModel, table=True):
    """The one row saying which block (and its time) the entries stand at."""

    __tablename__ = "blacklist_cursor"

    id: int = Field(default=1, primary_key=True)
    block_number: int
    block_time: int
