"""Objections across a three-member consortium on anvil: an objection filed at one member
against another's record marks it disputed on every node's index after the same block; past
the deadline (anvil's clock moved on) the holder's answer is refused and the regulator's
ruling accepted, and every node's SLA view counts it as overdue. A reorg takes an answer,
then a filing, back out of the derived table."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from node.app import create_app
from node.receipts.verify import verify_receipt
from tests.conftest import authorize, make_settings, node_of, person, rpc, submit, wait_for
from tests.test_blacklist_consortium import _reorg, _same_block, trio  # noqa: F401  (the fixture)

PERIOD = 20 * 24 * 3600
DISPUTED = 2  # RecordRegistry.RecordStatus


def _anchored(client: TestClient, seq: int) -> dict[str, Any]:
    submit(client, [person(seq)])
    node_of(client).batcher.drain()
    resp = client.get(f"/v1/records/{person(seq)['record_id']}/receipt")
    assert resp.status_code == 200, resp.text
    return dict(resp.json())


def _object_for(client: TestClient, seq: int, receipt: dict[str, Any]) -> dict[str, Any]:
    """At `client`'s member, on the borrower's behalf, against another member's record."""
    body = {
        "subject": {"type": "person", "id_number": person(seq)["subject"]["id_number"]},
        "kind": "record", "commitment": receipt["commitment"], "reasons": "not my loan",
        "anchor": {k: receipt[k] for k in ("batch_id", "leaf_index", "proof")},
    }  # fmt: skip
    resp = client.post("/v1/disputes/objections", json=body)
    assert resp.status_code == 200, resp.text
    return dict(resp.json())


def _anvil_url(client: TestClient) -> str:
    return str(node_of(client).settings.rpc)


def test_an_objection_disputes_the_record_on_every_node_after_the_same_block(
    trio: list[TestClient],  # noqa: F811
) -> None:
    first, second, _third = trio
    receipt = _anchored(first, 901)
    filed = _object_for(second, 901, receipt)
    head = _same_block(trio)
    assert head >= filed["block_number"]

    holder = node_of(first).chain.client.account.address
    seen = []
    for c in trio:
        node = node_of(c)
        events = node.index.read(
            "RecordRegistry",
            "RecordStatusChanged",
            where={"commitment": bytes.fromhex(receipt["commitment"][2:])},
        ).events
        (changed,) = events
        assert (changed.args["status"], changed.block_number) == (DISPUTED, filed["block_number"])
        shown = c.get(f"/v1/disputes/objections/{filed['objection_id']}")
        assert int(shown.headers["X-Creditchain-As-Of-Block"]) == head
        seen.append(shown.json())
    assert seen[0] == seen[1] == seen[2]
    assert (seen[0]["state"], seen[0]["holder"], seen[0]["overdue"]) == ("open", holder, False)
    assert verify_receipt(receipt, node_of(second).chain.client.w3).status == "disputed"


def test_past_the_deadline_the_member_is_refused_and_the_regulator_rules(
    trio: list[TestClient],  # noqa: F811
) -> None:
    first, second, third = trio
    regulator = node_of(third).chain.client.account.address
    granted = first.post("/v1/proposals", json={"action": "grant_regulator",
                                                "subject": regulator})  # fmt: skip
    assert granted.json()["state"] == "executed", granted.text
    ruled_receipt = _anchored(first, 911)
    left_receipt = _anchored(first, 912)
    ruled = _object_for(second, 911, ruled_receipt)["objection_id"]
    left_open = _object_for(second, 912, left_receipt)["objection_id"]
    _same_block(trio)

    early = third.post(f"/v1/disputes/objections/{ruled}/ruling", json={
        "outcome": "upheld", "reason": "the member did not answer",
        "proof": ruled_receipt["proof"]})  # fmt: skip
    assert early.status_code == 409 and early.json()["error"] == "deadline_not_reached"

    anvil = _anvil_url(first)
    rpc(anvil, "evm_increaseTime", [PERIOD])
    rpc(anvil, "evm_mine")
    _same_block(trio)  # the holder's index has read the objections and the new clock
    late = first.post(f"/v1/disputes/objections/{ruled}/answer",
                      json={"outcome": "rejected", "reason": "too late"})  # fmt: skip
    assert late.status_code == 409, late.text
    assert (late.json()["error"], late.json()["field"]) == ("deadline_passed", "objection_id")
    not_regulator = second.post(f"/v1/disputes/objections/{ruled}/ruling", json={
        "outcome": "upheld", "reason": "r", "proof": ruled_receipt["proof"]})  # fmt: skip
    assert not_regulator.status_code == 403
    assert not_regulator.json()["error"] == "not_regulator"

    ruling = third.post(f"/v1/disputes/objections/{ruled}/ruling", json={
        "outcome": "upheld", "reason": "the member did not answer",
        "proof": ruled_receipt["proof"]})  # fmt: skip
    assert ruling.status_code == 200, ruling.text
    head = _same_block(trio)
    assert verify_receipt(ruled_receipt, node_of(first).chain.client.w3).status == "revoked"

    holder = node_of(first).chain.client.account.address
    for c in trio:
        shown = c.get(f"/v1/disputes/objections/{ruled}").json()
        assert shown["state"] == "upheld"
        assert shown["answer"]["by"] == regulator and shown["answer"]["by_regulator"] is True
        assert shown["answer"]["in_time"] is False and shown["answer"]["at"] >= shown["deadline"]
        assert c.get(f"/v1/disputes/objections/{left_open}").json()["overdue"] is True
        sla = c.get("/v1/disputes/sla")
        assert int(sla.headers["X-Creditchain-As-Of-Block"]) == head
        (row,) = [r for r in sla.json()["members"] if r["member"] == holder]
        still_open = c.get(
            "/v1/disputes/objections", params={"state": "open", "holder": holder.lower()}
        ).json()
        assert left_open in [o["objection_id"] for o in still_open["objections"]]
        assert all(o["overdue"] for o in still_open["objections"])  # all filed before the jump
        assert (row["open"], row["overdue_open"]) == (0, len(still_open["objections"]))
        assert (row["ruled"], row["overdue"]) == (1, row["overdue_open"] + 1)
        assert row["name"] == "test member"


def test_a_reorg_takes_an_answer_and_then_a_filing_back_out_of_the_derived_table(
    anvil: str, tmp_path: Path
) -> None:
    """On anvil, one member: an answer's block replaced by an empty one leaves the objection
    open again (derived anew from the filing the index still holds); the filing's block
    replaced as well leaves no objection at all."""
    with TestClient(create_app(make_settings(tmp_path / "data", anvil), run_batcher=False)) as c:
        authorize(c)
        receipt = _anchored(c, 931)
        filed = _object_for(c, 931, receipt)
        objection = filed["objection_id"]
        answered = c.post(f"/v1/disputes/objections/{objection}/answer",
                          json={"outcome": "rejected", "reason": "the loan is theirs"})  # fmt: skip
        assert answered.status_code == 200, answered.text
        wait_for(lambda: c.get(f"/v1/disputes/objections/{objection}").json()["state"]
                 == "rejected", 30, "the answer indexed")  # fmt: skip

        _reorg(c, anvil, 1)  # the answer's block is replaced
        shown = c.get(f"/v1/disputes/objections/{objection}").json()
        assert (shown["state"], shown["answer"]) == ("open", None)
        assert c.get("/v1/disputes/sla").json()["members"][0]["open"] == 1

        _reorg(c, anvil, 2)  # and now the filing's
        assert c.get(f"/v1/disputes/objections/{objection}").status_code == 404
        assert c.get("/v1/disputes/sla").json()["members"] == []
