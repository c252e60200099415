"""Objections through one node's API on its embedded chain: filed by staff or signed by the
borrower, the record disputed on chain at once; answers by the holder (rejected, upheld after
the correction, unresolved with the borrower's statement); the SLA view and the trail."""

from __future__ import annotations

import copy
import hashlib
import json
import secrets
import time
from typing import Any

import pytest
from eth_account import Account
from fastapi.testclient import TestClient

from node.cli import main as cli
from node.crypto import eip712
from node.queries import requester
from node.queries.verify import BatchBook
from node.receipts.verify import verify_receipt
from tests.blacklist_kit import applicant, list_after_notice
from tests.conftest import bind_borrower, node_of, person, staff_token, submit
from tests.test_queries import World, world  # noqa: F401  (the fixture)

REASONS = "这笔逾期在到期日前已经还清，附银行回单。"


def _anchored(client: TestClient, seq: int) -> dict[str, Any]:
    """Person `seq`'s overdue record, submitted and anchored; its receipt."""
    submit(client, [person(seq)])
    node_of(client).batcher.drain()
    resp = client.get(f"/v1/records/{person(seq)['record_id']}/receipt")
    assert resp.status_code == 200, resp.text
    return dict(resp.json())


def _object(client: TestClient, seq: int, **kw: Any) -> Any:
    subject = {"type": "person", "id_number": person(seq)["subject"]["id_number"]}
    body = {"subject": subject, "kind": "record", "record_id": person(seq)["record_id"],
            "reasons": REASONS, **kw}  # fmt: skip
    return client.post("/v1/disputes/objections", json=body)


def _status(client: TestClient, receipt: dict[str, Any]) -> str:
    return verify_receipt(receipt, node_of(client).chain.client.w3).status


def test_staff_objection_disputes_the_record_at_once_with_a_twenty_day_deadline(
    node_client: TestClient,
) -> None:
    receipt = _anchored(node_client, 1)
    resp = _object(node_client, 1)
    assert resp.status_code == 200, resp.text
    filed = resp.json()
    assert _status(node_client, receipt) == "disputed"

    shown = node_client.get(f"/v1/disputes/objections/{filed['objection_id']}")
    assert shown.status_code == 200
    assert int(shown.headers["X-Creditchain-As-Of-Block"]) >= filed["block_number"]
    objection = shown.json()
    me = node_of(node_client).chain.client.account.address
    assert objection["deadline"] == objection["filed_at"] + 20 * 24 * 3600 == filed["deadline"]
    assert (objection["state"], objection["overdue"], objection["answer"]) == ("open", False, None)
    assert (objection["holder"], objection["filed_by"], objection["borrower"]) == (me, me, None)
    assert objection["target"] == receipt["commitment"]
    assert objection["anchor"] == {"batch_id": receipt["batch_id"],
                                   "leaf_index": receipt["leaf_index"]}  # fmt: skip
    assert objection["reasons_hash"] == "0x" + hashlib.sha256(REASONS.encode()).hexdigest()
    assert REASONS not in json.dumps(objection)

    again = _object(node_client, 1, reasons="again")
    assert again.status_code == 409 and again.json()["error"] == "already_objected"
    assert again.json()["field"] == "target"


def test_the_holder_rejects_and_the_record_is_active_again(node_client: TestClient) -> None:
    receipt = _anchored(node_client, 2)
    objection_id = _object(node_client, 2).json()["objection_id"]
    body = {"outcome": "rejected", "reason": "matches the ledger"}
    resp = node_client.post(f"/v1/disputes/objections/{objection_id}/answer", json=body)
    assert resp.status_code == 200, resp.text
    assert _status(node_client, receipt) == "active"
    objection = node_client.get(f"/v1/disputes/objections/{objection_id}").json()
    assert objection["state"] == "rejected"
    assert objection["answer"]["in_time"] is True and objection["answer"]["by_regulator"] is False
    closed = node_client.post(f"/v1/disputes/objections/{objection_id}/answer",
                              json={"outcome": "rejected", "reason": "x"})  # fmt: skip
    assert closed.status_code == 409 and closed.json()["error"] == "objection_closed"


def test_upholding_needs_the_corrected_version_which_supersedes_the_disputed_one(
    node_client: TestClient,
) -> None:
    receipt = _anchored(node_client, 3)
    objection_id = _object(node_client, 3).json()["objection_id"]
    body = {"outcome": "upheld", "reason": "the overdue was a posting error"}
    early = node_client.post(f"/v1/disputes/objections/{objection_id}/answer", json=body)
    assert early.status_code == 409 and early.json()["error"] == "not_corrected"
    assert early.json()["field"] == "outcome"

    corrected = copy.deepcopy(person(3))
    corrected["days_past_due"] = 0
    corrected["kind"] = "repayment"
    submit(node_client, [corrected])
    node_of(node_client).batcher.drain()  # anchors the new version, supersedes the old
    assert _status(node_client, receipt) == "superseded"
    resp = node_client.post(f"/v1/disputes/objections/{objection_id}/answer", json=body)
    assert resp.status_code == 200, resp.text
    assert node_client.get(f"/v1/disputes/objections/{objection_id}").json()["state"] == "upheld"


def _login(client: TestClient, borrower: Any, subject_key: str) -> dict[str, str]:
    chain = node_of(client).chain
    message = {"subjectKey": subject_key, "node": chain.client.account.address,
               "issuedAt": int(time.time()), "nonce": "0x" + secrets.token_hex(32)}  # fmt: skip
    data = eip712.login_typed_data(
        message, eip712.domain(chain.chain_id, chain.addresses["ConsentRegistry"])
    )
    return {"X-Creditchain-Login": json.dumps(message),
            "X-Creditchain-Login-Signature": eip712.sign(data, borrower.key)}  # fmt: skip


def test_a_borrowers_signed_objection_left_unresolved_carries_their_statement_in_the_trail(
    node_client: TestClient,
) -> None:
    receipt = _anchored(node_client, 4)
    borrower = Account.create()
    bound = bind_borrower(node_client, borrower.address, person(4)["subject"]["id_number"])
    assert bound.status_code == 200, bound.text
    subject_key = bound.json()["subject_key"]
    reasons_hash = "0x" + hashlib.sha256(REASONS.encode()).hexdigest()
    params = {"subject_key": subject_key, "kind": 0, "target": receipt["commitment"],
              "reasons_hash": reasons_hash, "nonce": "1"}  # fmt: skip
    data = node_client.get("/v1/disputes/typed-data", params=params).json()
    signature = eip712.sign(data, borrower.key)
    anchor = {k: receipt[k] for k in ("batch_id", "leaf_index", "proof")}
    body = {"message": data["message"], "signature": signature, "borrower": borrower.address,
            "anchor": anchor}  # fmt: skip
    staff = node_client.headers.pop("Authorization")  # the borrower's own signature, no token

    forged = eip712.sign(data, Account.create().key)
    refused = node_client.post("/v1/disputes/signed", json={**body, "signature": forged})
    assert refused.status_code == 403 and refused.json()["error"] == "forged_signature"
    no_anchor = node_client.post("/v1/disputes/signed", json={**body, "anchor": None})
    assert no_anchor.status_code == 422 and no_anchor.json()["field"] == "anchor"
    assert _status(node_client, receipt) == "active"

    resp = node_client.post("/v1/disputes/signed", json=body)
    assert resp.status_code == 200, resp.text
    objection_id = resp.json()["objection_id"]
    assert _status(node_client, receipt) == "disputed"
    replay = node_client.post("/v1/disputes/signed", json=body)
    assert replay.status_code == 409 and replay.json()["error"] == "signature_used"

    node_client.headers["Authorization"] = staff
    unresolved = {"outcome": "unresolved", "reason": "no agreement"}
    answered = node_client.post(f"/v1/disputes/objections/{objection_id}/answer", json=unresolved)
    assert answered.status_code == 200, answered.text
    assert _status(node_client, receipt) == "active"

    node_client.headers.pop("Authorization")
    trail = node_client.get(f"/v1/subjects/{subject_key}/trail",
                            headers=_login(node_client, borrower, subject_key))  # fmt: skip
    assert trail.status_code == 200, trail.text
    (shown,) = trail.json()["objections"]
    assert (shown["objection_id"], shown["state"], shown["borrower"]) == (
        objection_id, "unresolved", borrower.address)  # fmt: skip
    assert shown["statement_hash"] == reasons_hash and shown["target"] == receipt["commitment"]


def test_the_sla_view_counts_per_member_and_bad_requests_name_their_field(
    node_client: TestClient, capsys: pytest.CaptureFixture[str]
) -> None:
    _anchored(node_client, 5)
    _anchored(node_client, 6)
    first = _object(node_client, 5).json()["objection_id"]
    _object(node_client, 6)
    node_client.post(
        f"/v1/disputes/objections/{first}/answer", json={"outcome": "rejected", "reason": "r"}
    )
    me = node_of(node_client).chain.client.account.address
    sla = node_client.get("/v1/disputes/sla")
    assert sla.status_code == 200
    (row,) = sla.json()["members"]
    assert (row["member"], row["total"], row["open"], row["answered_in_time"]) == (me, 2, 1, 1)
    assert (row["overdue"], row["overdue_open"], row["ruled"]) == (0, 0, 0)
    assert row["name"] == "founding member"  # the embedded chain's consortium of one
    capsys.readouterr()
    data = str(node_of(node_client).settings.data)
    assert cli(["disputes", "sla", "--json", "--data", data]) == 0
    assert json.loads(capsys.readouterr().out) == sla.json()  # the same index, the same view
    listed = node_client.get("/v1/disputes/objections", params={"state": "open"}).json()[
        "objections"
    ]
    assert [o["state"] for o in listed] == ["open"]

    missing = _object(node_client, 7, record_id=None)
    assert missing.status_code == 422 and missing.json()["field"] == "commitment"
    unknown = _object(node_client, 7)
    assert unknown.status_code == 404 and unknown.json()["field"] == "record_id"
    gone = node_client.get("/v1/disputes/objections/999")
    assert gone.status_code == 404 and gone.json()["error"] == "unknown_objection"
    node_client.headers["Authorization"] = f"Bearer {staff_token(node_client, 'query_operator')}"
    refused = _object(node_client, 5)
    assert refused.status_code == 403


def test_the_statement_is_shown_beside_the_record_at_the_holder_and_in_a_peers_answer(
    world: World,  # noqa: F811
) -> None:
    client = world.client
    subject = {"type": "person", "id_number": person(7)["subject"]["id_number"]}
    body = {"subject": subject, "kind": "record", "record_id": "LN-7-OD", "reasons": REASONS}
    filed = client.post("/v1/disputes/objections", json=body)
    assert filed.status_code == 200, filed.text
    objection_id = filed.json()["objection_id"]
    shown = client.get("/v1/records/LN-7-OD").json()
    assert (shown["open_objection"], shown["statement_hash"]) == (objection_id, None)
    unresolved = {"outcome": "unresolved", "reason": "no agreement"}
    assert (
        client.post(f"/v1/disputes/objections/{objection_id}/answer", json=unresolved).status_code
        == 200
    )

    statement = "0x" + hashlib.sha256(REASONS.encode()).hexdigest()
    shown = client.get("/v1/records/LN-7-OD").json()
    assert (shown["open_objection"], shown["statement_hash"]) == (None, statement)
    assert client.get("/v1/records/LN-7").json()["statement_hash"] is None

    answer = world.ask(world.consent()).json()  # the holder answers a peer's query
    result = {"member": answer["holder"], "answer": answer}
    requester._check(world.node.chain, BatchBook(world.node.chain), result, world.subject,
                     world.node.engine)  # fmt: skip
    by_id = {r["record_id"]: r for r in result["records"]}
    assert by_id["LN-7-OD"]["statement_hash"] == statement
    assert by_id["LN-7-OD"]["chain_status"] == "active"
    assert "statement_hash" not in by_id["LN-7"]


def test_an_objection_to_a_blacklist_entry_flags_it_until_answered(
    node_client: TestClient,
) -> None:
    entry = list_after_notice(node_client, 31)["entry_id"]
    body = {"subject": applicant(32), "kind": "blacklist_entry", "entry_id": entry,
            "reasons": REASONS}  # fmt: skip
    other = node_client.post("/v1/disputes/objections", json=body)
    assert other.status_code == 422 and other.json()["error"] == "subject_mismatch"
    filed = node_client.post("/v1/disputes/objections", json={**body, "subject": applicant(31)})
    assert filed.status_code == 200, filed.text
    objection_id = filed.json()["objection_id"]
    assert node_client.get(f"/v1/blacklist/entries/{entry}").json()["disputed"] is True
    objection = node_client.get(f"/v1/disputes/objections/{objection_id}").json()
    assert (objection["kind"], objection["target"], objection["anchor"]) == (
        "blacklist_entry", entry, None)  # fmt: skip

    upheld = {"outcome": "upheld", "reason": "listed in error"}
    early = node_client.post(f"/v1/disputes/objections/{objection_id}/answer", json=upheld)
    assert early.status_code == 409 and early.json()["error"] == "not_corrected"
    delisted = node_client.post(f"/v1/blacklist/entries/{entry}/delist",
                                json={"reason": "dispute_upheld"})  # fmt: skip
    assert delisted.status_code == 200, delisted.text
    done = node_client.post(f"/v1/disputes/objections/{objection_id}/answer", json=upheld)
    assert done.status_code == 200, done.text
    shown = node_client.get(f"/v1/blacklist/entries/{entry}").json()
    assert (shown["disputed"], shown["status"], shown["end_reason"]) == (
        False, "delisted", "dispute_upheld")  # fmt: skip
