"""What the reports API takes and answers: the borrower's signed request, and the report."""

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from node.consents.schemas import Address, Bytes32, Signature, Uint64


class ReportMessage(BaseModel):
    """The EIP-712 ReportRequest(subjectKey, node, issuedAt, nonce) the borrower signs with a
    bound address (GET /v1/subjects/{subject_key}/report/typed-data)."""

    model_config = ConfigDict(extra="forbid")

    subjectKey: Bytes32 = Field(description="the borrower's subject key")
    node: Address = Field(description="the member whose node gathers the report (and sees it)")
    issuedAt: Uint64 = Field(description="now, unix seconds: the request stays fresh minutes")
    nonce: Bytes32 = Field(description="32 random bytes, used once at each member")


class ReportIn(BaseModel):
    """The borrower's request for their report, to the node named in it."""

    model_config = ConfigDict(extra="forbid")

    request: ReportMessage
    signature: Signature
    scope: Literal["node", "consortium"] = Field(
        "consortium",
        description="node: this member's section alone (refused with free_reports_used, 429, "
        "when the year's free reports here are used); consortium: every active member's, "
        "each counted and refused by that member itself",
    )
    timeout_s: Annotated[float, Field(gt=0, le=60)] = Field(
        5.0, description="how long to wait for each other member's section"
    )


class PeerReportIn(BaseModel):
    """The body of POST /v1/peer/reports: the borrower's signed request as they signed it,
    sent on by the member it names (the headers signed with that member's key)."""

    model_config = ConfigDict(extra="forbid")

    request: ReportMessage
    signature: Signature


class FreeReports(BaseModel):
    per_year: int = Field(description="free reports a calendar year at this member")
    used: int = Field(description="used this calendar year, this one included")
    left: int
    counted_until: str = Field(description="when the year's count starts afresh (+08:00)")


class ReportRecord(BaseModel):
    record: dict[str, Any] = Field(description="the record as committed (canonical form)")
    chain_status: Literal["active", "superseded", "disputed", "revoked", "expired"]
    receipt: dict[str, Any] = Field(description="check it with `creditchain verify`")
    statement_hash: str | None = Field(
        None,
        description="the borrower's statement the record carries (an unresolved objection), "
        "from the gathering node's own index of the chain",
    )


class PeerSection(BaseModel):
    """One member's section, as it answers another member's node."""

    member: str
    as_of_block: int | None
    records: list[ReportRecord]
    pending: int = Field(description="records about the subject not yet anchored (not listed)")
    queries: list[dict[str, Any]] = Field(description="this member's query log about the subject")
    free_reports: FreeReports


class MemberSection(BaseModel):
    member: str
    name: str
    status: Literal["answered", "refused", "unreachable", "timeout", "rejected"]
    as_of_block: int | None = None
    records: list[ReportRecord] = Field(description="each checked against the chain")
    pending: int | None = None
    queries: list[dict[str, Any]] = Field(description="each receipt checked against the chain")
    free_reports: FreeReports | None = None
    error: dict[str, Any] | None = Field(
        None, description="why there is no section: the member's refusal (free_reports_used "
        "names the rule and next_free_at), or the check that failed",
    )  # fmt: skip


class ReportOut(BaseModel):
    subject_key: str
    as_of_block: int | None = Field(description="the block this node's event index had read")
    bindings: list[dict[str, Any]]
    consents: list[dict[str, Any]]
    blacklist: dict[str, list[dict[str, Any]]]
    members: list[MemberSection] = Field(description="this node's section first")
    partial: bool = Field(description="true when a member's section is missing")
    missing: list[str] = Field(description="the members whose sections are not in the report")
