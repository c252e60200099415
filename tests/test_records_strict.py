"""Records are taken as sent or refused: no coercion, plausible dates, clean text, each record
once per submission, and no identifier stored in the answer by mistake."""

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from node.app import create_app
from node.crypto.subjects import make_resident_id
from tests.conftest import authorize, make_settings, node_of, person, submit


def _count(client: TestClient, table: str) -> int:
    with node_of(client).engine.connect() as conn:
        return conn.exec_driver_sql(f"SELECT COUNT(*) FROM {table}").scalar_one()


def _post_literal(client: TestClient, record: dict[str, Any], field: str, literal: str) -> Any:
    """POST one record whose `field` is written exactly as `literal` in the JSON text."""
    text = json.dumps({"records": [dict(record, **{field: "@VALUE@"})]}, ensure_ascii=False)
    body = text.replace('"@VALUE@"', literal).encode()
    resp = client.post("/v1/records", content=body, headers={"Content-Type": "application/json"})
    assert resp.status_code == 200, resp.text
    return resp.json()


@pytest.mark.parametrize("field", ["amount_cents", "credit_limit_cents", "balance_cents"])
@pytest.mark.parametrize("literal", ["true", '"100"', "100.0", "1e3"])
def test_amounts_must_be_json_integers(node_client, field, literal):
    answer = _post_literal(node_client, person(1), field, literal)
    (result,) = answer["results"]
    assert result["status"] == "rejected"
    assert result["field"] == field
    assert "integer" in result["detail"]
    assert _count(node_client, "record") == 0


@pytest.mark.parametrize("literal", ["true", '"95"', "95.0", "1e2"])
def test_days_past_due_must_be_a_json_integer(node_client, literal):
    answer = _post_literal(node_client, person(1), "days_past_due", literal)
    assert answer["results"][0]["field"] == "days_past_due"
    assert _count(node_client, "record") == 0


@pytest.mark.parametrize("field", ["event_date", "date_of_first_delinquency", "notice_date"])
@pytest.mark.parametrize("literal", ["20250301", "1740787200", '"2025-03-01T00:00:00"', "true"])
def test_dates_must_be_iso_date_strings(node_client, field, literal):
    answer = _post_literal(node_client, person(1), field, literal)
    (result,) = answer["results"]
    assert result["status"] == "rejected"
    assert result["field"] == field
    assert "YYYY-MM-DD" in result["detail"]
    assert _count(node_client, "record") == 0


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("event_date", "0001-01-01"),
        ("event_date", "1949-12-31"),
        ("date_of_first_delinquency", "0001-01-01"),
        ("notice_date", "1900-06-01"),
    ],
)
def test_dates_before_1950_are_refused(node_client, field, value):
    answer = submit(node_client, [person(1, **{field: value})])
    assert answer["results"][0]["field"] == field
    assert "1950-01-01" in answer["results"][0]["detail"]
    assert _count(node_client, "record") == 0


def test_notice_date_after_today_is_refused(node_client):
    later = (dt.date.today() + dt.timedelta(days=7)).isoformat()
    answer = submit(node_client, [person(1, notice_date=later)])
    assert answer["results"][0]["field"] == "notice_date"
    assert "future" in answer["results"][0]["detail"]
    assert _count(node_client, "record") == 0


def test_a_record_with_every_field_filled_in_plausibly_is_accepted(node_client):
    rec = person(
        1,
        credit_limit_cents=10_000_000,
        balance_cents=0,
        payment_history_24m="NNNN1234",
        date_of_first_delinquency="2025-03-01",
        notice_date=dt.date.today().isoformat(),
        event_date="1950-01-01",
    )
    rec["date_of_first_delinquency"] = "1950-01-01"
    answer = submit(node_client, [rec])
    assert answer["accepted"] == 1, answer
    stored = node_client.get(f"/v1/records/{rec['record_id']}").json()["record"]
    assert stored["amount_cents"] == rec["amount_cents"] and stored["balance_cents"] == 0


@pytest.mark.parametrize("bad", ["\x00", "\u202e", "\u2066", "\u200f", "\u061c", "\x1b", "\x85"])
def test_subject_name_with_control_or_bidi_characters_is_refused(node_client, bad):
    rec = person(1)
    rec["subject"]["name"] = f"张{bad}三"
    answer = submit(node_client, [rec])
    (result,) = answer["results"]
    assert result["status"] == "rejected"
    assert result["field"] == "subject.name"
    assert "control" in result["detail"]
    assert "张" not in json.dumps(answer, ensure_ascii=False)
    assert _count(node_client, "record") == 0


@pytest.mark.parametrize("route", ["/v1/records/{}", "/v1/records/{}/receipt"])
@pytest.mark.parametrize("version", ["9223372036854775808", "99999999999999999999999"])
def test_version_beyond_64_bits_is_a_422_not_a_500(node_client, route, version):
    rec = person(1)
    submit(node_client, [rec])
    resp = node_client.get(route.format(rec["record_id"]), params={"version": version})
    assert resp.status_code == 422, resp.text
    assert resp.json()["field"] == "version"


def test_largest_64_bit_version_is_simply_not_found(node_client):
    rec = person(1)
    submit(node_client, [rec])
    resp = node_client.get(f"/v1/records/{rec['record_id']}?version={2**63 - 1}")
    assert resp.status_code == 404


@pytest.fixture
def worker_client(tmp_path: Path) -> Iterator[TestClient]:
    """A node that prepares submissions in a worker process, as a node started by hand does."""
    app = create_app(make_settings(tmp_path / "data", workers=1), run_batcher=False)
    with TestClient(app) as client:
        authorize(client, "admin")
        yield client


@pytest.mark.parametrize("client_fixture", ["node_client", "worker_client"])
def test_a_record_id_twice_in_one_submission_is_refused_the_second_time(request, client_fixture):
    client = request.getfixturevalue(client_fixture)
    first, again = person(1), person(1, amount_cents=999)
    answer = submit(client, [person(2), first, again])
    assert [r["status"] for r in answer["results"]] == ["accepted", "accepted", "rejected"]
    repeat = answer["results"][2]
    assert repeat["field"] == "record_id"
    assert repeat["record_id"] == first["record_id"]
    assert "repeats record 1 of this submission" in repeat["detail"]
    assert _count(client, "record") == 2
    assert _count(client, "status_change") == 0
    current = client.get(f"/v1/records/{first['record_id']}").json()
    assert current["version"] == 1 and current["record"]["amount_cents"] == first["amount_cents"]


def test_many_copies_of_one_record_store_it_once(node_client):
    answer = submit(node_client, [person(1)] * 500)
    assert answer["accepted"] == 1 and answer["rejected"] == 499
    assert _count(node_client, "record") == 1
    assert _count(node_client, "status_change") == 0


def _stored_results(client: TestClient, answer: dict[str, Any]) -> str:
    later = client.get(f"/v1/submissions/{answer['submission_id']}")
    assert later.status_code == 200
    return later.text + json.dumps(answer)


def test_an_id_number_sent_as_a_field_name_is_not_stored_in_full(node_client):
    id_number = make_resident_id(77)
    top = person(1)
    top[id_number] = "overdue"
    nested = person(2)
    nested["subject"][id_number] = "x"
    answer = submit(node_client, [top, nested])
    assert [r["status"] for r in answer["results"]] == ["rejected", "rejected"]
    assert answer["results"][0]["field"] == id_number[:8] + "…"
    assert answer["results"][1]["field"] == "subject." + id_number[:8] + "…"
    assert id_number not in _stored_results(node_client, answer)


def test_a_misspelt_field_name_is_named_in_full(node_client):
    answer = submit(node_client, [person(1, date_of_first_delinquncy="2025-01-01")])
    assert answer["results"][0]["field"] == "date_of_first_delinquncy"


@pytest.mark.parametrize(
    "record_id",
    [
        make_resident_id(78),  # valid as a record id, but an identifier
        "LN-" + make_resident_id(78),
        make_resident_id(78) + "/2025",  # not a valid record id at all
        make_resident_id(78) + " " * 80,
    ],
)
def test_an_id_number_as_the_record_id_is_refused_and_not_stored_in_full(node_client, record_id):
    id_number = make_resident_id(78)
    answer = submit(node_client, [person(1, record_id=record_id), person(2)])
    result = answer["results"][0]
    assert result["status"] == "rejected"
    assert result["field"] == "record_id"
    assert len(result["record_id"]) <= 9 and result["record_id"].endswith("…")
    assert id_number not in _stored_results(node_client, answer)
    assert _count(node_client, "record") == 1


def test_a_rejection_for_another_field_still_names_a_good_record_id(node_client):
    answer = submit(node_client, [person(1, amount_cents=-1)])
    assert answer["results"][0]["record_id"] == person(1)["record_id"]


def test_api_documentation_states_the_rules(node_client):
    spec = node_client.get("/openapi.json").json()
    body = spec["paths"]["/v1/records"]["post"]["requestBody"]["content"]["application/json"]
    assert "#/$defs/" not in json.dumps(body), "a reference /docs cannot resolve"
    components = spec["components"]["schemas"]

    def resolve(node: dict) -> dict:
        ref = node.get("$ref", "")
        return components[ref.removeprefix("#/components/schemas/")] if ref else node

    records = resolve(body["schema"])["properties"]["records"]
    fields = resolve(records["items"])["properties"]
    for name in ("event_date", "date_of_first_delinquency", "notice_date"):
        assert "1950-01-01" in json.dumps(fields[name]), name
    assert "integer" in json.dumps(fields["amount_cents"])
    assert "once" in json.dumps(fields["record_id"])


def test_an_id_number_inside_the_account_id_is_refused(node_client):
    id_number = make_resident_id(79)
    answer = submit(node_client, [person(1, account_id="AC" + id_number)])
    assert answer["results"][0]["field"] == "account_id"
    assert id_number not in _stored_results(node_client, answer)
    assert _count(node_client, "record") == 0
