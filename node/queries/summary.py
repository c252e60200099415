"""What a lender reads first: the applicant's borrowing across members, from verified records.

A loan is an account (member, account_id) with a `loan_opened` record; it is open until its
latest record is `settled` or `written_off`. Its balance is the latest `balance_cents` reported
(or the amount lent); its current days past due those of its latest record when that is
`overdue` or `default`. Records revoked or expired on chain are left out.
"""

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

CLOSED_KINDS = frozenset({"settled", "written_off"})
LATE_KINDS = frozenset({"overdue", "default"})
COUNTED_STATUSES = frozenset({"active", "disputed", "superseded"})


def summarise(records_by_member: dict[str, Iterable[dict[str, Any]]], today: dt.date) -> dict:
    """Open loans and their balance, worst current days past due, loan applications in the
    last 30 and 90 days, and how many members the applicant has an open loan with."""
    accounts: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    applications: list[dt.date] = []
    for member, records in records_by_member.items():
        for r in records:
            if r.get("chain_status", "active") not in COUNTED_STATUSES:
                continue
            if r["kind"] == "loan_application":
                applications.append(dt.date.fromisoformat(r["event_date"]))
            else:
                accounts[(member, r["account_id"])].append(r)
    open_loans, balance, worst, lenders = 0, 0, 0, set()
    for (member, _), history in accounts.items():
        if not any(r["kind"] == "loan_opened" for r in history):
            continue
        history.sort(key=lambda r: r["event_date"])
        latest = history[-1]
        if latest["kind"] in CLOSED_KINDS:
            continue
        open_loans += 1
        lenders.add(member)
        reported = [r["balance_cents"] for r in history if "balance_cents" in r]
        lent = [r.get("amount_cents", 0) for r in history if r["kind"] == "loan_opened"]
        balance += reported[-1] if reported else lent[-1]
        if latest["kind"] in LATE_KINDS:
            worst = max(worst, latest.get("days_past_due", 0))
    return {
        "open_loans": open_loans,
        "open_balance_cents": balance,
        "worst_days_past_due": worst,
        "loan_applications_30d": sum(d > today - dt.timedelta(days=30) for d in applications),
        "loan_applications_90d": sum(d > today - dt.timedelta(days=90) for d in applications),
        "lenders": len(lenders),
    }
