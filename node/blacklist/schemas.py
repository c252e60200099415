"""What the blacklist API takes and answers. Identifiers come in and are hashed to subject
keys inside the node; no answer carries one back."""

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator
from pydantic.config import JsonDict

from node.blacklist.checks import MAX_APPLICANTS
from node.blacklist.models import Channel, DelistReason, Reason


class SubjectId(BaseModel):
    """Who the notice or listing is about: checked and hashed here, never stored or sent."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["person", "enterprise"]
    id_number: str = Field(
        min_length=1, max_length=64,
        description="18-character resident ID or unified social credit code",
    )  # fmt: skip


class NoticeIn(BaseModel):
    """The notice this member gave the borrower of a coming listing (征信业管理条例 Art. 15)."""

    model_config = ConfigDict(extra="forbid")

    subject: SubjectId
    channel: Channel
    text: str = Field(min_length=1, max_length=10_000,
                      description="the notice's text: only its SHA-256 goes on chain, and the "
                      "node keeps no copy")  # fmt: skip
    noticed_at: int | None = Field(
        None, gt=0, le=2**63 - 1,
        description="when it was given, unix seconds, not later than now; unset: the latest "
        "block's time",
    )  # fmt: skip


# The evidence is a commitment or one of our records: exactly one of the two, as a string.
_ONE_EVIDENCE: JsonDict = {
    "oneOf": [
        {"required": ["evidence"], "properties": {"evidence": {"type": "string"}}},
        {"required": ["record_id"], "properties": {"record_id": {"type": "string"}}},
    ]
}


class ListingIn(BaseModel):
    """A listing by this member. The expiry is the event's end plus the retention period."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_ONE_EVIDENCE)

    subject: SubjectId
    reason: Reason
    event_end_date: dt.date = Field(
        description="the day the adverse event ended; the expiry it gives must be in the "
        "future and at most ten years ahead"
    )
    evidence: str | None = Field(
        None, pattern=r"^0x[0-9a-fA-F]{64}$",
        description="a record commitment or a document hash (or give record_id instead)",
    )  # fmt: skip
    record_id: str | None = Field(
        None, min_length=1, max_length=64, validate_default=True,
        description="one of this member's records: its current commitment is the evidence",
    )  # fmt: skip
    notice_id: int | None = Field(
        None, ge=1, le=2**63 - 1,
        description="this member's notice to the subject; unset: its oldest unused one",
    )  # fmt: skip

    @field_validator("record_id")
    @classmethod
    def _one_evidence(cls, record_id: str | None, info: ValidationInfo) -> str | None:
        given = info.data.get("evidence") is not None
        if given == (record_id is not None) and "evidence" in info.data:
            raise ValueError("give either evidence or record_id, not both and not neither")
        return record_id


class DelistIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: DelistReason


class Applicant(BaseModel):
    """One applicant; a malformed one is answered invalid, by position, with the others."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["person", "enterprise"]
    id_number: str


class CheckIn(BaseModel):
    """Up to 100,000 applicants, each answered on its own."""

    model_config = ConfigDict(extra="forbid")

    applicants: list[Applicant] = Field(min_length=1, max_length=MAX_APPLICANTS)


class CheckEntry(BaseModel):
    entry_id: int
    member: str
    member_name: str | None
    member_status: str = Field(description="active, suspended or removed")
    reason: Reason
    listed_at: int = Field(description="unix seconds (block time)")
    expires_at: int = Field(description="unix seconds; the entry no longer matches from then")
    disputed: bool


class CheckResult(BaseModel):
    position: int = Field(description="the applicant's place in the list, from 0")
    result: Literal["clear", "listed", "invalid"]
    entries: list[CheckEntry] | None = None
    field: str | None = Field(None, description="invalid only: e.g. applicants[7].id_number")
    detail: str | None = None


class CheckOut(BaseModel):
    as_of_block: int | None
    as_of_time: int | None = Field(description="the time of that block: expiries compare to it")
    checked: int
    clear: int
    listed: int
    invalid: int
    results: list[CheckResult]
