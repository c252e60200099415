"""Tables of the disputes domain: the objections as the Disputes contract's events left them,
derived by projection.py from the event index, and the block (and its time) they stand at.
What the API returns lives in schemas.py, never these rows."""

from typing import Literal, get_args

from sqlmodel import Field, SQLModel

# The contract's enums, in their order on chain, as the API and the store spell them.
Kind = Literal["record", "blacklist_entry"]
State = Literal["none", "open", "upheld", "rejected", "unresolved"]
Outcome = Literal["upheld", "rejected", "unresolved"]
KINDS: tuple[str, ...] = get_args(Kind)
STATES: tuple[str, ...] = get_args(State)
OPEN = "open"


class Objection(SQLModel, table=True):
    """One objection of the Disputes contract, keyed by its id on chain. Written only by the
    projection, from the index's events; dropped or re-derived when their blocks go."""

    __tablename__ = "dispute_objection"

    id: int = Field(primary_key=True)  # the objection id on chain
    subject_key: bytes = Field(index=True)  # 32 bytes, the subject's HMAC pseudonym
    kind: str  # record, blacklist_entry
    target: str  # 0x-hex: the commitment, or the entry id as 32 bytes
    holder: str = Field(index=True)  # the member that anchored the record or listed the entry
    reasons_hash: str
    filed_by: str  # the member that sent the objection
    borrower: str | None = None  # the borrower's signing address; None: filed on their behalf
    filed_at: int  # block time of the filing
    deadline: int  # the second from which only a regulator may rule
    batch_id: int  # where the record was anchored (0 for a blacklist entry)
    leaf_index: int
    state: str  # open, upheld, rejected, unresolved
    closed_by: str | None = None  # the holder, or the ruling regulator
    closed_at: int | None = None
    answer_hash: str | None = None  # the hash of the answer's (or the ruling's) reasons
    by_regulator: bool = False
    statement_hash: str | None = None  # the borrower's statement carried by the target
    block_number: int  # the block of the filing
    tx_hash: str
    changed_block: int = Field(index=True)  # the block of its latest event


class DisputeCursor(SQLModel, table=True):
    """The one row saying which block (and its time) the objections stand at: whether an
    open objection is past its deadline is judged by that block's time."""

    __tablename__ = "dispute_cursor"

    id: int = Field(default=1, primary_key=True)
    block_number: int
    block_time: int
