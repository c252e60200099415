"""The operator log names the record each call touched, can be read by staff account, action
and time, takes in what the CLI changed, and stays append-only."""

import sqlite3
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from node.crypto.subjects import make_resident_id
from node.db import make_engine
from node.keys.store import make_keys
from node.staff import cli
from node.staff.oplog import read_log
from tests.conftest import bearer, node_of, person, refused_changes, staff_token, submit


def _entries(client: TestClient, **params: object) -> list[dict]:
    answer = client.get("/v1/operator-log", params={"limit": 1000, **params})
    assert answer.status_code == 200, answer.text
    return answer.json()["entries"]


def test_the_log_names_the_record_or_submission_each_call_touched(node_client):
    result = submit(node_client, [person(1, record_id="LOAN-7")])
    assert node_client.get("/v1/records/LOAN-7").status_code == 200
    assert node_client.get("/v1/records/LOAN-7/receipt").status_code == 409  # not anchored
    assert node_client.get(f"/v1/submissions/{result['submission_id']}").status_code == 200
    touched = [(e["action"], e["target"]) for e in _entries(node_client)]
    assert touched[:4] == [
        ("POST /v1/records", result["submission_id"]),
        ("GET /v1/records/{record_id}", "LOAN-7"),
        ("GET /v1/records/{record_id}/receipt", "LOAN-7"),
        ("GET /v1/submissions/{submission_id}", result["submission_id"]),
    ]
    stored = sqlite3.connect(node_of(node_client).settings.db_path)
    try:  # whatever a record holds, only its record_id reaches the log
        dump = "\n".join(stored.iterdump())
    finally:
        stored.close()
    for identity in (person(1)["subject"]["id_number"], person(1)["subject"]["name"]):
        assert identity not in dump.split("operator_log", 1)[-1]


def test_an_id_number_sent_as_a_record_id_is_not_written_to_the_log(node_client):
    id_number = make_resident_id(17)
    assert node_client.get(f"/v1/records/{id_number}").status_code == 404
    assert node_client.get(f"/v1/records/X-{id_number.lower()}/receipt").status_code == 404
    targets = [e["target"] for e in _entries(node_client)]
    assert targets[:2] == ["(withheld: holds an ID number)"] * 2
    stored = sqlite3.connect(node_of(node_client).settings.db_path)
    try:
        dump = "\n".join(stored.iterdump())
    finally:
        stored.close()
    assert id_number not in dump and id_number.lower() not in dump


def test_the_log_names_the_staff_account_an_admin_added_or_changed(node_client):
    assert node_client.post("/v1/staff", json={"name": "sub-he", "role": "submitter"}).is_success
    assert node_client.post("/v1/staff/sub-he/disable").is_success
    touched = [(e["action"], e["target"]) for e in _entries(node_client)]
    assert touched[:2] == [
        ("POST /v1/staff", "sub-he"),
        ("POST /v1/staff/{name}/disable", "sub-he"),
    ]


def test_the_log_is_filtered_by_account_action_and_time_and_pages_within_the_filter(node_client):
    reader = staff_token(node_client, "submitter", "sub-li")
    auditor = TestClient(node_client.app, headers=bearer(staff_token(node_client, "admin")))
    for n in range(3):
        submit(node_client, [person(n + 1, record_id=f"R-{n}")])
        assert node_client.get(f"/v1/records/R-{n}", headers=bearer(reader)).status_code == 200
    mine = _entries(auditor, who="sub-li")
    assert [(e["who"], e["action"], e["target"]) for e in mine] == [
        ("sub-li", "GET /v1/records/{record_id}", f"R-{n}") for n in range(3)
    ]
    posts = _entries(auditor, action="POST /v1/records")
    assert len(posts) == 3 and {e["who"] for e in posts} == {"admin-1"}

    page = auditor.get("/v1/operator-log", params={"who": "sub-li", "limit": 2}).json()
    assert [e["target"] for e in page["entries"]] == ["R-0", "R-1"]
    rest = auditor.get(
        "/v1/operator-log",
        params={"who": "sub-li", "limit": 2, "after_id": page["next_after_id"]},
    ).json()
    assert [e["target"] for e in rest["entries"]] == ["R-2"]

    at = [datetime.fromisoformat(e["at"]) for e in mine]
    later = _entries(auditor, who="sub-li", since=at[1].isoformat())
    assert [e["target"] for e in later] == ["R-1", "R-2"]
    earlier = _entries(auditor, who="sub-li", until=at[1].isoformat())
    assert [e["target"] for e in earlier] == ["R-0"]
    future = datetime.fromtimestamp(time.time() + 3600, UTC).isoformat()
    assert _entries(auditor, since=future) == []


@pytest.mark.parametrize(
    ("param", "value"),
    [
        ("who", "x" * 65),
        ("action", "G" * 201),
        ("since", "yesterday"),
        ("until", "2026-13-01"),
        ("until", "0.5"),
        ("since", "1700000000"),
    ],
)
def test_a_bad_filter_is_a_422_naming_it(node_client, param, value):
    answer = node_client.get("/v1/operator-log", params={param: value})
    assert answer.status_code == 422
    assert answer.json()["error"] == "invalid_request" and answer.json()["field"] == param


def test_the_log_with_its_target_column_refuses_update_and_delete(store_client):
    submit(store_client, [person(1)])
    refused = refused_changes(
        node_of(store_client).engine,
        ["UPDATE operator_log SET target = 'other'", "DELETE FROM operator_log"],
    )
    assert refused == ["the operator log is append-only"] * 2


def test_what_the_cli_changes_is_in_the_log_and_unlock_says_an_account_is_disabled(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    make_keys(data / "keys")
    run = lambda *args: cli.main(["staff", *args, "--data", str(data)])  # noqa: E731
    assert run("add", "admin-zhang", "--role", "admin") == 0
    assert run("add", "sub-qian", "--role", "submitter") == 0
    assert run("disable", "sub-qian") == 0
    capsys.readouterr()
    assert run("unlock", "sub-qian") == 1
    assert "disabled" in capsys.readouterr().err
    assert run("enable", "sub-qian") == 0
    assert run("unlock", "sub-qian") == 0
    assert run("disable", "nobody") == 1

    engine = make_engine(data / "node.db")
    try:
        entries = read_log(engine=engine, after_id=0, limit=100)
    finally:
        engine.dispose()
    assert {e["who"] for e in entries} == {cli.cli_user()} and cli.cli_user().startswith("cli:")
    assert [(e["action"], e["outcome"], e["target"], e["status"]) for e in entries] == [
        ("staff add admin-zhang", "ok", "admin-zhang", 0),
        ("staff add sub-qian", "ok", "sub-qian", 0),
        ("staff disable sub-qian", "ok", "sub-qian", 0),
        ("staff unlock sub-qian", "staff_disabled", "sub-qian", 0),
        ("staff enable sub-qian", "ok", "sub-qian", 0),
        ("staff unlock sub-qian", "ok", "sub-qian", 0),
        ("staff disable nobody", "staff_not_found", "nobody", 0),
    ]
    assert "cc_" not in str(entries)  # the token printed once is in no entry


def test_unlocking_a_disabled_account_over_the_api_says_so_and_changes_nothing(node_client):
    token = staff_token(node_client, "submitter", "sub-wu")
    for _ in range(node_of(node_client).settings.staff_max_failures):
        node_client.get("/v1/status", headers=bearer(token[:-2] + "zz"))  # a wrong secret
    assert node_client.post("/v1/staff/sub-wu/disable").status_code == 200
    before = node_client.get("/v1/staff").json()
    answer = node_client.post("/v1/staff/sub-wu/unlock")
    assert answer.status_code == 409, answer.text
    assert answer.json()["error"] == "staff_disabled" and answer.json()["field"] == "name"
    assert "disabled" in answer.json()["detail"]
    assert node_client.get("/v1/staff").json() == before
    wu = next(a for a in before if a["name"] == "sub-wu")
    assert wu["locked_sources"] == 1 and wu["disabled"]
