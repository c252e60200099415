"""What the records API takes and gives. Unknown fields are refused, so nothing the law
forbids collecting (biometrics, health, religion, ...) can slip in under another name."""

import datetime as dt
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

RecordId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$")]
Code = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,63}$")]
Cents = Annotated[int, Field(ge=0, le=10**15)]


class Kind(StrEnum):
    """Where in the lending life cycle the event sits (as 人行 / NFCS reports carry it)."""

    loan_application = "loan_application"
    loan_opened = "loan_opened"
    repayment = "repayment"
    overdue = "overdue"
    default = "default"
    settled = "settled"
    written_off = "written_off"
    guarantee = "guarantee"


NEGATIVE_KINDS = frozenset({Kind.overdue, Kind.default, Kind.written_off})


class Subject(BaseModel):
    """Who the record is about. Kept encrypted in this node only; the chain sees a pseudonym."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["person", "enterprise"]
    id_number: Annotated[str, StringConstraints(min_length=1, max_length=32)] = Field(
        description="18-character resident ID (person) or unified social credit code (enterprise)"
    )
    name: Annotated[str, StringConstraints(min_length=1, max_length=200)] | None = None


class RecordIn(BaseModel):
    """One credit record as a member submits it."""

    model_config = ConfigDict(extra="forbid")

    record_id: RecordId = Field(description="the member's own id; re-using it corrects the record")
    subject: Subject
    kind: Kind
    account_id: Code = Field(description="the loan or guarantee account")
    event_date: dt.date
    amount_cents: Cents | None = None
    currency: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")] = "CNY"
    credit_limit_cents: Cents | None = None
    balance_cents: Cents | None = None
    days_past_due: Annotated[int, Field(ge=0, le=36500)] | None = None
    payment_history_24m: (
        Annotated[str, StringConstraints(pattern=r"^[N1-7C/*#GDZ]{1,24}$")] | None
    ) = Field(None, description="人行 24-month codes, oldest first: N 1-7 C / * # G D Z")
    date_of_first_delinquency: dt.date | None = None
    notice_date: dt.date | None = Field(
        None, description="when the borrower was told of this negative information"
    )

    @model_validator(mode="after")
    def _consistent(self) -> "RecordIn":
        if self.kind == Kind.overdue and not self.days_past_due:
            raise ValueError("days_past_due: an overdue record needs days_past_due of at least 1")
        if self.event_date > dt.date.today() + dt.timedelta(days=1):
            raise ValueError("event_date: must not lie in the future")
        if self.date_of_first_delinquency and self.date_of_first_delinquency > self.event_date:
            raise ValueError("date_of_first_delinquency: must not be after event_date")
        return self


class SubmitResult(BaseModel):
    status: Literal["accepted", "rejected"]
    record_id: str | None
    commitment: str | None = None
    version: int | None = None
    field: str | None = None
    detail: str | None = None


class SubmitResponse(BaseModel):
    submission_id: str
    accepted: int
    rejected: int
    results: list[SubmitResult]


class RecordOut(BaseModel):
    record_id: str
    version: int
    state: Literal["pending", "anchored"]
    chain_status: str
    commitment: str
    record: dict = Field(description="the committed record: subject_key, never the identifier")
    versions: int


class SubmitRequest(BaseModel):
    """The body of POST /v1/records (documentation only; records are validated one by one)."""

    model_config = ConfigDict(extra="forbid")

    records: list[RecordIn] = Field(min_length=1, max_length=10_000)
