"""What the queries API takes and gives: the peer protocol's body and the lender's query."""

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, Strict, StringConstraints

from node.consents.purposes import PURPOSES

Hex32 = Annotated[str, Strict(), StringConstraints(pattern=r"^0x[0-9a-fA-F]{64}$")]
Purpose = Annotated[
    str, Strict(), StringConstraints(pattern="^(" + "|".join(PURPOSES) + ")$"),
    Field(description="a purpose's name: " + ", ".join(PURPOSES)),
]  # fmt: skip


class PeerQuery(BaseModel):
    """The body of POST /v1/peer/queries, signed (with the headers) by the requester's
    member key. `nonce` is the query's id in both members' query logs."""

    model_config = ConfigDict(extra="forbid")

    consent_id: Hex32 = Field(description="the consent's EIP-712 hash, as registered")
    subject_key: Hex32
    purpose: Purpose
    issued_at: Annotated[int, Field(ge=0, le=2**53 - 1, description="unix seconds")]
    nonce: Hex32 = Field(description="fresh, never used before by this requester")


class PeerAnswer(BaseModel):
    holder: str = Field(description="the answering member's address")
    query_id: str
    as_of_block: int | None = Field(description="the block the holder's event index had read")
    records: list[dict[str, Any]] = Field(
        description="a receipt (record, salt, proof, ...) for each current anchored record"
    )
    pending: int = Field(description="records about the subject not yet anchored (not sent)")
    erased: list[str] = Field(
        default_factory=list,
        description="commitments of records about the subject that were erased (retention "
        "ended, or removed as wrong): their content is gone and is not sent",
    )


class QuerySubject(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["person", "enterprise"]
    id_number: Annotated[str, Strict(), StringConstraints(min_length=1, max_length=32)]


class QueryIn(BaseModel):
    """A lender's query about an applicant, sent to every other active member."""

    model_config = ConfigDict(extra="forbid")

    subject: QuerySubject = Field(description="the applicant; never stored, logged or sent")
    consent_id: Hex32
    purpose: Purpose
    timeout_s: Annotated[float, Field(gt=0, le=60)] = Field(
        5.0, description="how long to wait for each member's answer"
    )


class MemberResult(BaseModel):
    member: str
    name: str
    status: Literal["answered", "refused", "unreachable", "timeout", "rejected"]
    records: list[dict[str, Any]] = Field(description="verified records, each as committed")
    as_of_block: int | None = None
    error: dict[str, Any] | None = Field(
        None, description="why there is no answer: the member's refusal, or the check that failed"
    )


class Summary(BaseModel):
    open_loans: int
    open_balance_cents: int
    worst_days_past_due: int
    loan_applications_30d: int
    loan_applications_90d: int
    lenders: int = Field(description="members the applicant has an open loan with")


class QueryOut(BaseModel):
    query_id: str
    subject_key: str
    partial: bool = Field(description="true when a member did not answer or was rejected")
    missing: list[str] = Field(description="the members whose records are not in the answer")
    members: list[MemberResult]
    summary: Summary
