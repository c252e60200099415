"""Credit repair across a three-member consortium on anvil: the holder opens a case against
its own wrong record, the regulator decides it from its own node, and every node sees the
same case; an approved case removes the record at the holder alone (its data keys destroyed,
Revoked on chain, so the receipt the lender was given no longer verifies as active), and a
refused one keeps it."""

from __future__ import annotations

import hashlib
from typing import Any

from fastapi.testclient import TestClient

from node.receipts.verify import verify_receipt
from tests.conftest import node_of, person, submit
from tests.test_blacklist_consortium import _same_block, trio  # noqa: F401  (the fixture)

EVIDENCE = "0x" + hashlib.sha256(b"the bank's own ledger").hexdigest()
REASON = "0x" + hashlib.sha256(b"the regulator's reasons").hexdigest()
REVOKED = 3  # RecordRegistry.RecordStatus


def _wrong_record(client: TestClient, seq: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """A default anchored by `client`'s member, and its receipt."""
    record = {k: v for k, v in person(seq, kind="default", event_date="2025-07-31").items()
              if k != "days_past_due"}  # fmt: skip
    submit(client, [record])
    node_of(client).batcher.drain()
    receipt = client.get(f"/v1/records/{record['record_id']}/receipt")
    assert receipt.status_code == 200, receipt.text
    return record, dict(receipt.json())


def _open_case(client: TestClient, record_id: str) -> dict[str, Any]:
    body = {"record_id": record_id, "ground": "error", "evidence_hash": EVIDENCE}
    opened = client.post("/v1/repairs", json=body)
    assert opened.status_code == 200, opened.text
    return dict(opened.json())


def _decide(client: TestClient, case_id: int, approve: bool) -> Any:
    return client.post(f"/v1/repairs/{case_id}/decision",
                       json={"approve": approve, "reason_hash": REASON})  # fmt: skip


def _sweep(client: TestClient) -> None:
    """The holder's retention sweeper (which carries out approved repairs), then its batcher
    (which marks the removed commitments on chain)."""
    client.app.state.retention_sweeper.drain()  # type: ignore[attr-defined]
    node_of(client).batcher.drain()


def test_the_regulator_decides_from_its_own_node_and_the_holder_removes_the_record(
    trio: list[TestClient],  # noqa: F811
) -> None:
    holder, lender, regulator = trio
    regulator_address = node_of(regulator).chain.client.account.address
    granted = holder.post("/v1/proposals", json={"action": "grant_regulator",
                                                 "subject": regulator_address})  # fmt: skip
    assert granted.json()["state"] == "executed", granted.text
    kept, kept_receipt = _wrong_record(holder, 921)
    wrong, wrong_receipt = _wrong_record(holder, 922)
    refused_case = _open_case(holder, kept["record_id"])["case_id"]
    approved_case = _open_case(holder, wrong["record_id"])["case_id"]
    _same_block(trio)

    for c in trio:  # every node lists both cases, open, against the holder
        listed = c.get("/v1/repairs", params={"state": "open"}).json()["cases"]
        assert [(x["case_id"], x["member"]) for x in listed] == [
            (refused_case, node_of(holder).chain.client.account.address),
            (approved_case, node_of(holder).chain.client.account.address),
        ]
    by_lender = _decide(lender, approved_case, True)
    assert by_lender.status_code == 403 and by_lender.json()["error"] == "not_regulator"
    by_holder = _decide(holder, approved_case, True)  # no member approves its own repair
    assert by_holder.status_code == 403 and by_holder.json()["error"] == "not_regulator"

    assert _decide(regulator, refused_case, False).json()["state"] == "refused"
    assert _decide(regulator, approved_case, True).json()["state"] == "approved"
    _same_block(trio)
    _sweep(holder)
    _same_block(trio)

    for c in trio:
        case = c.get(f"/v1/repairs/{approved_case}").json()
        assert (case["state"], case["decided_by"]) == ("approved", regulator_address)
        assert case["removed"] is (c is holder), case  # "removed" by this node
        refused = c.get(f"/v1/repairs/{refused_case}").json()
        assert (refused["state"], refused["removed"]) == ("refused", False)
    gone = holder.get(f"/v1/records/{wrong['record_id']}")
    assert gone.status_code == 410 and gone.json()["error"] == "record_erased"
    assert holder.get(f"/v1/records/{kept['record_id']}").status_code == 200

    w3 = node_of(lender).chain.client.w3  # the lender checks the receipts it was given
    assert verify_receipt(wrong_receipt, w3).status == "revoked"
    assert verify_receipt(kept_receipt, w3).status == "active"
    commitment = bytes.fromhex(wrong_receipt["commitment"][2:])
    for c in trio:  # the Revoked mark is in every node's index
        (changed,) = (
            node_of(c)
            .index.read("RecordRegistry", "RecordStatusChanged", where={"commitment": commitment})
            .events
        )
        assert changed.args["status"] == REVOKED
    (erasure,) = holder.get("/v1/retention/erasures").json()["entries"]
    assert erasure["reason"] == "repaired" and erasure["chain"]["status"] == "revoked"
    assert lender.get("/v1/retention/erasures").json()["entries"] == []  # not the lender's
