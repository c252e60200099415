"""Checking applicants against the blacklist in bulk, from the derived table alone.

Identifiers are hashed to subject keys here and go no further; the lookup reads the entries
and the block they stand at in one read transaction, and an entry matches while it is
listed and the time of that block is before its expiry, the contract's own rule (isActive),
so every node answers alike once its index stands at the same block. No chain call.
"""

from collections.abc import Callable
from typing import Any

import orjson
from sqlalchemy.engine import Connection, Engine

from node.blacklist.errors import InvalidCheck
from node.chain.events import COLUMNS, event_from_row
from node.crypto.subjects import ENTERPRISE, PERSON, InvalidIdentifier, subject_key
from node.db import read_connection
from node.members.service import fold_members

MAX_APPLICANTS = 100_000
_CHUNK = 5_000  # subject keys per lookup query
_ENTRY = (  # by subject first: most applicants have no entry (the sweeper's index would scan)
    "SELECT id, subject_key, member, reason, listed_at, expires_at, disputed FROM "
    "blacklist_entry {by_subject}WHERE status = 'listed' AND expires_at > ? AND subject_key IN "
)
# SQLite is told which index to use; PostgreSQL's planner, with statistics, picks it itself
_BY_SUBJECT = {"sqlite": "INDEXED BY ix_blacklist_entry_subject_key ", "postgresql": ""}


def parse_applicants(body: bytes) -> list[Any]:
    """The applicants of a check's JSON body `{"applicants": [...]}`; the body as a whole
    refused (nothing checked) if it is not that or holds more than MAX_APPLICANTS."""
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise InvalidCheck(detail="the body is not JSON", field="applicants") from None
    if not isinstance(parsed, dict) or set(parsed) != {"applicants"}:
        raise InvalidCheck(detail='the body must be {"applicants": [...]}', field="applicants")
    applicants = parsed["applicants"]
    if not isinstance(applicants, list) or not applicants:
        raise InvalidCheck(detail="applicants must be a non-empty list", field="applicants")
    if len(applicants) > MAX_APPLICANTS:
        raise InvalidCheck(detail=f"at most {MAX_APPLICANTS:,} applicants per check",
                           field="applicants")  # fmt: skip
    return applicants


def _key(secret: bytes, applicant: Any) -> bytes | tuple[str, str]:
    """The applicant's subject key, or (the field at fault, why) without its value."""
    if not isinstance(applicant, dict):
        return "", "must be an object with type and id_number"
    extra = set(applicant) - {"type", "id_number"}
    if extra:
        return sorted(extra)[0], "unknown field: an applicant has type and id_number only"
    kind = applicant.get("type")
    if kind not in (PERSON, ENTERPRISE):
        return "type", "must be 'person' or 'enterprise'"
    try:
        return bytes.fromhex(subject_key(secret, kind, applicant.get("id_number", ""))[2:])
    except InvalidIdentifier as err:
        return "id_number", str(err)


def member_statuses(conn: Connection) -> dict[str, dict[str, Any]]:
    """Every member by address, with its name and status, as the index holds them."""
    rows = conn.exec_driver_sql(
        f"SELECT {COLUMNS} FROM chain_event WHERE contract = 'Consortium' AND event IN "
        "('MemberAdded', 'MemberStatusChanged') ORDER BY block_number, log_index"
    )
    return fold_members([event_from_row(r) for r in rows])


def check_applicants(
    *,
    engine: Engine,
    secret: bytes,
    applicants: list[Any],
    progress: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Per applicant, in order: clear, listed (its active entries) or invalid (the field at
    fault, by position); and the block (and its time) the answer is as of."""
    keys: list[bytes | tuple[str, str]] = []
    for n, applicant in enumerate(applicants):
        keys.append(_key(secret, applicant))
        if progress and n % 10_000 == 9_999:
            progress(n + 1)
    wanted = list({k for k in keys if isinstance(k, bytes)})
    found: dict[bytes, list[dict[str, Any]]] = {}
    with read_connection(engine) as conn:
        conn.exec_driver_sql("BEGIN")
        try:
            cursor = conn.exec_driver_sql(
                "SELECT block_number, block_time FROM blacklist_cursor").first()  # fmt: skip
            block, now = (cursor[0], cursor[1]) if cursor else (None, None)
            members = member_statuses(conn) if now is not None else {}
            for start in range(0, len(wanted) if now is not None else 0, _CHUNK):
                chunk = wanted[start : start + _CHUNK]
                entry = _ENTRY.format(by_subject=_BY_SUBJECT[conn.dialect.name])
                sql = entry + f"({', '.join('?' * len(chunk))}) ORDER BY id"
                for row in conn.exec_driver_sql(sql, (now, *chunk)):
                    found.setdefault(row[1], []).append(_entry(row, members))
        finally:
            conn.exec_driver_sql("COMMIT")
    results: list[dict[str, Any]] = []
    for n, k in enumerate(keys):
        if isinstance(k, tuple):
            field = f"applicants[{n}]" + (f".{k[0]}" if k[0] else "")
            results.append({"position": n, "result": "invalid", "field": field, "detail": k[1]})
        elif k in found:
            results.append({"position": n, "result": "listed", "entries": found[k]})
        else:
            results.append({"position": n, "result": "clear"})
    if progress:
        progress(len(applicants))
    tally = {r: sum(1 for x in results if x["result"] == r) for r in ("clear", "listed", "invalid")}
    return {"as_of_block": block, "as_of_time": now, "checked": len(results), **tally,
            "results": results}  # fmt: skip


def _entry(row: Any, members: dict[str, dict[str, Any]]) -> dict[str, Any]:
    member = members.get(row[2], {})
    return {
        "entry_id": row[0], "member": row[2], "member_name": member.get("name"),
        "member_status": member.get("status", "unknown"), "reason": row[3],
        "listed_at": row[4], "expires_at": row[5], "disputed": bool(row[6]),
    }  # fmt: skip
