"""What the records API takes and gives. Unknown fields are refused, so nothing the law
forbids collecting (biometrics, health, religion, ...) can slip in under another name.

Values are taken as sent or refused, never coerced: a record is committed and anchored as
it was parsed, so `true` must not become `1`, nor `"100"` or `100.0` become `100`. The
checks are declared here so that pydantic-core runs them for a whole list in one call."""

import datetime as dt
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    GetPydanticSchema,
    Strict,
    StringConstraints,
    WithJsonSchema,
    model_validator,
)
from pydantic_core import core_schema

EARLIEST_DATE = dt.date(1950, 1, 1)
DATE_PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
# No C0 or C1 controls (NUL included), DEL, nor bidirectional formatting characters, which
# can make a name display as something else than it is.
TEXT_PATTERN = r"^[^\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]*$"
TEXT_RULE = (
    "must not contain control characters (U+0000-U+001F, U+007F-U+009F, NUL included) or "
    "bidirectional formatting characters (U+061C, U+200E, U+200F, U+202A-U+202E, "
    "U+2066-U+2069)"
)
INTEGER_RULE = "must be a JSON integer: not quoted, not true/false, no decimal point or exponent"
DATE_RULE = "must be a date written as a YYYY-MM-DD string"
# A day's grace: a member ahead of this node's time zone may already be on the next day.
FUTURE_GRACE = dt.timedelta(days=1)

RecordId = Annotated[
    str, Strict(), StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$")
]
Code = Annotated[str, Strict(), StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,63}$")]
Cents = Annotated[int, Strict(), Field(ge=0, le=10**15, description="whole cents, a JSON integer")]
# A string "YYYY-MM-DD" then a date from EARLIEST_DATE on: no timestamps, datetimes or numbers.
IsoDate = Annotated[
    dt.date,
    GetPydanticSchema(
        lambda _source, _handler: core_schema.chain_schema(
            [
                core_schema.str_schema(strict=True, pattern=DATE_PATTERN),
                core_schema.date_schema(ge=EARLIEST_DATE),
            ]
        )
    ),
    WithJsonSchema({"type": "string", "format": "date", "pattern": DATE_PATTERN}),
]
IdNumber = Annotated[
    str, Strict(), StringConstraints(min_length=1, max_length=32, pattern=TEXT_PATTERN)
]
Name = Annotated[
    str, Strict(), StringConstraints(min_length=1, max_length=200, pattern=TEXT_PATTERN)
]


def _date_rule(what: str) -> str:
    return f"{what}; YYYY-MM-DD, on or after {EARLIEST_DATE.isoformat()}"


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
    id_number: IdNumber = Field(
        description="18-character resident ID (person) or unified social credit code "
        "(enterprise); its check character is verified"
    )
    name: Name | None = Field(
        None, description="free text without control or bidirectional formatting characters"
    )


class RecordIn(BaseModel):
    """One credit record as a member submits it. Integers are JSON integers, dates are
    YYYY-MM-DD strings from 1950-01-01 on and not in the future; nothing is coerced."""

    model_config = ConfigDict(extra="forbid")

    record_id: RecordId = Field(
        description="the member's own id, not an ID number; once per submission; "
        "re-using it in a later submission corrects the record"
    )
    subject: Subject
    kind: Kind
    account_id: Code = Field(description="the loan or guarantee account, not an ID number")
    event_date: IsoDate = Field(description=_date_rule("when it happened, not in the future"))
    amount_cents: Cents | None = None
    currency: Annotated[str, Strict(), StringConstraints(pattern=r"^[A-Z]{3}$")] = "CNY"
    credit_limit_cents: Cents | None = None
    balance_cents: Cents | None = None
    days_past_due: Annotated[int, Strict(), Field(ge=0, le=36500)] | None = Field(
        None, description="a JSON integer; at least 1 for an overdue record"
    )
    payment_history_24m: (
        Annotated[str, Strict(), StringConstraints(pattern=r"^[N1-7C/*#GDZ]{1,24}$")] | None
    ) = Field(None, description="人行 24-month codes, oldest first: N 1-7 C / * # G D Z")
    date_of_first_delinquency: IsoDate | None = Field(
        None, description=_date_rule("not after event_date")
    )
    notice_date: IsoDate | None = Field(
        None,
        description=_date_rule(
            "when the borrower was told of this negative information; not in the future"
        ),
    )
    settles: Annotated[str, Strict(), StringConstraints(pattern=r"^0x[0-9a-f]{64}$")] | None = (
        Field(
            None,
            description="a settled record only: the commitment (0x and 64 lower-case hex digits) "
            "of this member's current record of the same subject that it settles (overdue, "
            "default or written_off), stored before; that record stays as it is",
        )
    )

    @model_validator(mode="after")
    def _consistent(self) -> "RecordIn":
        if self.kind == Kind.overdue and not self.days_past_due:
            raise ValueError("days_past_due: an overdue record needs days_past_due of at least 1")
        latest = dt.date.today() + FUTURE_GRACE
        if self.event_date > latest:
            raise ValueError("event_date: must not lie in the future")
        if self.notice_date and self.notice_date > latest:
            raise ValueError("notice_date: must not lie in the future")
        if self.date_of_first_delinquency and self.date_of_first_delinquency > self.event_date:
            raise ValueError("date_of_first_delinquency: must not be after event_date")
        if self.settles is not None and self.kind != Kind.settled:
            raise ValueError("settles: only a settled record settles another")
        return self


# Fields whose refusals get a plain sentence rather than pydantic's message.
DATE_FIELDS = frozenset({"event_date", "date_of_first_delinquency", "notice_date"})
TEXT_FIELDS = frozenset({"name", "id_number"})


class SubmitResult(BaseModel):
    status: Literal["accepted", "rejected"]
    record_id: str | None = Field(
        description="as sent; cut to its first 8 characters and … when it is not a valid "
        "record id or holds an ID number"
    )
    commitment: str | None = None
    version: int | None = None
    field: str | None = Field(
        None, description="the field at fault; an unknown field's name is cut like record_id"
    )
    detail: str | None = None


class SubmitResponse(BaseModel):
    submission_id: str
    accepted: int
    rejected: int
    results: list[SubmitResult]
    warning: str | None = Field(
        None,
        description="only when accepted records cannot be anchored now: this member is "
        "suspended (they are kept and wait) or removed",
    )


class RecordOut(BaseModel):
    record_id: str
    version: int
    state: Literal["pending", "anchored"]
    chain_status: str
    commitment: str
    record: dict = Field(description="the committed record: subject_key, never the identifier")
    versions: int
    open_objection: int | None = Field(None, description="the objection it is disputed by")
    statement_hash: str | None = Field(
        None, description="the borrower's statement it carries (an unresolved objection)"
    )


class Receipt(BaseModel):
    """Everything a stranger needs to check a record against the chain alone, with no trust in
    this node: recompute the commitment from record and salt, the root from the proof, and
    read the root of batch_id from the registry (`creditchain verify` does all three)."""

    version: int = Field(description="the receipt format's version, 1")
    record: dict = Field(description="the committed record: subject_key, never the identifier")
    salt: str = Field(description="0x and 64 hex digits, mixed into the commitment")
    commitment: str = Field(description="0x and 64 hex digits: the Merkle tree's leaf")
    batch_id: int = Field(description="the batch's id in the RecordRegistry contract")
    leaf_index: int = Field(description="the record's position in its batch, from 0")
    tree_size: int = Field(description="the records in the batch")
    proof: list[str] = Field(description="the inclusion proof, sibling hashes from the leaf up")
    root: str = Field(description="the batch's Merkle root, as anchored")
    chain_id: int
    registry: str = Field(description="the RecordRegistry contract's address")
    tx_hash: str = Field(description="the transaction that anchored the batch")
    block_number: int = Field(description="the block that holds it")


class SubmitRequest(BaseModel):
    """The body of POST /v1/records (documentation only; records are validated one by one)."""

    model_config = ConfigDict(extra="forbid")

    records: list[RecordIn] = Field(min_length=1, max_length=10_000)
