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
    failed_attempts: int = Field(description="wrong secrets from any source since its last success")
    locked_sources: int = Field(
        description="addresses (IPv6: /64 networks) the account is locked for after failed "
        "attempts; it still works from any other"
    )
    disabled: bool


class NewStaffOut(BaseModel):
    name: str
    role: str
    token: str = Field(description="send as 'Authorization: Bearer <token>'; shown only once")
    note: str = "the token is shown only this once; only its hash is kept"


class LogEntryOut(BaseModel):
    id: int
    at: str = Field(description="UTC, ISO 8601; of counted refusals, the first one's")
    who: str = Field(
        description="the staff account the token named, 'unauthenticated', or for an action "
        "from the CLI 'cli:' and the system user who ran it"
    )
    role: str | None
    action: str = Field(
        description="method and route, e.g. 'POST /v1/records'; '*': several; from the CLI "
        "the command, e.g. 'staff add NAME'"
    )
    outcome: str = Field(
        description="with a valid token: ok, error or forbidden, one entry per call; refused "
        "before that: no_token, bad_token, other_node (a token another node made), "
        "unknown_account, wrong_secret, locked, disabled or throttled, one entry per source, "
        "account named, outcome and minute; from the CLI: ok or the reason it was refused"
    )
    status: int = Field(description="the HTTP status answered; 0 for an action from the CLI")
    client: str | None = Field(description="the caller's address (refusals: IPv6 as its /64)")
    count: int = Field(description="the calls this entry stands for; 1 with a valid token")
    target: str | None = Field(
        description="what the call named: the record_id, submission id, staff account or "
        "proposal; none for refusals"
    )


class LogPage(BaseModel):
    entries: list[LogEntryOut]
    next_after_id: int = Field(description="pass as after_id for the next page")
