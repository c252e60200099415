"""The free reports of a year (征信业管理条例 Art. 17: a borrower may see their own report,
free twice a year). Each member counts and enforces its own: a report this node gave, to the
borrower on this node or gathered for them by another member's node, is one row of
report_given; the count is per subject, over the calendar year in China Standard Time (from
1 January 00:00 +08:00), so that the next free report is on a date anyone can name.

A report refused here changes nothing: the claim (the request's nonce and the count) is one
write transaction, rolled back whole when the year's free reports are used.
"""

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Connection

from node.consents.login import claim_nonce
from node.reports.errors import CST, FreeReportsUsed, iso


def year_window(now: float) -> tuple[int, int]:
    """The calendar year (China Standard Time) holding `now`: its first second and the next
    year's, unix seconds."""
    year = dt.datetime.fromtimestamp(now, CST).year
    start = dt.datetime(year, 1, 1, tzinfo=CST)
    return int(start.timestamp()), int(start.replace(year=year + 1).timestamp())


@dataclass(frozen=True)
class Allowance:
    """Where the subject stands at this member after a report was given."""

    per_year: int
    used: int
    next_year: int  # when the count starts afresh, unix seconds

    def public(self) -> dict[str, Any]:
        return {"per_year": self.per_year, "used": self.used,
                "left": max(0, self.per_year - self.used),
                "counted_until": iso(self.next_year)}  # fmt: skip


def used_this_year(conn: Connection, subject_key: str, now: float) -> int:
    start, end = year_window(now)
    count = conn.exec_driver_sql(
        "SELECT COUNT(*) FROM report_given WHERE subject_key = ? AND given_at >= ? "
        "AND given_at < ?",
        (subject_key, start, end),
    ).scalar()
    return int(count or 0)


def claim(
    conn: Connection,
    *,
    subject_key: str,
    gatherer: str,
    nonce: str,
    member: str,
    per_year: int,
    now: float,
    max_age: float,
) -> Allowance:
    """In the caller's write transaction: the signed request's nonce used (LoginReplayed if
    it was), then one report counted; FreeReportsUsed if the year's are used already."""
    claim_nonce(conn, nonce=nonce, subject_key=subject_key, now=now, max_age=max_age)
    used = used_this_year(conn, subject_key, now)
    next_year = year_window(now)[1]
    if used >= per_year:
        raise FreeReportsUsed(member, per_year, next_year, now)
    conn.exec_driver_sql(
        "INSERT INTO report_given (subject_key, gatherer, nonce, given_at) VALUES (?, ?, ?, ?)",
        (subject_key, gatherer, nonce, int(now)),
    )
    return Allowance(per_year, used + 1, next_year)
