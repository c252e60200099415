"""Staff accounts, their tokens, and the operator log. Knows nothing of HTTP.

A token is `cc_<account id>_<secret>`, the secret 32 random bytes (urlsafe base64). The id
finds the account's row without trying every hash; only sha256(secret) is stored, compared in
constant time. A 256-bit random secret cannot be guessed from its hash, so no slow hash or
pepper is needed, and the CLI can add staff without unlocking the node's keys.
"""

import hashlib
import hmac
import re
import secrets
import sqlite3
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from node.db import read_connection, write_transaction
from node.staff.models import ROLES

TOKEN_PREFIX = "cc"
NAME_PATTERN = r"^[A-Za-z0-9_.@-]{1,64}$"  # ASCII: read alike by Python and JSON Schema
_TOKEN = re.compile(r"^cc_([0-9]{1,18})_([A-Za-z0-9_-]{1,256})$")


class StaffNotFound(LookupError):
    """No staff account by that name."""


class StaffExists(ValueError):
    """A staff account by that name exists already."""


class InvalidStaff(ValueError):
    """A name or role that cannot be an account's."""

    def __init__(self, detail: str, field: str) -> None:
        super().__init__(detail, field)
        self.detail = detail
        self.field = field


class Refused(Exception):
    """The request's credentials do not let it in. `who` names the account the token named,
    if it named one; `outcome` is what the operator log records."""

    outcome = "unauthenticated"

    def __init__(self, who: str = "unauthenticated", role: str | None = None) -> None:
        super().__init__(who)
        self.who = who
        self.role = role


class Unauthenticated(Refused):
    """No token, a malformed one, or the wrong secret."""


class AccountLocked(Refused):
    """Too many consecutive failures; an admin must unlock the account."""

    outcome = "locked"


class AccountDisabled(Refused):
    """An admin disabled the account."""

    outcome = "disabled"


class Forbidden(Refused):
    """A staff member whose role may not do `action`."""

    outcome = "forbidden"

    def __init__(self, who: str, role: str, *, action: str) -> None:
        super().__init__(who, role)
        self.action = action


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
        raise InvalidStaff("1 to 64 letters, digits, '.', '_', '@' or '-'", "name")
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
                "failed_attempts, locked_at, disabled) VALUES (?, ?, ?, ?, 0, NULL, 0)",
                (name, role, _hash(secret), time.time()),
            )
            account_id = cur.lastrowid
    except IntegrityError as err:
        if isinstance(err.orig, sqlite3.IntegrityError):
            raise StaffExists(name) from None
        raise
    return NewStaff(name, role, f"{TOKEN_PREFIX}_{account_id}_{secret}")


_ACCOUNT = "SELECT name, role, created_at, failed_attempts, locked_at, disabled FROM staff_account "


def _account(row: Any) -> dict[str, Any]:
    name, role, created_at, failed, locked_at, disabled = row
    return {
        "name": name,
        "role": role,
        "created_at": created_at,
        "failed_attempts": failed,
        "locked": locked_at is not None,
        "locked_at": locked_at,
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


def _set(engine: Engine, name: str, assignments: str) -> None:
    with write_transaction(engine) as conn:
        sql = f"UPDATE staff_account SET {assignments} WHERE name = ?"
        cur = conn.exec_driver_sql(sql, (name,))
        if cur.rowcount == 0:
            raise StaffNotFound(name)


def unlock_or_raise(*, engine: Engine, name: str) -> None:
    """Clear the lock and the failure count. StaffNotFound if there is no such account."""
    _set(engine, name, "failed_attempts = 0, locked_at = NULL")


def disable_or_raise(*, engine: Engine, name: str) -> None:
    """Refuse the account's token from now on. StaffNotFound if there is no such account."""
    _set(engine, name, "disabled = 1")


def authenticate(*, engine: Engine, token: str | None, max_failures: int) -> StaffUser:
    """The account a token belongs to, or Refused. A wrong secret counts against the account
    it names; `max_failures` in a row lock it. A locked or disabled account is refused before
    its secret is looked at, so a locked account cannot be used to test guesses."""
    match = _TOKEN.match(token or "")
    if match is None:
        raise Unauthenticated()
    account_id, secret = int(match.group(1)), match.group(2)
    with read_connection(engine) as conn:
        row = conn.exec_driver_sql(
            "SELECT name, role, token_hash, failed_attempts, locked_at, disabled "
            "FROM staff_account WHERE id = ?",
            (account_id,),
        ).first()
    if row is None:
        raise Unauthenticated()
    name, role, token_hash, failed, locked_at, disabled = row
    if disabled:
        raise AccountDisabled(name, role)
    if locked_at is not None:
        raise AccountLocked(name, role)
    if not hmac.compare_digest(_hash(secret), token_hash):
        with write_transaction(engine) as conn:  # one statement: concurrent failures all count
            conn.exec_driver_sql(
                "UPDATE staff_account SET failed_attempts = failed_attempts + 1, "
                "locked_at = CASE WHEN failed_attempts + 1 >= ? THEN ? ELSE locked_at END "
                "WHERE id = ?",
                (max_failures, time.time(), account_id),
            )
        raise Unauthenticated(name, role)
    if failed:
        with write_transaction(engine) as conn:  # a success resets the count, unless locked
            conn.exec_driver_sql(
                "UPDATE staff_account SET failed_attempts = 0 WHERE id = ? AND locked_at IS NULL",
                (account_id,),
            )
    return StaffUser(name, role)


def append_log(
    *,
    engine: Engine,
    who: str,
    role: str | None,
    action: str,
    outcome: str,
    status: int,
    client: str | None,
) -> None:
    """Add one entry to the operator log (there is no way to change or remove one)."""
    with write_transaction(engine) as conn:
        conn.exec_driver_sql(
            "INSERT INTO operator_log (at, who, role, action, outcome, status, client) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (time.time(), who, role, action, outcome, status, client),
        )


def read_log(*, engine: Engine, after_id: int, limit: int) -> list[dict[str, Any]]:
    """Up to `limit` entries after entry `after_id`, oldest first."""
    with read_connection(engine) as conn:
        rows = conn.exec_driver_sql(
            "SELECT id, at, who, role, action, outcome, status, client FROM operator_log "
            "WHERE id > ? ORDER BY id LIMIT ?",
            (after_id, limit),
        ).all()
    keys = ("id", "at", "who", "role", "action", "outcome", "status", "client")
    return [dict(zip(keys, row, strict=True)) for row in rows]
