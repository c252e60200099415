"""What the repairs API takes and gives."""

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, Strict, StringConstraints

Hex32 = Annotated[str, Strict(), StringConstraints(pattern=r"^0x[0-9a-fA-F]{64}$")]
# error: the record is wrong, and is removed once the case is approved. The others are what a
# borrower may ask for a record that is accurate: each is refused (accurate_negative_information).
Ground = Literal["error", "repaid", "hardship", "goodwill"]


class RepairIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    record_id: Annotated[str, Strict(), StringConstraints(min_length=1, max_length=64)]
    ground: Ground = Field(
        description="error: the record is wrong (removed once approved); repaid, hardship, "
        "goodwill: the record is accurate, and accurate negative information is kept until "
        "its retention ends (a debt repaid is recorded as a settled record)"
    )
    evidence_hash: Hex32 = Field(description="SHA-256 of the evidence, kept off chain")


class DecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    approve: bool
    reason_hash: Hex32 = Field(description="SHA-256 of the regulator's reasons, kept off chain")


class CaseOut(BaseModel):
    case_id: int
    member: str
    commitment: str
    evidence: str
    state: Literal["open", "approved", "refused"]
    opened_block: int
    decided_block: int | None
    decided_by: str | None
    removed: bool = Field(description="the record's data key is destroyed (this node's own)")


class CaseSummary(BaseModel):
    case_id: int
    member: str
    commitment: str
    evidence: str
    state: Literal["open", "approved", "refused"]
    opened_block: int
    decided_block: int | None
    decided_by: str | None


class CaseList(BaseModel):
    as_of_block: int | None
    cases: list[CaseSummary]
