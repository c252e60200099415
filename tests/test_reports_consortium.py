"""The borrower's report gathered across three member nodes on anvil with one signature: each
member checks the signature and counts its own free reports, and the borrower's node checks
every record a member sends against the chain."""

import asyncio
import os
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import orjson
import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3 import HTTPProvider, Web3

from node.chain.setup import Chain, connect_chain
from node.crypto import eip712
from node.keys.store import load_secrets
from node.queries.verify import AnswerRejected, BatchBook
from node.receipts.verify import verify_receipt
from node.reports.gather import PEER_PATH, gather, peer_request, verify_queries
from tests.conftest import (
    call_api,
    consortium_up,
    person,
    staff_token_in,
    store_has,
    wait_for,
)

RULE = "征信业管理条例 Art. 17"


@pytest.fixture(scope="module")
def three(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    with consortium_up(tmp_path_factory.mktemp("reports"), 3) as state:
        yield state


@pytest.fixture(scope="module")
def gatherer_chain(three: dict[str, Any]) -> Iterator[Chain]:
    """The chain as the first member's node sees it, with its member key."""
    first = three["members"][0]
    member = load_secrets(Path(first["data"]) / "keys", create=False).member
    chain = connect_chain(data=Path(first["data"]), rpc=three["anvil"]["rpc"], member=member,
                          member_name=first["name"])  # fmt: skip
    yield chain
    chain.close()


def _hold(member: dict[str, Any], n: int, seq: int, count: int = 1) -> list[str]:
    """`count` anchored records about person `seq` at `member`; their record ids."""
    ids = [f"M{n}-RP{seq}-{i}" for i in range(count)]
    records = [person(seq, record_id=r, account_id=r + "-AC") for r in ids]
    status, answer = call_api(member["url"] + "/v1/records", member["token"], {"records": records})
    assert status == 200 and answer["accepted"] == count, answer
    for r in ids:
        wait_for(lambda r=r: call_api(member["url"] + f"/v1/records/{r}", member["token"],
                                      method="GET")[1]["state"] == "anchored",
                 timeout=60, what="records anchored")  # fmt: skip
    return ids


def _bind(three: dict[str, Any], seq: int) -> tuple[LocalAccount, str]:
    """A borrower bound to person `seq` at the first member, the binding in every index."""
    first = three["members"][0]
    borrower = Account.create()
    subject = {"type": "person", "id_number": person(seq)["subject"]["id_number"]}
    status, bound = call_api(first["url"] + "/v1/bindings", first["token"],
                             {"subject": subject, "address": borrower.address})  # fmt: skip
    assert status == 200, bound
    for m in three["members"]:
        wait_for(lambda m=m: store_has(m["data"], "SELECT 1 FROM consent_binding WHERE "
                                       "borrower = ?", borrower.address),
                 timeout=30, what="binding indexed")  # fmt: skip
    return borrower, bound["subject_key"]


def _signed(member: dict[str, Any], key: str, signer: LocalAccount, scope: str) -> dict:
    """A body for POST /v1/subjects/{key}/report at `member`: the ReportRequest its node hands
    out, signed by `signer`."""
    query = f"issued_at={int(time.time())}&nonce=0x{os.urandom(32).hex()}"
    status, typed = call_api(member["url"] + f"/v1/subjects/{key}/report/typed-data?{query}",
                             None, method="GET")  # fmt: skip
    assert status == 200, typed
    return {"request": typed["message"], "signature": eip712.sign(typed, signer.key),
            "scope": scope, "timeout_s": 10}  # fmt: skip


def _report(member: dict[str, Any], key: str, body: dict) -> tuple[int, Any]:
    return call_api(member["url"] + f"/v1/subjects/{key}/report", None, body)


def _given(member: dict[str, Any], key: str) -> int:
    """The reports `member` counted for the subject (its store, read only)."""
    with sqlite3.connect(f"file:{member['data']}/node.db?mode=ro", uri=True) as conn:
        sql = "SELECT COUNT(*) FROM report_given WHERE subject_key = ?"
        return int(conn.execute(sql, (key,)).fetchone()[0])


def _queried(three: dict[str, Any], borrower: LocalAccount, key: str, seq: int) -> None:
    """The first member queries the others about person `seq` under the borrower's consent;
    returns once each other member's query log entry is anchored (its trail has a receipt)."""
    first = three["members"][0]
    now = int(time.time())
    params = {"subject_key": key, "grantee": first["address"], "purpose": "loan_application",
              "valid_from": now - 60, "valid_until": now + 86_400, "nonce": str(seq)}  # fmt: skip
    status, typed = call_api(first["url"] + "/v1/consents/typed-data?" + urlencode(params), None,
                             method="GET")  # fmt: skip
    assert status == 200, typed
    status, relayed = call_api(first["url"] + "/v1/consents", None, {
        "message": typed["message"], "signature": eip712.sign(typed, borrower.key),
        "borrower": borrower.address})  # fmt: skip
    assert status == 200, relayed
    consent = relayed["consent_id"]
    for m in three["members"]:
        wait_for(lambda m=m: store_has(m["data"], "SELECT 1 FROM consent WHERE consent_id = ?",
                                       consent), timeout=30, what="consent indexed")  # fmt: skip
    operator = staff_token_in(Path(first["data"]), "query_operator")
    subject = {"type": "person", "id_number": person(seq)["subject"]["id_number"]}
    status, answer = call_api(first["url"] + "/v1/queries", operator, {
        "subject": subject, "consent_id": consent, "purpose": "loan_application"})  # fmt: skip
    assert status == 200 and answer["partial"] is False, answer
    for m in three["members"][1:]:
        wait_for(lambda m=m: store_has(m["data"], "SELECT 1 FROM query_log q JOIN batch b ON "
                                       "q.leaf_id BETWEEN b.first_leaf AND b.last_leaf "
                                       "WHERE q.subject_key = ? AND b.state = 'confirmed'", key),
                 timeout=60, what="the query anchored")  # fmt: skip


def test_the_report_gathers_the_records_of_the_other_members_each_checked(three, gatherer_chain):
    first, second, third = three["members"]
    seq = 71
    held = {first["name"]: _hold(first, 0, seq), second["name"]: _hold(second, 1, seq, 2),
            third["name"]: _hold(third, 2, seq)}  # fmt: skip
    borrower, key = _bind(three, seq)
    _queried(three, borrower, key, seq)

    status, report = _report(first, key, _signed(first, key, borrower, "consortium"))
    assert status == 200, report
    assert report["partial"] is False and report["missing"] == [], report["members"]
    assert [s["name"] for s in report["members"]] == [first["name"], second["name"],
                                                      third["name"]]  # fmt: skip
    w3 = Web3(HTTPProvider(three["anvil"]["rpc"]))
    for section in report["members"]:
        assert section["status"] == "answered", section
        ids = sorted(r["record"]["record_id"] for r in section["records"])
        assert ids == held[section["name"]]
        for item in section["records"]:
            assert item["chain_status"] == "active" and item["record"]["subject_key"] == key
            verdict = verify_receipt(item["receipt"], w3)  # a stranger's check agrees
            assert verdict.ok and verdict.status == "active", verdict.checks
        assert section["free_reports"]["used"] == 1 and section["free_reports"]["left"] == 1
        if section["name"] == first["name"]:  # the asker: one entry per member it asked
            assert sorted(q["holder"] for q in section["queries"]) == sorted(
                [second["address"], third["address"]]
            )
            continue
        (query,) = section["queries"]  # the member's own log: the query it answered
        assert (query["side"], query["requester"]) == ("holder", first["address"])
        assert verify_receipt(query["receipt"], w3).ok
        for altered in (
            {**query, "purpose": "guarantee_review"},  # shown as another purpose
            {**query, "receipt": {**query["receipt"], "salt": "0x" + "00" * 32}},
        ):
            with pytest.raises(AnswerRejected) as caught:
                verify_queries(gatherer_chain, BatchBook(gatherer_chain), holder=section["member"],
                               subject_key=key, items=[altered])  # fmt: skip
            assert caught.value.record_id == f"query {query['query_id']}"
    assert [b["address"] for b in report["bindings"]] == [borrower.address]
    assert all(_given(m, key) == 1 for m in three["members"])


def test_a_third_report_in_a_year_at_one_member_is_refused_with_the_rule_while_others_answer(
    three,
):
    first, second, third = three["members"]
    seq = 72
    _hold(second, 1, seq)
    _hold(third, 2, seq)
    borrower, key = _bind(three, seq)
    # the borrower asked the second member's node for its own report once already
    status, alone = _report(second, key, _signed(second, key, borrower, "node"))
    assert status == 200 and [s["name"] for s in alone["members"]] == [second["name"]], alone

    status, report = _report(first, key, _signed(first, key, borrower, "consortium"))
    assert status == 200 and report["partial"] is False, report  # the second's second report
    status, report = _report(first, key, _signed(first, key, borrower, "consortium"))
    assert status == 200, report
    by_name = {s["name"]: s for s in report["members"]}
    refused = by_name[second["name"]]
    assert refused["status"] == "refused" and refused["records"] == []
    assert refused["error"]["error"] == "free_reports_used" and refused["error"]["rule"] == RULE
    assert RULE in refused["error"]["detail"]
    assert refused["error"]["next_free_at"].endswith("-01-01T00:00:00+08:00")
    assert report["partial"] is True and report["missing"] == [second["name"]]
    for name in (first["name"], third["name"]):
        assert by_name[name]["status"] == "answered"
        assert by_name[name]["free_reports"]["used"] == 2
    assert [r["record"]["record_id"] for r in by_name[third["name"]]["records"]] == [
        f"M2-RP{seq}-0"
    ]
    assert (_given(first, key), _given(second, key), _given(third, key)) == (2, 2, 2)

    # the second member's own node refuses a third just the same, and counts nothing
    status, answer = _report(second, key, _signed(second, key, borrower, "node"))
    assert (status, answer["error"]) == (429, "free_reports_used"), answer
    assert _given(second, key) == 2


def test_a_forged_or_unbound_signature_is_refused_by_the_gatherer_and_by_each_member(
    three, gatherer_chain
):
    first, second, third = three["members"]
    seq = 73
    _hold(second, 1, seq)
    borrower, key = _bind(three, seq)
    stranger = Account.create()

    status, answer = _report(first, key, _signed(first, key, stranger, "consortium"))
    assert (status, answer["error"]) == (403, "login_unbound"), answer
    forged = {**_signed(first, key, borrower, "consortium"), "signature": "0x" + "11" * 65}
    status, answer = _report(first, key, forged)
    assert (status, answer["error"]) == (401, "login_forged"), answer

    # a member's node asked directly by the first member's node checks the signature itself
    def to_second(body: dict) -> tuple[int, Any]:
        content, headers = peer_request(gatherer_chain, request=body["request"],
                                        signature=body["signature"])  # fmt: skip
        resp = httpx.post(second["url"] + PEER_PATH, content=content, headers=headers)
        return resp.status_code, resp.json()

    assert to_second(_signed(first, key, stranger, "node"))[1]["error"] == "login_unbound"
    assert to_second(forged)[1]["error"] == "login_forged"
    # a request the borrower gave the third member's node, sent on by the first's
    status, answer = to_second(_signed(third, key, borrower, "node"))
    assert (status, answer["error"], answer["field"]) == (401, "login_forged", "node"), answer
    assert all(_given(m, key) == 0 for m in three["members"])

    genuine = _signed(first, key, borrower, "node")
    status, section = to_second(genuine)
    assert status == 200 and [r["record"]["record_id"] for r in section["records"]] == [
        f"M1-RP{seq}-0"
    ]
    assert to_second(genuine)[1]["error"] == "login_replayed"
    assert _given(second, key) == 1


class Tampering(httpx.AsyncBaseTransport):
    """The holder's answer with one byte of its first record changed on the way."""

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        resp = await self.inner.handle_async_request(request)
        body = orjson.loads(await resp.aread())
        first = body["records"][0]
        first["record"]["amount_cents"] += 1  # the record shown, and the one its receipt holds
        first["receipt"]["record"]["amount_cents"] += 1
        return httpx.Response(resp.status_code, content=orjson.dumps(body))


def test_a_record_altered_by_a_holder_is_caught_and_a_dead_member_named(three, gatherer_chain):
    first, _, third = three["members"]
    seq = 74
    held = _hold(third, 2, seq, 2)
    borrower, key = _bind(three, seq)
    holder = {"address": third["address"], "name": third["name"], "node_url": third["url"]}
    dead = {"address": "0x" + "de" * 20, "name": "dead", "node_url": "http://127.0.0.1:9"}

    def gathered(transport: httpx.AsyncBaseTransport | None) -> dict[str, Any]:
        body = _signed(first, key, borrower, "consortium")
        sections = asyncio.run(gather(
            chain=gatherer_chain, members=[holder, dead], subject_key=key,
            request=body["request"], signature=body["signature"], timeout=10,
            transport=transport))  # fmt: skip
        return {s["name"]: s for s in sections}

    honest = gathered(None)
    assert honest[third["name"]]["status"] == "answered"
    assert sorted(r["record"]["record_id"] for r in honest[third["name"]]["records"]) == held
    assert honest["dead"]["status"] == "unreachable"

    tampered = gathered(Tampering())[third["name"]]
    assert tampered["status"] == "rejected" and tampered["records"] == []
    assert tampered["error"]["error"] == "answer_rejected"
    assert tampered["error"]["record_id"] in held
    assert third["address"] in tampered["error"]["detail"]
