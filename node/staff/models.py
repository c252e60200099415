"""Tables of the staff domain: the node's own staff accounts and the append-only operator log.
What the API returns lives in schemas.py, never these rows."""

from typing import Literal, get_args

from sqlmodel import Field, SQLModel

# The roles of a credit desk (征信), as they are spelled in the API, the CLI and the store.
ADMIN = "admin"  # node admin: staff accounts, and everything a submitter may do
SUBMITTER = "submitter"  # data submitter: sends credit records
QUERY_OPERATOR = "query_operator"  # 征信查询员: queries other members with consent
DISPUTE_HANDLER = "dispute_handler"  # 异议处理员: answers objections
INTERNAL_AUDITOR = "internal_auditor"  # reads the operator log and the records
Role = Literal["admin", "submitter", "query_operator", "dispute_handler", "internal_auditor"]
ROLES: tuple[str, ...] = get_args(Role)


class StaffAccount(SQLModel, table=True):
    """One person at the member with a role and a token, of which only a hash is kept."""

    __tablename__ = "staff_account"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True)
    role: str
    token_hash: bytes
    created_at: float
    failed_attempts: int = 0  # wrong secrets from any source since its last success
    disabled: bool = False


class StaffLockout(SQLModel, table=True):
    """Wrong secrets naming one account from one source (an IPv4 address or IPv6 /64). Enough
    of them in a row lock the account for that source alone; an admin's unlock clears them."""

    __tablename__ = "staff_lockout"

    account_id: int = Field(foreign_key="staff_account.id", primary_key=True)
    source: str = Field(primary_key=True)
    failures: int  # in a row; a success from the source removes the row
    last_failure_at: float
    locked_at: float | None = None


class OperatorLogEntry(SQLModel, table=True):
    """One staff action, or the refused attempts of one source in one minute (`count` of them).
    Rows are only ever inserted: the service offers nothing else and the store's triggers
    abort any UPDATE or DELETE.

    who: the staff account the token named (when it named one), else "unauthenticated";
    whether it was proven is in outcome. Never an identity field, never a request body."""

    __tablename__ = "operator_log"

    id: int | None = Field(default=None, primary_key=True)
    at: float
    who: str = Field(index=True)
    role: str | None = None
    action: str  # "POST /v1/records": the method and the route's path template; "*": several
    outcome: str  # ok, error, forbidden; or, counted: no_token, bad_token, other_node,
    # unknown_account, wrong_secret, locked, disabled, throttled
    status: int
    client: str | None = None  # the caller's address (refusals: its source)
    count: int = Field(default=1, sa_column_kwargs={"server_default": "1"})  # calls in the row
    target: str | None = None  # the record, submission, account or proposal the call named


class StaffNodeTag(SQLModel, table=True):
    """The one row holding this store's tag, which every token it makes carries, so that a
    token another node made is known for what it is (service.py)."""

    __tablename__ = "staff_node_tag"

    id: int = Field(default=1, primary_key=True)
    tag: str
