"""The borrower's own report from their node: what the node holds about them, with receipts
and statuses, for their signature alone; free twice a calendar year, a third refused with the
rule named and nothing changed."""

import datetime as dt
import hashlib
import os
import time
from typing import Any

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from fastapi.testclient import TestClient

from node.crypto import eip712
from node.crypto.subjects import make_resident_id
from node.db import read_connection, write_transaction
from node.receipts.verify import STATUSES, verify_receipt
from node.reports import quota
from node.reports.errors import FreeReportsUsed
from tests.conftest import bind_borrower, node_of, person, submit

SEQ = 8801


class Borrower:
    """A borrower bound at the node of `client`, with records there about their subject."""

    def __init__(self, client: TestClient, seq: int = SEQ) -> None:
        self.client, self.node = client, node_of(client)
        self.account: LocalAccount = Account.create()
        self.id_number = make_resident_id(seq)
        resp = bind_borrower(client, self.account.address, self.id_number)
        assert resp.status_code == 200, resp.text
        self.subject: str = resp.json()["subject_key"]

    def request(self, signer: LocalAccount | None = None, **overrides: Any) -> dict[str, Any]:
        """A signed ReportRequest for this node, as the body of POST .../report."""
        chain = self.node.chain
        message = {"subjectKey": self.subject, "node": chain.client.account.address,
                   "issuedAt": int(time.time()), "nonce": "0x" + os.urandom(32).hex()}  # fmt: skip
        message.update(overrides)
        data = eip712.report_typed_data(
            message, eip712.domain(chain.chain_id, chain.addresses["ConsentRegistry"])
        )
        signature = eip712.sign(data, (signer or self.account).key)
        return {"request": message, "signature": signature, "scope": "node"}

    def ask(self, body: dict[str, Any], subject: str | None = None) -> Any:
        return self.client.post(f"/v1/subjects/{subject or self.subject}/report", json=body,
                                headers={"Authorization": ""})  # fmt: skip

    def counted(self) -> int:
        with read_connection(self.node.engine) as conn:
            return int(conn.exec_driver_sql("SELECT COUNT(*) FROM report_given").scalar() or 0)

    def nonces_used(self) -> int:
        with read_connection(self.node.engine) as conn:
            return int(conn.exec_driver_sql("SELECT COUNT(*) FROM login_nonce").scalar() or 0)


@pytest.fixture
def borrower(store_client: TestClient) -> Borrower:
    """A borrower with two records at a node on each store (SQLite, PostgreSQL)."""
    node_client = store_client
    records = [person(SEQ, record_id="RP-1", account_id="RP-AC1"),
               person(SEQ, record_id="RP-2", account_id="RP-AC2", kind="loan_opened",
                      days_past_due=None),
               person(SEQ + 1, record_id="RP-OTHER")]  # fmt: skip
    assert submit(node_client, records)["accepted"] == 3
    node_of(node_client).batcher.drain()
    return Borrower(node_client)


def test_the_borrower_gets_every_record_the_node_holds_with_receipt_and_status(borrower):
    resp = borrower.ask(borrower.request())
    assert resp.status_code == 200, resp.text
    report = resp.json()
    assert report["subject_key"] == borrower.subject and report["partial"] is False
    (mine,) = report["members"]
    assert mine["member"] == borrower.node.chain.client.account.address
    assert mine["status"] == "answered" and mine["pending"] == 0
    assert sorted(r["record"]["record_id"] for r in mine["records"]) == ["RP-1", "RP-2"]
    assert {r["chain_status"] for r in mine["records"]} == {"active"}
    for item in mine["records"]:
        assert item["record"]["subject_key"] == borrower.subject
        assert borrower.id_number not in str(item)  # the record carries the pseudonym alone
        verdict = verify_receipt(item["receipt"], borrower.node.chain.client.w3)
        assert verdict.ok and verdict.status == "active", verdict.checks
    assert [b["address"] for b in report["bindings"]] == [borrower.account.address]
    assert report["consents"] == [] and mine["queries"] == []
    assert mine["free_reports"]["used"] == 1 and mine["free_reports"]["left"] == 1


def test_the_typed_data_the_node_hands_out_is_the_request_it_takes(borrower):
    nonce = "0x" + os.urandom(32).hex()
    path = f"/v1/subjects/{borrower.subject}/report/typed-data"
    data = borrower.client.get(path, params={"issued_at": int(time.time()), "nonce": nonce}).json()
    assert data["primaryType"] == "ReportRequest"
    assert data["message"]["node"] == borrower.node.chain.client.account.address
    body = {"request": data["message"], "signature": eip712.sign(data, borrower.account.key)}
    assert borrower.ask(body).status_code == 200


def test_a_third_free_report_in_a_year_is_refused_with_the_rule_named(borrower):
    for used in (1, 2):
        resp = borrower.ask(borrower.request())
        assert resp.status_code == 200, resp.text
        assert resp.json()["members"][0]["free_reports"]["used"] == used
    counted, nonces = borrower.counted(), borrower.nonces_used()

    resp = borrower.ask(borrower.request())
    assert resp.status_code == 429, resp.text
    refusal = resp.json()
    assert refusal["error"] == "free_reports_used"
    assert refusal["rule"] == "征信业管理条例 Art. 17" and refusal["rule"] in refusal["detail"]
    year = dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).year
    assert refusal["next_free_at"] == f"{year + 1}-01-01T00:00:00+08:00"
    assert refusal["next_free_at"] in refusal["detail"]
    assert 0 < int(resp.headers["Retry-After"]) <= 366 * 86_400
    assert (borrower.counted(), borrower.nonces_used()) == (counted, nonces)  # nothing changed

    # asked of the whole consortium, the refusal is this member's section, named
    body = {**borrower.request(), "scope": "consortium"}
    resp = borrower.ask(body)
    assert resp.status_code == 200, resp.text
    (mine,) = resp.json()["members"]
    assert mine["status"] == "refused" and mine["error"]["error"] == "free_reports_used"
    assert resp.json()["missing"] == [mine["name"]] and mine["records"] == []
    assert borrower.counted() == counted


def test_only_a_fresh_request_signed_by_an_address_bound_to_the_subject_is_answered(borrower):
    stranger = Account.create()
    other = Borrower(borrower.client, SEQ + 1)
    cases = [
        (borrower.request(signer=stranger), 403, "login_unbound"),
        (other.request(), 403, "report_other_subject"),  # signed for another subject
        (other.request(subjectKey=borrower.subject), 403, "login_unbound"),
        (borrower.request(node=stranger.address), 401, "login_forged"),
        (borrower.request(issuedAt=int(time.time()) - 3600), 401, "login_stale"),
        ({**borrower.request(), "signature": "0x" + "00" * 65}, 401, "login_forged"),
    ]
    for body, status, code in cases:
        resp = borrower.ask(body)
        assert (resp.status_code, resp.json()["error"]) == (status, code), (code, resp.text)
    assert borrower.counted() == 0

    body = borrower.request()
    assert borrower.ask(body).status_code == 200
    replayed = borrower.ask(body)
    assert (replayed.status_code, replayed.json()["error"]) == (401, "login_replayed")
    assert borrower.counted() == 1


def test_a_malformed_request_is_refused_naming_the_field(borrower):
    body = borrower.request()
    body["request"]["nonce"] = "0x12"
    resp = borrower.ask(body)
    assert resp.status_code == 422 and "nonce" in str(resp.json()["field"]), resp.text
    assert borrower.counted() == 0


def test_the_count_is_per_calendar_year_in_china_standard_time(node_client):
    engine = node_of(node_client).engine
    new_year = dt.datetime(2027, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=8))).timestamp()

    def claim(at: float, n: int) -> Any:
        with write_transaction(engine) as conn:
            return quota.claim(conn, subject_key="0x" + "ab" * 32, gatherer="0x" + "00" * 20,
                               nonce=f"0x{n:064x}", member="m", per_year=2, now=at,
                               max_age=1e9)  # fmt: skip

    claim(new_year - 86_400 * 200, 1)
    claim(new_year - 1, 2)  # 23:59:59 on 31 December, Beijing time
    with pytest.raises(FreeReportsUsed) as refused:
        claim(new_year - 1, 3)
    assert refused.value.next_free_at == int(new_year)
    assert claim(new_year, 4).used == 1  # 00:00 on 1 January: a new year's first


def test_each_record_carries_its_status_on_chain_as_the_index_read_it(borrower):
    """The holder revokes one of its records on chain and marks both expired in their batch's
    bitmap: the next report shows the revoked one revoked (final), the other expired."""
    first = borrower.ask(borrower.request()).json()["members"][0]["records"]
    receipt = next(r["receipt"] for r in first if r["record"]["record_id"] == "RP-1")
    chain = borrower.node.chain
    revoked = STATUSES.index("revoked")
    tx = chain.client.send(chain.registry.functions.setStatus(
        bytes.fromhex(receipt["commitment"][2:]), receipt["batch_id"], receipt["leaf_index"],
        [bytes.fromhex(h[2:]) for h in receipt["proof"]], revoked), gas=500_000)  # fmt: skip
    assert chain.client.wait_receipt(tx)["status"] == 1
    assert {r["record"]["record_id"]: r["chain_status"] for r in first} == {
        "RP-1": "active", "RP-2": "active"}  # fmt: skip

    # both leaves marked in their batch's expiry bitmap: RP-2 expires, RP-1 stays revoked
    other = next(r["receipt"] for r in first if r["record"]["record_id"] == "RP-2")
    assert other["batch_id"] == receipt["batch_id"]
    bits = 1 << receipt["leaf_index"] | 1 << other["leaf_index"]
    tx = chain.client.send(chain.registry.functions.expireLeaves(receipt["batch_id"], [0], [bits]),
                           gas=200_000)  # fmt: skip
    assert chain.client.wait_receipt(tx)["status"] == 1
    borrower.node.index.catch_up()
    report = borrower.ask(borrower.request()).json()
    statuses = {r["record"]["record_id"]: r["chain_status"]
                for r in report["members"][0]["records"]}  # fmt: skip
    assert statuses == {"RP-1": "revoked", "RP-2": "expired"}


def test_a_record_left_unresolved_carries_the_borrowers_statement_in_the_report(borrower):
    """The borrower objects to RP-1, the holder answers unresolved: the report shows the
    statement (as a hash) beside RP-1, and none beside RP-2."""
    client = borrower.client
    reasons = "the overdue days are wrong"
    subject = {"type": "person", "id_number": borrower.id_number}
    filed = client.post("/v1/disputes/objections", json={
        "subject": subject, "kind": "record", "record_id": "RP-1", "reasons": reasons})  # fmt: skip
    assert filed.status_code == 200, filed.text
    answered = client.post(f"/v1/disputes/objections/{filed.json()['objection_id']}/answer",
                           json={"outcome": "unresolved", "reason": "no agreement"})  # fmt: skip
    assert answered.status_code == 200, answered.text

    report = borrower.ask(borrower.request()).json()
    shown = {r["record"]["record_id"]: (r["chain_status"], r["statement_hash"])
             for r in report["members"][0]["records"]}  # fmt: skip
    statement = "0x" + hashlib.sha256(reasons.encode()).hexdigest()
    assert shown == {"RP-1": ("active", statement), "RP-2": ("active", None)}
