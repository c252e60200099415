"""What the staff API takes and answers; never a table row, never a token hash."""

from pydantic import BaseModel, ConfigDict, Field

from node.staff.models import Role
from node.staff.service import NAME_PATTERN


class StaffIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=NAME_PATTERN, description="the account's name, unique on this node")
    role: Role


class StaffOut(BaseModel):
    name: str
    role: str
    created_at: str
    failed_attempts: int
    locked: bool
    locked_at: str | None
    disabled: bool


class NewStaffOut(BaseModel):
    name: str
    role: str
    token: str = Field(description="send as 'Authorization: Bearer <token>'; shown only once")
    note: str = "the token is shown only this once; only its hash is kept"


class LogEntryOut(BaseModel):
    id: int
    at: str = Field(description="UTC, ISO 8601")
    who: str = Field(description="the staff account the token named, or 'unauthenticated'")
    role: str | None
    action: str = Field(description="method and route, e.g. 'POST /v1/records'")
    outcome: str = Field(description="ok, error, forbidden, locked, disabled or unauthenticated")
    status: int = Field(description="the HTTP status answered")
    client: str | None = Field(description="the caller's address")


class LogPage(BaseModel):
    entries: list[LogEntryOut]
    next_after_id: int = Field(description="pass as after_id for the next page")
