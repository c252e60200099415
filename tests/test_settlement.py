"""A default settled later: the settlement is a new `settled` record that names the
default's commitment, the default stays as it was (on chain, in reads and in another
member's answer), and both expire five years after the settlement, by the chain's time."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi.testclient import TestClient

from node.queries.holder import subject_receipts
from node.retention.policy import Policy, expiry_of
from node.retention.sweeper import RetentionSweeper
from tests.conftest import node_of, person, submit

DEFAULT = person(881, kind="default", event_date="2025-07-31", days_past_due=None,
                 record_id="LN-000881-D")  # fmt: skip
LOAN = person(881, kind="loan_opened", event_date="2025-01-10", days_past_due=None,
              record_id="LN-000881-L")  # fmt: skip


def _clean(record: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if v is not None}


def _settlement(settles: str, **overrides: Any) -> dict[str, Any]:
    base = person(881, kind="settled", event_date="2026-03-15", days_past_due=None,
                  record_id="LN-000881-S", settles=settles)  # fmt: skip
    return _clean({**base, **overrides})


def _entries(client: TestClient) -> dict[str, dict[str, Any]]:
    page = client.get("/v1/retention/schedule", params={"limit": 1000}).json()
    return {e["record_id"]: e for e in page["entries"]}


def test_a_settled_default_shows_both_records_and_both_expire_from_the_settlement(
    node_client: TestClient,
) -> None:
    node = node_of(node_client)
    default, loan = submit(node_client, [_clean(DEFAULT), _clean(LOAN)])["results"]
    sweeper = RetentionSweeper(engine=node.engine, policy=Policy(5, 5))
    sweeper.drain()
    assert _entries(node_client)["LN-000881-D"]["state"] == "open"  # unpaid: no expiry

    (settled,) = submit(node_client, [_settlement(default["commitment"])])["results"]
    assert settled["status"] == "accepted", settled
    node.batcher.drain()
    assert node.index.catch_up(timeout=60)
    sweeper.drain()

    kept = node_client.get("/v1/records/LN-000881-D").json()
    assert kept["version"] == 1 and kept["chain_status"] == "active"
    assert kept["commitment"] == default["commitment"] and kept["record"]["kind"] == "default"
    shown = node_client.get("/v1/records/LN-000881-S").json()
    assert shown["record"]["settles"] == default["commitment"]
    registry = node.chain.registry.functions
    assert registry.statusOf(bytes.fromhex(default["commitment"][2:])).call() == 0  # Active

    receipts, pending, erased = subject_receipts(
        engine=node.engine, keys=node.keys, subject_key=kept["record"]["subject_key"],
        chain_id=node.chain.chain_id, registry=node.chain.addresses["RecordRegistry"],
    )  # fmt: skip
    assert sorted(r["record"]["kind"] for r in receipts) == ["default", "loan_opened", "settled"]
    assert (pending, erased) == (0, [])

    entries = _entries(node_client)
    expires = expiry_of(dt.date(2026, 3, 15), 5)
    for record_id in ("LN-000881-D", "LN-000881-S"):
        e = entries[record_id]
        assert (e["state"], e["negative"], e["ended_on"], e["expires_at"]) == (
            "scheduled", True, "2026-03-15", expires)  # fmt: skip
    assert entries["LN-000881-L"]["negative"] is False

    tester = node.chain.client.w3.provider.ethereum_tester  # type: ignore[attr-defined]
    with node.chain.client.lock:
        tester.time_travel(expires + 1)
    assert node.index.catch_up(timeout=60)
    sweeper.drain()
    for record_id in ("LN-000881-D", "LN-000881-S"):
        assert node_client.get(f"/v1/records/{record_id}").status_code == 410
    assert node_client.get("/v1/records/LN-000881-L").status_code == 410  # 2030: long gone


def test_a_settlement_must_name_a_negative_current_record_of_the_same_subject(
    node_client: TestClient,
) -> None:
    default, loan = submit(node_client, [_clean(DEFAULT), _clean(LOAN)])["results"]
    other = submit(node_client, [_clean(person(882, kind="default", days_past_due=None))])
    cases = {
        "0x" + "ab" * 32: "no record of this member has that commitment",
        loan["commitment"]: "only an overdue, default or written_off record is settled",
        other["results"][0]["commitment"]: "the record it settles is about another subject",
    }
    for settles, said in cases.items():
        (refused,) = submit(node_client, [_settlement(settles)])["results"]
        assert refused["status"] == "rejected" and refused["field"] == "settles"
        assert refused["detail"].startswith(said)
    (wrong_kind,) = submit(node_client, [_settlement(default["commitment"], kind="repayment")])[
        "results"
    ]
    assert wrong_kind["status"] == "rejected" and wrong_kind["field"] == "settles"
    assert node_client.get("/v1/records/LN-000881-S").status_code == 404  # nothing stored
