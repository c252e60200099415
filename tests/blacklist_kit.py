"""Helpers the blacklist tests share: notices, listings and checks through a node's API."""

from __future__ import annotations

import datetime as dt
from typing import Any

from node.crypto.subjects import make_resident_id

NOTICE_TEXT = "您在本机构的贷款已逾期，如不在七日内还款，将被列入共享黑名单。"


def applicant(seq: int) -> dict[str, str]:
    return {"type": "person", "id_number": make_resident_id(seq)}


def notice(client: Any, seq: int, **kw: Any) -> dict[str, Any]:
    body = {"subject": applicant(seq), "channel": "sms", "text": NOTICE_TEXT, **kw}
    resp = client.post("/v1/blacklist/notices", json=body)
    assert resp.status_code == 200, resp.text
    return resp.json()


def listing(client: Any, seq: int, **kw: Any) -> Any:
    """POST a listing of person `seq` (ended a year ago, fraud); the raw response."""
    body = {
        "subject": applicant(seq),
        "reason": "fraud",
        "event_end_date": (dt.date.today() - dt.timedelta(days=365)).isoformat(),
        "evidence": "0x" + "ab" * 32,
        **kw,
    }
    return client.post("/v1/blacklist/entries", json=body)


def list_after_notice(client: Any, seq: int, **kw: Any) -> dict[str, Any]:
    notice(client, seq)
    resp = listing(client, seq, **kw)
    assert resp.status_code == 200, resp.text
    return resp.json()


def check(client: Any, applicants: list[Any]) -> dict[str, Any]:
    resp = client.post("/v1/blacklist/checks", json={"applicants": applicants})
    assert resp.status_code == 200, resp.text
    answer = resp.json()
    assert int(resp.headers["X-Creditchain-As-Of-Block"]) == answer["as_of_block"]
    return answer
