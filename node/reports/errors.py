"""The reports domain's refusals. The borrower's signature is refused with the login's codes
(node/consents/errors.py: login_forged, login_stale, login_unbound, login_replayed)."""

import datetime as dt
from typing import Any

from node.errors import DomainError

RULE = "征信业管理条例 Art. 17"


class ReportsError(DomainError):
    code, status, detail = "report_refused", 400, "the report was refused"


class ReportOtherSubject(ReportsError):
    code, status, field = "report_other_subject", 403, "request.subjectKey"
    detail = "the signed request asks for another subject's report"


class FreeReportsUsed(ReportsError):
    """The subject's free reports of this calendar year at this member are used: the answer
    names the rule and when the next free report is available (nothing was given or
    counted)."""

    code, status = "free_reports_used", 429

    def __init__(self, member: str, per_year: int, next_free_at: int, now: float) -> None:
        self.member, self.per_year, self.next_free_at = member, per_year, next_free_at
        self.retry_after = max(1, int(next_free_at - now))
        super().__init__(
            member,
            detail=f"{RULE}: a borrower's report is free {per_year} times a calendar year "
            f"at each member; this subject's {per_year} at {member} are used. The next free "
            f"report from this member is available from {iso(next_free_at)}",
        )

    def context(self) -> dict[str, Any]:
        return {"rule": RULE, "member": self.member, "free_per_year": self.per_year,
                "next_free_at": iso(self.next_free_at)}  # fmt: skip

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


CST = dt.timezone(dt.timedelta(hours=8), "CST")  # China Standard Time: no daylight saving


def iso(at: int) -> str:
    """A time as the borrower reads it: ISO 8601 in China Standard Time."""
    return dt.datetime.fromtimestamp(at, CST).isoformat()
