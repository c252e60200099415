"""Staff accounts, their tokens, and the operator log. Knows nothing of HTTP.

A token is `cc_<node tag>_<account id>_<secret>`, the secret 32 random bytes (urlsafe base64).
The tag, 8 hex digits with at least one letter, is random per store (staff_node_tag): a token
another node made is known by it and refused without counting against anyone, so a member's
token sent to the wrong node locks no one out there. Tokens of the earlier form
`cc_<account id>_<secret>` have no tag and keep working. The id finds the account's row
without trying every hash; only sha256(secret) is stored, compared in constant time. A
256-bit random secret cannot be guessed from its hash, so no slow hash or pepper is needed,
and the CLI can add staff without unlocking the node's keys. Nor can it be guessed online:
wrong secrets lock an account only for the source that sent them, and throttle.py slows that
source down.
"""

import hashlib
import hmac
import re
import secrets
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError

from node.db import read_connection, write_transaction
from node.errors import DomainError
from node.staff.models import ADMIN, ROLES

TOKEN_PREFIX = "cc"
NAME_PATTERN = r"^[A-Za-z0-9_.@-]{1,64}$"  # ASCII: read alike by Python and JSON Schema
_SECRET = r"([A-Za-z0-9_-]{1,256})"
_TOKEN = re.compile(r"^cc_([0-9]{1,18})_" + _SECRET + "$")
_TAGGED = re.compile(r"^cc_([0-9a-f]{8})_([0-9]{1,18})_" + _SECRET + "$")


def _parse(token: str) -> tuple[str | None, int, str] | None:
    """(tag or None for the earlier form, account id, secret), or None if not a token."""
    tagged = _TAGGED.match(token)
    if tagged is not None and not tagged.group(1).isdigit():
        return tagged.group(1), int(tagged.group(2)), tagged.group(3)
    plain = _TOKEN.match(token)
    if plain is None:
        return None
    return None, int(plain.group(1)), plain.group(2)


def _tag(conn: Connection) -> str:
    return conn.exec_driver_sql("SELECT tag FROM staff_node_tag WHERE id = 1").scalar_one()


class StaffError(DomainError):
    """A refusal of the staff domain."""


class StaffNotFound(StaffError):
    """No staff account by that name."""

    code, status, detail = "staff_not_found", 404, "no staff account by that name"


class StaffExists(StaffError):
    """A staff account by that name exists already."""

    code, status, field = "staff_exists", 409, "name"
    detail = "a staff account by that name exists"


class InvalidStaff(StaffError):
    """A name or role that cannot be an account's."""

    code, status = "invalid_request", 422

    def __init__(self, detail: str, field: str) -> None:
        super().__init__(detail, field, detail=detail, field=field)


class LastActiveAdmin(StaffError):
    """The change would leave the node without an active admin."""

    code, status, field = "last_admin", 409, "name"
    detail = "the last enabled admin cannot be disabled; add or enable another admin first"


class StaffDisabled(StaffError):
    """The account is disabled: unlocking it would change nothing a caller could use."""

    code, status, field = "staff_disabled", 409, "name"
    detail = "the account is disabled, which unlocking does not change; enable it instead"


# What the operator log records of a refused call. All but THROTTLED (429), FORBIDDEN (403)
# and OTHER_NODE (401, saying so) are answered alike (401), so that a caller learns nothing of
# which ids exist or their state.
NO_TOKEN = "no_token"
BAD_TOKEN = "bad_token"  # not of the form cc_<tag>_<id>_<secret> or cc_<id>_<secret>
UNKNOWN_ACCOUNT = "unknown_account"
WRONG_SECRET = "wrong_secret"
OTHER_NODE = "other_node"  # a token another node made: counted against no one
LOCKED = "locked"  # for the source the call came from
DISABLED = "disabled"
THROTTLED = "throttled"  # turned away unread: too many refusals from its source
FORBIDDEN = "forbidden"  # a valid token whose role may not call the route


class Refused(StaffError):
    """The request's credentials do not let it in. `who` names the account the token named,
    if it named one; `outcome` is what the operator log records, never the answer."""

    def __init__(self, outcome: str, who: str = "unauthenticated", role: str | None = None) -> None:
        super().__init__(outcome, who, role)
        self.outcome = outcome
        self.who = who
        self.role = role


class Unauthenticated(Refused):
    """No token, or one that does not let its caller in, whatever the reason. One answer for
    every reason (unknown id, wrong secret, locked, disabled), so that it tells nothing of which
    accounts exist; the operator log keeps the reason."""

    code, status = "unauthenticated", 401
    detail = "a valid staff token is needed: Authorization: Bearer"

    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": "Bearer"}


class OtherNodeToken(Unauthenticated):
    """A token with another node's tag. Saying so tells nothing of this node's accounts."""

    code = "other_node_token"
    detail = "this token was made by another node; use a token from this node's staff"

    def __init__(self) -> None:
        super().__init__(OTHER_NODE)


class TooManyAttempts(Refused):
    """The source must wait `retry_after` seconds before its next token is looked at."""

    code, status = "too_many_attempts", 429

    def __init__(self, retry_after: int) -> None:
        super().__init__(THROTTLED)
        self.retry_after = retry_after
        self.detail = f"too many refused tokens from this address; retry after {retry_after} s"

    def context(self) -> dict[str, Any]:
        return {"retry_after": self.retry_after}

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


class Forbidden(Refused):
    """A staff member whose role may not do `action`."""

    code, status = "forbidden", 403

    def __init__(self, who: str, role: str, *, action: str) -> None:
        super().__init__(FORBIDDEN, who, role)
        self.action = action
        self.detail = f"role {role} may not call {action}"


@dataclass(frozen=True)
class StaffUser:
    """The authenticated caller of a request."""

    name: str
    role: str


@dataclass(frozen=True)
class NewStaff:
    name: str
    role: str
    token: str  # shown once, never stored


def _hash(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


def check_name_and_role(name: str, role: str) -> None:
    """InvalidStaff naming the field at fault."""
    if not re.fullmatch(NAME_PATTERN, name):
        raise InvalidStaff("1 to 64 ASCII letters, digits, '.', '_', '@' or '-'", "name")
    if role not in ROLES:
        raise InvalidStaff("role must be one of " + ", ".join(ROLES), "role")


def add(*, engine: Engine, name: str, role: str) -> NewStaff:
    """Create an account; its token is in the answer and nowhere else. StaffExists if taken."""
    check_name_and_role(name, role)
    secret = secrets.token_urlsafe(32)
    try:
        with write_transaction(engine) as conn:
            cur = conn.exec_driver_sql(
                "INSERT INTO staff_account (name, role, token_hash, created_at, "
                "failed_attempts, disabled) VALUES (?, ?, ?, ?, 0, FALSE) RETURNING id",
                (name, role, _hash(secret), time.time()),
            )
            account_id = cur.scalar_one()
            tag = _tag(conn)
    except IntegrityError:  # the name is taken: the only constraint an insert can break
        raise StaffExists(name) from None
    return NewStaff(name, role, f"{TOKEN_PREFIX}_{tag}_{account_id}_{secret}")


_ACCOUNT = (
    "SELECT name, role, created_at, failed_attempts, disabled, (SELECT COUNT(*) "
    "FROM staff_lockout l WHERE l.account_id = a.id AND l.locked_at IS NOT NULL) "
    "FROM staff_account a "
)


def _account(row: Any) -> dict[str, Any]:
    name, role, created_at, failed, disabled, locked_sources = row
    return {
        "name": name,
        "role": role,
        "created_at": created_at,
        "failed_attempts": failed,
        "locked_sources": locked_sources,
        "disabled": bool(disabled),
    }


def list_accounts(*, engine: Engine) -> list[dict[str, Any]]:
    """Every account, oldest first, without any token material."""
    with read_connection(engine) as conn:
        rows = conn.exec_driver_sql(_ACCOUNT + "ORDER BY id").all()
    return [_account(row) for row in rows]


def get_or_raise(*, engine: Engine, name: str) -> dict[str, Any]:
    """One account as list_accounts shows it. StaffNotFound if there is none by that name."""
    with read_connection(engine) as conn:
        row = conn.exec_driver_sql(_ACCOUNT + "WHERE name = ?", (name,)).first()
    if row is None:
        raise StaffNotFound(name)
    return _account(row)


def count(*, engine: Engine) -> int:
    with read_connection(engine) as conn:
        return conn.exec_driver_sql("SELECT COUNT(*) FROM staff_account").scalar_one()


def _id_or_raise(conn: Connection, name: str) -> tuple[int, str, bool]:
    row = conn.exec_driver_sql(
        "SELECT id, role, disabled FROM staff_account WHERE name = ?", (name,)
    ).first()
    if row is None:
        raise StaffNotFound(name)
    return row[0], row[1], bool(row[2])


def _last_active_admin(conn: Connection, account_id: int, role: str) -> bool:
    """Whether the account is an admin and no other enabled admin exists."""
    if role != ADMIN:
        return False
    others = conn.exec_driver_sql(
        "SELECT COUNT(*) FROM staff_account WHERE role = ? AND disabled = FALSE AND id != ?",
        (ADMIN, account_id),
    ).scalar_one()
    return others == 0


def unlock_or_raise(*, engine: Engine, name: str) -> None:
    """Clear the account's locks from every source and its failure counts. StaffNotFound if
    there is no such account, StaffDisabled if it is disabled (its token is refused anyway:
    unlocking it would look like a fix that is not one)."""
    with write_transaction(engine) as conn:
        account_id, _, disabled = _id_or_raise(conn, name)
        if disabled:
            raise StaffDisabled(name)
        conn.exec_driver_sql("DELETE FROM staff_lockout WHERE account_id = ?", (account_id,))
        conn.exec_driver_sql(
            "UPDATE staff_account SET failed_attempts = 0 WHERE id = ?", (account_id,)
        )


def enable_or_raise(*, engine: Engine, name: str) -> None:
    """Accept the account's token again. StaffNotFound if there is no such account."""
    with write_transaction(engine) as conn:
        account_id, _, _ = _id_or_raise(conn, name)
        conn.exec_driver_sql(
            "UPDATE staff_account SET disabled = FALSE WHERE id = ?", (account_id,)
        )


def disable_or_raise(*, engine: Engine, name: str) -> None:
    """Refuse the account's token from now on. StaffNotFound if there is no such account,
    LastActiveAdmin if it is the only enabled admin (no one could then enable it again)."""
    with write_transaction(engine) as conn:
        account_id, role, disabled = _id_or_raise(conn, name)
        if not disabled and _last_active_admin(conn, account_id, role):
            raise LastActiveAdmin(name)
        conn.exec_driver_sql("UPDATE staff_account SET disabled = TRUE WHERE id = ?", (account_id,))


def authenticate(*, engine: Engine, token: str | None, source: str, max_failures: int) -> StaffUser:
    """The account a token belongs to, or Unauthenticated. A wrong secret counts against the
    account it names from `source`; `max_failures` in a row lock the account for that source
    alone, so a stranger's guesses lock out no one else. The last enabled admin is never
    locked. A locked or disabled account is refused before its secret is looked at, so it
    cannot be used to test guesses. A token with another node's tag is OtherNodeToken, before
    any account is looked at: it counts against no one."""
    if not token:
        raise Unauthenticated(NO_TOKEN)
    parsed = _parse(token)
    if parsed is None:
        raise Unauthenticated(BAD_TOKEN)
    tag, account_id, secret = parsed
    with read_connection(engine) as conn:
        if tag is not None and not hmac.compare_digest(tag, _tag(conn)):
            raise OtherNodeToken()
        row = conn.exec_driver_sql(
            "SELECT a.name, a.role, a.token_hash, a.failed_attempts, a.disabled, l.failures, "
            "l.locked_at FROM staff_account a LEFT JOIN staff_lockout l "
            "ON l.account_id = a.id AND l.source = ? WHERE a.id = ?",
            (source, account_id),
        ).first()
        if row is None:
            raise Unauthenticated(UNKNOWN_ACCOUNT)
        name, role, token_hash, failed, disabled, failures_here, locked_at = row
        if disabled:
            raise Unauthenticated(DISABLED, name, role)
        if locked_at is not None and not _last_active_admin(conn, account_id, role):
            raise Unauthenticated(LOCKED, name, role)
    if not hmac.compare_digest(_hash(secret), token_hash):
        _count_failure(engine, account_id, role, source, max_failures)
        raise Unauthenticated(WRONG_SECRET, name, role)
    if failed or failures_here:
        with write_transaction(engine) as conn:  # a success ends the run of failures
            conn.exec_driver_sql(
                "DELETE FROM staff_lockout WHERE account_id = ? AND source = ?",
                (account_id, source),
            )
            conn.exec_driver_sql(
                "UPDATE staff_account SET failed_attempts = 0 WHERE id = ?", (account_id,)
            )
    return StaffUser(name, role)


def _count_failure(
    engine: Engine, account_id: int, role: str, source: str, max_failures: int
) -> None:
    now = time.time()
    with write_transaction(engine) as conn:  # single statements: concurrent failures all count
        conn.exec_driver_sql(
            "INSERT INTO staff_lockout (account_id, source, failures, last_failure_at) "
            "VALUES (?, ?, 1, ?) ON CONFLICT (account_id, source) DO UPDATE SET "
            "failures = staff_lockout.failures + 1, last_failure_at = excluded.last_failure_at",
            (account_id, source, now),
        )
        conn.exec_driver_sql(
            "UPDATE staff_account SET failed_attempts = failed_attempts + 1 WHERE id = ?",
            (account_id,),
        )
        if not _last_active_admin(conn, account_id, role):
            conn.exec_driver_sql(
                "UPDATE staff_lockout SET locked_at = ? WHERE account_id = ? AND source = ? "
                "AND failures >= ? AND locked_at IS NULL",
                (now, account_id, source, max_failures),
            )
