"""The summary a lender reads first, from records already verified."""

import datetime as dt

from node.queries.summary import summarise

TODAY = dt.date(2026, 11, 24)


def rec(kind: str, account: str, day: str, **more: object) -> dict:
    return {"kind": kind, "account_id": account, "event_date": day, "chain_status": "active",
            **more}  # fmt: skip


def test_open_loans_balance_worst_arrears_applications_and_lenders_across_members():
    answer = summarise(
        {
            "0xA": [
                rec("loan_opened", "A1", "2026-01-10", amount_cents=100_000),
                rec("repayment", "A1", "2026-03-10", balance_cents=60_000),
                rec("overdue", "A1", "2026-10-30", balance_cents=55_000, days_past_due=40),
                rec("loan_opened", "A2", "2025-01-10", amount_cents=9_000),
                rec("settled", "A2", "2025-06-10"),
                rec("loan_application", "APP1", "2026-11-01"),
            ],
            "0xB": [
                rec("loan_opened", "B1", "2026-08-01", amount_cents=20_000),
                rec("loan_application", "APP2", "2026-09-15"),
                rec("loan_application", "APP3", "2026-05-01"),
            ],
            "0xC": [rec("loan_opened", "C1", "2026-02-01", amount_cents=7_000)],
        },
        TODAY,
    )
    assert answer == {
        "open_loans": 3,  # A1, B1, C1; A2 is settled
        "open_balance_cents": 55_000 + 20_000 + 7_000,
        "worst_days_past_due": 40,
        "loan_applications_30d": 1,
        "loan_applications_90d": 2,
        "lenders": 3,
    }


def test_a_loan_back_to_current_has_no_days_past_due_and_revoked_records_do_not_count():
    answer = summarise(
        {
            "0xA": [
                rec("loan_opened", "A1", "2026-01-10", amount_cents=100_000),
                rec("overdue", "A1", "2026-05-30", days_past_due=95),
                rec("repayment", "A1", "2026-07-01", balance_cents=10_000),
                rec("loan_opened", "A9", "2026-01-10", amount_cents=5_000, chain_status="revoked"),
            ]
        },
        TODAY,
    )
    assert answer["worst_days_past_due"] == 0
    assert (answer["open_loans"], answer["open_balance_cents"], answer["lenders"]) == (1, 10_000, 1)
