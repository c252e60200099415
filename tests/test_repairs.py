"""Credit repair through one node: a repair of accurate negative information is refused
with a named error; a case against a wrong record goes on chain, a regulator refuses or
approves it, and an approved one removes the record (data keys destroyed, Revoked on chain)."""

from __future__ import annotations

import hashlib
from typing import Any

from fastapi.testclient import TestClient

from node.app import repair_removals
from node.members import service as members
from node.retention.policy import Policy
from node.retention.sweeper import RetentionSweeper
from tests.conftest import authorize, node_of, person, submit

DEFAULT = {k: v for k, v in person(901, kind="default", event_date="2025-07-31").items()
           if k != "days_past_due"}  # fmt: skip
OVERDUE = person(902, event_date="2025-06-30")
EVIDENCE = "0x" + hashlib.sha256(b"the bank statement").hexdigest()
REASON = "0x" + hashlib.sha256(b"the regulator's reasons").hexdigest()


def _repair(client: TestClient, record_id: str, ground: str) -> Any:
    body = {"record_id": record_id, "ground": ground, "evidence_hash": EVIDENCE}
    return client.post("/v1/repairs", json=body)


def _decide(client: TestClient, case_id: int, approve: bool) -> Any:
    body = {"approve": approve, "reason_hash": REASON}
    return client.post(f"/v1/repairs/{case_id}/decision", json=body)


def test_accurate_negative_information_is_not_repaired_away(node_client: TestClient) -> None:
    submit(node_client, [DEFAULT, OVERDUE])
    node = node_of(node_client)
    for record, until in ((DEFAULT, "5 years after it is settled"), (OVERDUE, "on 2030-06-30")):
        for ground in ("repaid", "hardship", "goodwill"):
            refused = _repair(node_client, record["record_id"], ground)
            assert refused.status_code == 409, refused.text
            body = refused.json()
            assert (body["error"], body["field"]) == ("accurate_negative_information", "ground")
            assert f"before its retention ends ({until})" in body["detail"]
    assert node.index.read("RepairCases").events == []  # nothing went to the chain
    assert node_client.get(f"/v1/records/{DEFAULT['record_id']}").status_code == 200
    unknown = _repair(node_client, "LN-NOT-OURS", "error")
    assert unknown.status_code == 404 and unknown.json()["error"] == "record_not_found"


def test_a_wrong_record_is_removed_once_a_regulator_approves_its_case(
    node_client: TestClient,
) -> None:
    node = node_of(node_client)
    submit(node_client, [DEFAULT])
    node.batcher.drain()
    policy = Policy(5, 5)
    sweeper = RetentionSweeper(engine=node.engine, policy=policy,
                               removals=repair_removals(node, policy))  # fmt: skip
    authorize(node_client, "submitter")
    assert _repair(node_client, DEFAULT["record_id"], "error").status_code == 403
    authorize(node_client, "dispute_handler")
    first = _repair(node_client, DEFAULT["record_id"], "error").json()
    assert (first["case_id"], first["state"], first["removed"]) == (1, "open", False)
    again = _repair(node_client, DEFAULT["record_id"], "error")
    assert again.status_code == 409 and again.json()["error"] == "repair_case_exists"

    authorize(node_client, "admin")
    not_yet = _decide(node_client, 1, True)  # this member is no regulator yet
    assert not_yet.status_code == 403 and not_yet.json()["error"] == "not_regulator"
    me = node.chain.client.account.address
    members.propose(chain=node.chain, action="grant_regulator", subject=me, index=node.index)

    (waiting,) = node_client.get("/v1/repairs", params={"state": "open"}).json()["cases"]
    assert waiting["case_id"] == 1 and waiting["member"] == me
    refused = _decide(node_client, 1, False).json()
    assert refused["state"] == "refused" and refused["decided_by"] == me
    sweeper.drain()
    assert node_client.get(f"/v1/records/{DEFAULT['record_id']}").status_code == 200  # kept
    decided_twice = _decide(node_client, 1, True)
    assert decided_twice.status_code == 409 and decided_twice.json()["error"] == (
        "repair_case_decided"
    )

    second = _repair(node_client, DEFAULT["record_id"], "error").json()
    assert second["case_id"] == 2 and second["state"] == "open"
    assert _decide(node_client, 2, True).json()["state"] == "approved"
    sweeper.drain()
    gone = node_client.get(f"/v1/records/{DEFAULT['record_id']}")
    assert gone.status_code == 410 and gone.json()["error"] == "record_erased"
    node.batcher.drain()  # the Revoked mark queued with the removal
    assert node.index.catch_up(timeout=60)
    commitment = bytes.fromhex(second["commitment"][2:])
    assert node.chain.registry.functions.statusOf(commitment).call() == 3  # Revoked
    assert node_client.get("/v1/repairs/2").json()["removed"] is True
    listed = node_client.get("/v1/repairs").json()["cases"]
    assert [(c["case_id"], c["state"]) for c in listed] == [(1, "refused"), (2, "approved")]
    (erasure,) = node_client.get("/v1/retention/erasures").json()["entries"]
    assert erasure["reason"] == "repaired" and erasure["chain"]["status"] == "revoked"
    assert erasure["on_schedule"] is None  # not a retention expiry: no schedule to keep
