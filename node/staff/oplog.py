"""The operator log: one row per call made with a valid staff token, and one row per source,
account named, outcome and minute for the calls turned away before a token was proven.

A stranger's flood would otherwise write a permanent row per request. Refusals are counted in
memory (RefusalTally) and appended as one row with its count once their minute is over, when
the node stops, and before anyone reads the log, so what an auditor reads is complete. Only a
node killed outright loses the counts of its last minute; those calls changed nothing. Rows are
only ever inserted: the store's triggers abort any UPDATE or DELETE. Knows nothing of HTTP.
"""

import threading
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Engine

from node.db import read_connection, write_transaction

SEVERAL_ROUTES = "*"  # the action of a tally whose calls went to more than one route
OTHER_SOURCES = "*"  # the client of a tally kept once MAX_TALLIES are in use in one minute
MAX_TALLIES = 10_000

_INSERT = (
    "INSERT INTO operator_log (at, who, role, action, outcome, status, client, count, target) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_AT_US = "CAST(ROUND(at * 1000000) AS BIGINT)"  # as datetime.fromtimestamp rounds it
CLI_STATUS = 0  # the status of an entry for an action taken with the CLI, not over HTTP


def append_log(
    *,
    engine: Engine,
    who: str,
    role: str | None,
    action: str,
    outcome: str,
    status: int,
    client: str | None,
    target: str | None = None,
) -> None:
    """Add one entry to the operator log (there is no way to change or remove one)."""
    row = (time.time(), who, role, action, outcome, status, client, 1, target)
    with write_transaction(engine) as conn:
        conn.exec_driver_sql(_INSERT, row)


def read_log(
    *,
    engine: Engine,
    after_id: int,
    limit: int,
    who: str | None = None,
    action: str | None = None,
    since_us: int | None = None,
    until_us: int | None = None,
) -> list[dict[str, Any]]:
    """Up to `limit` entries after entry `after_id`, oldest first; only those of staff account
    `who`, of `action` (e.g. "GET /v1/records/{record_id}"), at `since_us` or later, before
    `until_us`, for each given. Times are whole microseconds since 1970 (UTC), as the API
    shows them, so that an entry's own shown time finds it."""
    keys = ("id", "at", "who", "role", "action", "outcome", "status", "client", "count", "target")
    where, params = ["id > ?"], list[object]([after_id])
    for clause, value in (
        ("who = ?", who),
        ("action = ?", action),
        (f"{_AT_US} >= ?", since_us),
        (f"{_AT_US} < ?", until_us),
    ):
        if value is not None:
            where.append(clause)
            params.append(value)
    with read_connection(engine) as conn:
        rows = conn.exec_driver_sql(
            f"SELECT {', '.join(keys)} FROM operator_log WHERE {' AND '.join(where)} "
            "ORDER BY id LIMIT ?",
            (*params, limit),
        ).all()
    return [dict(zip(keys, row, strict=True)) for row in rows]


# (minute, client, who, role, outcome, status)
_Key = tuple[int, str | None, str, str | None, str, int]


@dataclass
class _Tally:
    at: float  # the first call's time
    action: str
    count: int


class RefusalTally:
    """Refused calls counted per minute, source, account named and outcome, until appended."""

    def __init__(self) -> None:
        self._tallies: dict[_Key, _Tally] = {}
        self._lock = threading.Lock()

    def add(
        self,
        *,
        who: str,
        role: str | None,
        action: str,
        outcome: str,
        status: int,
        client: str | None,
        now: float | None = None,
    ) -> None:
        now = time.time() if now is None else now
        key: _Key = (int(now // 60), client, who, role, outcome, status)
        with self._lock:
            if key not in self._tallies and len(self._tallies) >= MAX_TALLIES:
                key = (key[0], OTHER_SOURCES, "unauthenticated", None, outcome, status)
            tally = self._tallies.get(key)
            if tally is None:
                self._tallies[key] = _Tally(now, action, 1)
                return
            tally.count += 1
            if tally.action != action:
                tally.action = SEVERAL_ROUTES

    def _take(self, before_minute: int | None) -> dict[_Key, _Tally]:
        with self._lock:
            taken = {
                k: t
                for k, t in self._tallies.items()
                if before_minute is None or k[0] < before_minute
            }
            for key in taken:
                del self._tallies[key]
        return taken

    def _put_back(self, taken: dict[_Key, _Tally]) -> None:
        with self._lock:
            for key, tally in taken.items():
                mine = self._tallies.get(key)
                if mine is None:
                    self._tallies[key] = tally
                else:
                    mine.at = min(mine.at, tally.at)
                    mine.count += tally.count
                    if mine.action != tally.action:
                        mine.action = SEVERAL_ROUTES

    def flush(self, *, engine: Engine, everything: bool = False) -> int:
        """Append the tallies of minutes that are over (`everything`: the current one too),
        oldest first, in one transaction; the number of rows appended. If the store refuses,
        they stay here for the next flush."""
        taken = self._take(None if everything else int(time.time() // 60))
        if not taken:
            return 0
        rows = sorted(
            (
                (t.at, who, role, t.action, outcome, status, client, t.count, None)
                for (_, client, who, role, outcome, status), t in taken.items()
            ),
            key=lambda row: row[0],
        )
        try:
            with write_transaction(engine) as conn:
                for row in rows:
                    conn.exec_driver_sql(_INSERT, row)
        except BaseException:
            self._put_back(taken)
            raise
        return len(rows)
