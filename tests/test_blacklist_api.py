"""The blacklist through one node's API on its embedded chain: notice before listing, expiry
at the block time's exact second, bulk checks that name a bad applicant by its place, and
`creditchain blacklist check` on CSV and JSON Lines files."""

from __future__ import annotations

import datetime as dt
import json
import secrets
import time
from typing import Any

from eth_account import Account

from node.blacklist import service
from node.blacklist.sweeper import ExpirySweeper
from node.cli import main as cli
from node.crypto import eip712
from node.crypto.subjects import make_resident_id
from tests.blacklist_kit import applicant, check, list_after_notice, listing, notice
from tests.conftest import authorize, bind_borrower, node_of, person, submit, whole_operator_log


def test_listing_without_a_notice_is_refused_through_the_api(node_client: Any) -> None:
    refused = listing(node_client, 1)
    assert refused.status_code == 409
    assert refused.json()["error"] == "notice_required" and refused.json()["field"] == "notice_id"
    by_contract = listing(node_client, 1, notice_id=7)  # no such notice: the eth_call says so
    assert by_contract.status_code == 409 and by_contract.json()["error"] == "notice_required"
    assert check(node_client, [applicant(1)])["results"][0]["result"] == "clear"

    given = notice(node_client, 1)
    entry = listing(node_client, 1, notice_id=given["notice_id"]).json()
    assert entry["status"] == "listed" and entry["notice_id"] == given["notice_id"]
    again = listing(node_client, 1)  # the notice served its one listing
    assert again.status_code == 409 and again.json()["error"] == "notice_required"
    (found,) = check(node_client, [applicant(1)])["results"][0]["entries"]
    assert found["entry_id"] == entry["entry_id"] and found["member_status"] == "active"


def test_a_bad_identifier_or_a_missing_evidence_is_a_422_naming_the_field(
    node_client: Any,
) -> None:
    bad = {"type": "person", "id_number": make_resident_id(5)[:-1] + "0"}
    resp = node_client.post("/v1/blacklist/notices",
                            json={"subject": bad, "channel": "sms", "text": "t"})  # fmt: skip
    assert resp.status_code == 422 and resp.json()["field"] == "subject.id_number"
    assert bad["id_number"] not in resp.text
    resp = listing(node_client, 5, evidence=None)
    assert resp.status_code == 422 and resp.json()["field"] == "record_id"
    node = node_of(node_client)
    assert node.index.read("Blacklist").events == []  # nothing reached the chain


def test_a_record_of_ours_is_the_evidence_by_its_record_id(node_client: Any) -> None:
    record = person(8)
    (accepted,) = submit(node_client, [record])["results"]
    notice(node_client, 8)
    unknown = listing(node_client, 8, evidence=None, record_id="LN-NOT-OURS")
    assert unknown.status_code == 404 and unknown.json()["field"] == "record_id"
    entry = listing(node_client, 8, evidence=None, record_id=record["record_id"])
    assert entry.status_code == 200, entry.text
    assert entry.json()["evidence"] == accepted["commitment"]


def test_expiry_at_the_exact_boundary_second_by_block_time(node_client: Any) -> None:
    node = node_of(node_client)
    years = node.settings.blacklist_retention_years
    ended = dt.date.today() - dt.timedelta(days=365 * years - 3)  # expires in about 3 days
    entry = list_after_notice(node_client, 2, event_end_date=ended.isoformat())
    expires = service.expiry_of(ended, years)
    assert entry["expires_at"] == expires

    def block_at(timestamp: int) -> dict[str, Any]:
        tester = node.chain.client.w3.provider.ethereum_tester  # type: ignore[attr-defined]
        with node.chain.client.lock:  # mines a block one second before the time it is given
            tester.time_travel(timestamp + 1)
        assert node.index.catch_up(timeout=60)
        answer = check(node_client, [applicant(2)])
        assert answer["as_of_time"] == timestamp
        return answer

    assert block_at(expires - 1)["results"][0]["result"] == "listed"
    sweeper = ExpirySweeper(engine=node.engine, chain=node.chain)
    assert sweeper.step() is False  # not due yet
    assert block_at(expires)["results"][0]["result"] == "clear"
    assert service.get_entry(engine=node.engine, entry_id=entry["entry_id"])[0]["status"] == (
        "listed"
    )  # still listed on chain, but matching no more at this block's time
    assert sweeper.step() is True
    assert node.index.catch_up(timeout=60)
    (trail,) = service.entries_for_subject(engine=node.engine, subject_key=entry["subject_key"])
    assert trail["status"] == "expired" and trail["active"] is False


def test_a_bulk_check_with_one_malformed_identifier_answers_the_rest_and_names_it(
    node_client: Any,
) -> None:
    listed = list_after_notice(node_client, 3)
    bad_id = make_resident_id(4)[:-1] + ("0" if make_resident_id(4)[-1] != "0" else "1")
    applicants = [applicant(10), applicant(3), {"type": "person", "id_number": bad_id},
                  {"type": "enterprise", "id_number": "91110000X"}, applicant(11)]  # fmt: skip
    authorize(node_client, "query_operator")
    answer = check(node_client, applicants)
    assert [r["result"] for r in answer["results"]] == [
        "clear", "listed", "invalid", "invalid", "clear"]  # fmt: skip
    assert answer["results"][2]["field"] == "applicants[2].id_number"
    assert answer["results"][3]["field"] == "applicants[3].id_number"
    assert (answer["checked"], answer["clear"], answer["listed"], answer["invalid"]) == (5, 2, 1, 2)
    assert answer["results"][1]["entries"][0]["entry_id"] == listed["entry_id"]
    assert bad_id not in json.dumps(answer)

    authorize(node_client, "internal_auditor")
    (logged,) = [e for e in whole_operator_log(node_client)
                 if e["action"] == "POST /v1/blacklist/checks"]  # fmt: skip
    assert logged["target"] == "5 applicants" and logged["role"] == "query_operator"
    assert make_resident_id(3) not in json.dumps(whole_operator_log(node_client))


def test_only_query_operators_and_admins_check_and_a_too_large_check_is_refused(
    node_client: Any,
) -> None:
    authorize(node_client, "submitter")
    resp = node_client.post("/v1/blacklist/checks", json={"applicants": [applicant(1)]})
    assert resp.status_code == 403
    authorize(node_client, "query_operator")
    assert listing(node_client, 1).status_code == 403  # checks, but does not list
    too_many = {"applicants": [applicant(1)] * 100_001}
    resp = node_client.post("/v1/blacklist/checks", json=too_many)
    assert resp.status_code == 422 and resp.json()["field"] == "applicants"
    assert check(node_client, [applicant(1)] * 100_000)["clear"] == 100_000


def test_the_cli_checks_a_csv_and_a_jsonl_file_and_writes_the_answers_beside(
    node_client: Any, tmp_path: Any, capsys: Any
) -> None:
    list_after_notice(node_client, 6)
    node = node_of(node_client)
    assert node.index.catch_up(timeout=60)
    data = str(node.settings.data)
    csv_file = tmp_path / "applicants.csv"
    csv_file.write_text(f"type,id_number\nperson,{make_resident_id(6)}\nperson,12345\n"
                        f"person,{make_resident_id(7)}\n")  # fmt: skip
    assert cli(["blacklist", "check", str(csv_file), "--data", data]) == 0
    out, err = capsys.readouterr()
    assert "3 applicant(s)" in out and "1 listed" in out and "3/3" in err
    answers = [json.loads(x) for x in (tmp_path / "applicants.csv.answers.jsonl").open()]
    assert [(a["line"], a["result"]) for a in answers] == [
        (2, "listed"), (3, "invalid"), (4, "clear")]  # fmt: skip
    assert answers[1]["field"] == "applicants[1].id_number"

    jsonl = tmp_path / "applicants.jsonl"
    jsonl.write_text(json.dumps(applicant(7)) + "\nnot json\n" + json.dumps(applicant(6)) + "\n")
    assert cli(["blacklist", "check", str(jsonl), "--data", data]) == 0
    answers = [json.loads(x) for x in (tmp_path / "applicants.jsonl.answers.jsonl").open()]
    assert [a["result"] for a in answers] == ["clear", "invalid", "listed"]
    assert any(e["action"] == "blacklist check" and e["target"] == "3 applicants"
               for e in whole_operator_log(node_client))  # fmt: skip


def test_the_borrower_sees_the_notice_and_the_entry_in_their_trail(node_client: Any) -> None:
    node = node_of(node_client)
    borrower = Account.create()
    bound = bind_borrower(node_client, borrower.address, id_number=applicant(4)["id_number"])
    assert bound.status_code == 200, bound.text
    entry = list_after_notice(node_client, 4)
    list_after_notice(node_client, 5)  # someone else's: not in this trail
    assert node.index.catch_up(timeout=60)

    chain = node.chain
    message = {"subjectKey": entry["subject_key"], "node": chain.client.account.address,
               "issuedAt": int(time.time()), "nonce": "0x" + secrets.token_hex(32)}  # fmt: skip
    data = eip712.login_typed_data(
        message, eip712.domain(chain.chain_id, chain.addresses["ConsentRegistry"])
    )
    login = {"X-Creditchain-Login": json.dumps(message),
             "X-Creditchain-Login-Signature": eip712.sign(data, borrower.key)}  # fmt: skip
    node_client.headers.pop("Authorization")  # the borrower's own login, no staff token
    resp = node_client.get(f"/v1/subjects/{entry['subject_key']}/trail", headers=login)
    assert resp.status_code == 200, resp.text
    listed = resp.json()["blacklist"]
    (shown,) = listed["entries"]
    assert (shown["entry_id"], shown["status"], shown["active"], shown["disputed"]) == (
        entry["entry_id"], "listed", True, False
    )  # fmt: skip
    (notice_shown,) = listed["notices"]
    assert notice_shown["notice_id"] == entry["notice_id"]
    assert notice_shown["entry_id"] == entry["entry_id"] and notice_shown["channel"] == "sms"
    assert notice_shown["noticed_at"] <= shown["listed_at"]
