"""What the disputes API takes and answers. Formats are refused here, naming the field; what
the Disputes contract would refuse is refused by the service, each reason its own code.
Reasons travel as text only into this node, which puts their SHA-256 on chain and keeps no
copy: the documents stay with the member and the borrower."""

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from node.consents.schemas import MAX_TIME, Address, Bytes32, Signature, SubjectIn, Uint256
from node.disputes.models import Kind, Outcome

Reason = Annotated[str, StringConstraints(min_length=1, max_length=10_000)]
MAX_PROOF = 64  # RecordRegistry.MAX_PROOF_LENGTH


class AnchorIn(BaseModel):
    """Where a record was anchored, as its receipt says."""

    model_config = ConfigDict(extra="forbid")

    batch_id: int = Field(ge=1, le=MAX_TIME)
    leaf_index: int = Field(ge=0, le=MAX_TIME)
    proof: list[Bytes32] = Field(max_length=MAX_PROOF, description="sibling hashes, leaf to root")


class ObjectionMessage(BaseModel):
    """The typed message of an objection, exactly as the borrower's wallet signed it."""

    model_config = ConfigDict(extra="forbid")

    subjectKey: Bytes32
    kind: int = Field(ge=0, le=1, description="0: a record commitment, 1: a blacklist entry")
    target: Bytes32 = Field(description="the commitment, or the entry id as 32 bytes")
    reasonsHash: Bytes32 = Field(description="SHA-256 of the borrower's reasons")
    nonce: Uint256 = Field(description="any number: a JSON number below 2**53, or a string")


class SignedObjectionIn(BaseModel):
    """A borrower's objection to relay: the message, their signature and address, and for a
    record where it was anchored (from its receipt)."""

    model_config = ConfigDict(extra="forbid")

    message: ObjectionMessage
    signature: Signature
    borrower: Address = Field(description="the address that signed (bound to the subject)")
    anchor: AnchorIn | None = None


class ObjectionIn(BaseModel):
    """An objection filed by this member's staff on the borrower's behalf. A record is named
    by `record_id` (one this member holds) or by `commitment` and `anchor` (from a receipt);
    a blacklist entry by `entry_id`."""

    model_config = ConfigDict(extra="forbid")

    subject: SubjectIn
    kind: Kind
    record_id: str | None = Field(None, min_length=1, max_length=128)
    commitment: Bytes32 | None = None
    anchor: AnchorIn | None = None
    entry_id: int | None = Field(None, ge=1, le=MAX_TIME)
    reasons: Reason = Field(description="the borrower's reasons; only their hash leaves the node")


class AnswerIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    outcome: Outcome = Field(
        description="upheld (correct the record first: submit its corrected version, or "
        "revoke it; delist the entry), rejected, or unresolved (the record stays and carries "
        "the borrower's statement)"
    )
    reason: Reason = Field(description="why; only its hash goes on chain")


class RulingIn(AnswerIn):
    proof: list[Bytes32] | None = Field(
        None, max_length=MAX_PROOF,
        description="the record's inclusion proof, if this node does not hold the record",
    )  # fmt: skip


class Answer(BaseModel):
    by: str
    at: int
    reason_hash: str
    by_regulator: bool
    in_time: bool


class ObjectionOut(BaseModel):
    objection_id: int
    subject_key: str
    kind: Kind
    target: str | int = Field(description="the record commitment, or the blacklist entry id")
    holder: str
    filed_by: str
    borrower: str | None = Field(description="the signing address; null: filed by a member")
    reasons_hash: str
    filed_at: int
    deadline: int
    state: Literal["open", "upheld", "rejected", "unresolved"]
    overdue: bool = Field(description="open past its deadline at the index's block time")
    answer: Answer | None
    statement_hash: str | None = Field(description="the borrower's statement the record carries")
    anchor: dict[str, int] | None = Field(description="batch_id and leaf_index of a record")
    block_number: int
    tx_hash: str


class ObjectionList(BaseModel):
    as_of_block: int | None
    block_time: int | None
    objections: list[ObjectionOut]


class MemberSla(BaseModel):
    member: str
    name: str | None
    total: int
    open: int = Field(description="open, deadline not reached")
    answered_in_time: int
    overdue: int = Field(description="open past the deadline, plus ruled by a regulator")
    overdue_open: int
    ruled: int


class SlaOut(BaseModel):
    as_of_block: int | None
    block_time: int | None = Field(description="the time deadlines are judged against")
    members: list[MemberSla]


class Filed(BaseModel):
    objection_id: int
    deadline: int
    tx_hash: str
    block_number: int
