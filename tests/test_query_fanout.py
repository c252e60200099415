"""A lender's query across three member nodes on anvil, one of them killed mid-query."""

import json
import os
import secrets
import signal
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from web3 import HTTPProvider, Web3

from node.consents.purposes import PURPOSES
from node.crypto import eip712
from node.receipts.verify import verify_receipt
from tests.conftest import call_api, consortium_up, person, staff_token_in, store_has, wait_for


@pytest.fixture(scope="module")
def three(tmp_path_factory):
    with consortium_up(tmp_path_factory.mktemp("three"), 3) as state:
        yield state


def _loan(seq: int, member: int, **kw: Any) -> dict[str, Any]:
    return person(seq, record_id=f"M{member}-LN", account_id=f"M{member}-AC", kind="loan_opened",
                  days_past_due=None, amount_cents=100_000 * member, **kw)  # fmt: skip


def test_three_members_one_killed_mid_query_gives_a_partial_answer_naming_it(three):
    asker, holder, victim = three["members"]
    seq = 41
    for m, n in ((holder, 1), (victim, 2)):
        status, answer = call_api(
            m["url"] + "/v1/records", m["token"], {"records": [_loan(seq, n)]}
        )
        assert status == 200 and answer["accepted"] == 1, answer
    for m, n in ((holder, 1), (victim, 2)):
        wait_for(lambda m=m, n=n: call_api(m["url"] + f"/v1/records/M{n}-LN", m["token"],
                                        method="GET")[1]["state"] == "anchored",
                 timeout=60, what="records anchored")  # fmt: skip

    borrower = Account.create()
    subject = {"type": "person", "id_number": person(seq)["subject"]["id_number"]}
    status, bound = call_api(holder["url"] + "/v1/bindings", holder["token"],
                          {"subject": subject, "address": borrower.address})  # fmt: skip
    assert status == 200, bound
    key = bound["subject_key"]
    wait_for(lambda: store_has(holder["data"], "SELECT 1 FROM consent_binding WHERE borrower = ?",
                              borrower.address), timeout=30, what="binding indexed")  # fmt: skip
    now = int(time.time())
    message = {"subjectKey": key, "grantee": asker["address"],
               "purpose": PURPOSES.index("loan_application"), "validFrom": now - 60,
               "validUntil": now + 86_400, "nonce": 1}  # fmt: skip
    typed = json.loads(json.dumps(call_api(
        holder["url"] + "/v1/consents/typed-data?" + urllib.parse.urlencode({
            "subject_key": key, "grantee": asker["address"], "purpose": "loan_application",
            "valid_from": now - 60, "valid_until": now + 86_400, "nonce": "1"}),
        None, method="GET")[1]))  # fmt: skip
    status, relayed = call_api(holder["url"] + "/v1/consents", None, {
        "message": message, "signature": eip712.sign(typed, borrower.key),
        "borrower": borrower.address})  # fmt: skip
    assert status == 200, relayed
    consent = relayed["consent_id"]
    for m in (holder, victim):
        wait_for(lambda m=m: store_has(m["data"], "SELECT 1 FROM consent WHERE consent_id = ?",
                                      consent), timeout=30, what="consent indexed")  # fmt: skip

    operator = staff_token_in(Path(asker["data"]), "query_operator")
    os.kill(victim["pid"], signal.SIGSTOP)  # it takes the connection and never answers
    answers: list[tuple[int, Any]] = []
    query = {"subject": subject, "consent_id": consent, "purpose": "loan_application",
             "timeout_s": 4}  # fmt: skip
    asking = threading.Thread(
        target=lambda: answers.append(call_api(asker["url"] + "/v1/queries", operator, query))
    )
    asking.start()
    time.sleep(1)
    os.kill(victim["pid"], signal.SIGKILL)  # killed while the query waits on it
    asking.join(60)

    status, answer = answers[0]
    assert status == 200, answer
    assert answer["partial"] is True and answer["missing"] == [victim["name"]]
    by_name = {m["name"]: m for m in answer["members"]}
    assert by_name[victim["name"]]["status"] in ("timeout", "unreachable")
    assert by_name[holder["name"]]["status"] == "answered"
    assert [r["record_id"] for r in by_name[holder["name"]]["records"]] == ["M1-LN"]
    assert answer["summary"]["open_loans"] == 1 and answer["summary"]["lenders"] == 1
    assert answer["summary"]["open_balance_cents"] == 100_000

    status, log = call_api(asker["url"] + "/v1/operator-log?limit=1000", asker["token"],
                        method="GET")  # fmt: skip
    entry = next(e for e in log["entries"] if e["action"] == "POST /v1/queries")
    assert consent.startswith(entry["target"])  # the operator log keeps 64 characters of it
    assert subject["id_number"] not in json.dumps(log)

    # the borrower reads the answering member's trail: this one query, provable from the chain
    def trail() -> dict:
        message = {"subjectKey": key, "node": holder["address"], "issuedAt": int(time.time()),
                   "nonce": "0x" + secrets.token_hex(32)}  # fmt: skip
        typed = eip712.login_typed_data(message, typed_domain)
        headers = {"X-Creditchain-Login": json.dumps(message),
                   "X-Creditchain-Login-Signature": eip712.sign(typed, borrower.key)}  # fmt: skip
        req = urllib.request.Request(holder["url"] + f"/v1/subjects/{key}/trail", headers=headers)
        with urllib.request.urlopen(req, timeout=30) as resp:
            return json.loads(resp.read())

    typed_domain = typed["domain"]
    wait_for(lambda: trail()["queries"][0]["receipt"] is not None, 60, "the query anchored")
    (logged,) = trail()["queries"]
    assert (logged["side"], logged["requester"], logged["consent_id"]) == (
        "holder", asker["address"], consent)  # fmt: skip
    verdict = verify_receipt(logged["receipt"], Web3(HTTPProvider(three["anvil"]["rpc"])))
    assert verdict.ok, verdict.checks
