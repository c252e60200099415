"""The records API as a member's data submitter uses it."""

import copy

import pytest
from web3 import Web3

from node.chain.deploy import DEPLOY_LIST
from node.crypto.subjects import make_resident_id
from node.receipts.verify import verify_receipt
from tests.conftest import enterprise, node_of, person, submit


@pytest.fixture
def node_client(store_client):  # every test here runs on SQLite and on PostgreSQL
    return store_client


def _bad_check_character(id_number: str) -> str:
    last = id_number[-1]
    return id_number[:-1] + ("0" if last != "0" else "1")


def _stored_rows(client) -> int:  # type: ignore[no-untyped-def]
    with node_of(client).engine.connect() as conn:
        return conn.exec_driver_sql("SELECT COUNT(*) FROM record").scalar_one()


def test_valid_records_are_accepted_with_their_commitment(node_client):
    answer = submit(node_client, [person(1), enterprise(2)])
    assert answer["accepted"] == 2 and answer["rejected"] == 0
    for result, rid in zip(answer["results"], ["LN-000001-2025-06", "EN-000002"], strict=True):
        assert result["status"] == "accepted"
        assert result["record_id"] == rid
        assert result["commitment"].startswith("0x") and len(result["commitment"]) == 66


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (
            lambda r: r["subject"].update(
                id_number=_bad_check_character(r["subject"]["id_number"])
            ),
            "subject.id_number",
        ),
        (lambda r: r.update(religion="none"), "religion"),
        (lambda r: r["subject"].update(fingerprint="abc"), "subject.fingerprint"),
        (lambda r: r.update(amount_cents="a lot"), "amount_cents"),
        (lambda r: r.update(kind="bankruptcy"), "kind"),
        (lambda r: r.update(event_date="2025-13-01"), "event_date"),
        (lambda r: r.pop("record_id"), "record_id"),
        (lambda r: r.update(days_past_due=0), "days_past_due"),
        (lambda r: r["subject"].update(type="alien"), "subject.type"),
    ],
)
def test_bad_record_is_rejected_naming_the_field_while_the_rest_are_accepted(
    node_client, mutate, field
):
    bad = person(2)
    mutate(bad)
    answer = submit(node_client, [person(1), bad, person(3)])
    assert [r["status"] for r in answer["results"]] == ["accepted", "rejected", "accepted"]
    assert answer["results"][1]["field"] == field
    assert answer["results"][1]["detail"]
    assert _stored_rows(node_client) == 2


def test_rejection_never_echoes_the_identifier(node_client):
    bad = person(7)
    wrong = _bad_check_character(bad["subject"]["id_number"])
    bad["subject"]["id_number"] = wrong
    answer = submit(node_client, [bad])
    assert wrong not in str(answer)
    assert "测试7" not in str(answer)


def test_enterprise_with_invalid_credit_code_is_rejected(node_client):
    bad = enterprise(5)
    code = bad["subject"]["id_number"]
    bad["subject"]["id_number"] = code[:-1] + ("0" if code[-1] != "0" else "1")
    answer = submit(node_client, [bad])
    assert answer["results"][0]["field"] == "subject.id_number"


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b'{"records": "x"}',
        b'{"records": []}',
        b"[1, 2]",
        b'{"records": [{}], "extra": 1}',
    ],
)
def test_malformed_body_is_a_422_as_a_whole(node_client, body):
    resp = node_client.post(
        "/v1/records", content=body, headers={"Content-Type": "application/json"}
    )
    assert resp.status_code == 422
    assert resp.json()["error"] == "invalid_body"
    assert _stored_rows(node_client) == 0


def test_more_than_ten_thousand_records_is_a_422(node_client):
    resp = node_client.post("/v1/records", json={"records": [person(1)] * 10_001})
    assert resp.status_code == 422
    assert resp.json()["field"] == "records"


def test_oversize_body_is_a_413_and_stores_nothing(node_client):
    node_of(node_client).settings.max_body_mb = 1
    records = [person(i, account_id="A" * 60) for i in range(4000)]
    resp = node_client.post("/v1/records", json={"records": records})
    assert resp.status_code == 413
    assert resp.json()["error"] == "body_too_large"
    assert "larger than 1 MiB" in resp.json()["detail"]
    assert _stored_rows(node_client) == 0


def test_committed_record_carries_the_subject_key_and_never_the_identifier(node_client):
    rec = person(11)
    submit(node_client, [rec])
    got = node_client.get(f"/v1/records/{rec['record_id']}").json()
    assert got["state"] == "pending"
    assert got["record"]["subject_key"].startswith("0x")
    text = str(got)
    assert rec["subject"]["id_number"] not in text and rec["subject"]["name"] not in text


def test_resubmitting_the_same_record_is_a_no_op_with_the_same_commitment(node_client):
    first = submit(node_client, [person(1)])["results"][0]
    again = submit(node_client, [person(1)])["results"][0]
    assert again["commitment"] == first["commitment"]
    assert _stored_rows(node_client) == 1


def test_submission_results_can_be_fetched_again(node_client):
    bad = person(2, kind="nope")
    answer = submit(node_client, [person(1), bad])
    later = node_client.get(f"/v1/submissions/{answer['submission_id']}").json()
    assert later["results"] == answer["results"]
    assert later["accepted"] == 1 and later["rejected"] == 1
    assert node_client.get("/v1/submissions/sub_nothing").status_code == 404


def test_unknown_record_is_a_404_in_the_error_shape(node_client):
    resp = node_client.get("/v1/records/NOPE-1")
    assert resp.status_code == 404
    assert resp.json() == {"error": "record_not_found", "detail": "no such record", "field": None}


def test_receipt_is_409_while_pending_then_verifies_against_the_chain(node_client):
    rec = person(21)
    submit(node_client, [rec, person(22), person(23)])
    pending = node_client.get(f"/v1/records/{rec['record_id']}/receipt")
    assert pending.status_code == 409
    assert pending.json()["state"].startswith("pending")
    node = node_of(node_client)
    node.batcher.drain()
    receipt = node_client.get(f"/v1/records/{rec['record_id']}/receipt").json()
    assert receipt["tree_size"] == 3
    assert receipt["record"]["record_id"] == rec["record_id"]
    verdict = verify_receipt(receipt, node.chain.client.w3)
    assert verdict.ok, verdict.checks
    assert verdict.status == "active"
    status = node_client.get("/v1/status").json()
    assert (status["pending"], status["anchored"], status["batches"]) == (0, 3, 1)


def test_correction_makes_a_new_version_and_supersedes_the_old_on_chain(node_client):
    rec = person(31)
    old = submit(node_client, [rec])["results"][0]
    node = node_of(node_client)
    node.batcher.drain()
    old_receipt = node_client.get(f"/v1/records/{rec['record_id']}/receipt").json()

    corrected = copy.deepcopy(rec)
    corrected["days_past_due"] = 30
    new = submit(node_client, [corrected])["results"][0]
    assert new["version"] == 2 and new["commitment"] != old["commitment"]
    node.batcher.drain()

    w3: Web3 = node.chain.client.w3
    assert verify_receipt(old_receipt, w3).status == "superseded"
    new_receipt = node_client.get(f"/v1/records/{rec['record_id']}/receipt").json()
    assert verify_receipt(new_receipt, w3).status == "active"
    assert new_receipt["record"]["days_past_due"] == 30
    current = node_client.get(f"/v1/records/{rec['record_id']}").json()
    assert current["version"] == 2 and current["versions"] == 2
    first = node_client.get(f"/v1/records/{rec['record_id']}?version=1").json()
    assert first["chain_status"] == "superseded"


def test_chain_info_names_the_contracts_and_latest_block(node_client):
    info = node_client.get("/v1/chain").json()
    assert info["kind"] == "embedded"
    assert set(info["contracts"]) == {"Consortium", *DEPLOY_LIST}
    assert info["latest_block"] >= 2  # two deployments
    assert isinstance(info["chain_id"], int)


def test_identifiers_are_normalised_before_pseudonymising(node_client):
    upper = person(41)
    lower = person(
        42, subject=dict(upper["subject"], id_number=upper["subject"]["id_number"].lower())
    )
    answer = submit(node_client, [upper, lower])
    assert answer["accepted"] == 2
    keys = [
        node_client.get(f"/v1/records/{r['record_id']}").json()["record"]["subject_key"]
        for r in (upper, lower)
    ]
    assert keys[0] == keys[1]
    assert make_resident_id(41) == upper["subject"]["id_number"]


def test_api_documentation_lists_the_record_routes_and_schema(node_client):
    spec = node_client.get("/openapi.json").json()
    for path in (
        "/v1/records",
        "/v1/records/{record_id}",
        "/v1/records/{record_id}/receipt",
        "/v1/submissions/{submission_id}",
        "/v1/chain",
    ):
        assert path in spec["paths"]
    body = spec["paths"]["/v1/records"]["post"]["requestBody"]["content"]["application/json"]
    assert "records" in body["schema"]["properties"]
    assert node_client.get("/docs").status_code == 200


def test_record_id_with_a_slash_is_rejected_since_it_could_not_be_fetched(node_client):
    answer = submit(node_client, [person(1, record_id="LN/0001")])
    assert answer["results"][0]["field"] == "record_id"
