"""Staff access inside one node: roles, lockout, tokens kept only as hashes, and the
append-only operator log."""

import json
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from node.app import create_app
from node.keys.store import make_keys
from tests.conftest import (
    REPO,
    bearer,
    free_port,
    make_settings,
    node_of,
    person,
    refused_changes,
    staff_token,
    start_node_process,
    submit,
    wait_for,
    wait_http,
    whole_operator_log,
)


def _log(client: TestClient) -> list[dict]:
    return whole_operator_log(client, page=50)


def _wrong(token: str) -> str:
    """The token with its secret's last character changed: the right form, the wrong secret."""
    return token[:-1] + ("A" if token[-1] != "A" else "B")


def _stored_rows(client: TestClient) -> int:
    with node_of(client).engine.connect() as conn:
        return conn.exec_driver_sql("SELECT COUNT(*) FROM record").scalar_one()


def test_staff_of_the_wrong_role_get_403_and_the_attempt_is_logged(node_client):
    operator = staff_token(node_client, "query_operator", "qo-wang")
    resp = node_client.post("/v1/records", json={"records": [person(1)]}, headers=bearer(operator))
    assert resp.status_code == 403
    assert resp.json()["error"] == "forbidden"
    assert "query_operator" in resp.json()["detail"]
    assert _stored_rows(node_client) == 0
    submitter = staff_token(node_client, "submitter", "sub-li")
    assert node_client.get("/v1/staff", headers=bearer(submitter)).status_code == 403

    refused = [e for e in _log(node_client) if e["outcome"] == "forbidden"]
    assert [(e["who"], e["role"], e["action"], e["status"]) for e in refused] == [
        ("qo-wang", "query_operator", "POST /v1/records", 403),
        ("sub-li", "submitter", "GET /v1/staff", 403),
    ]
    assert all(e["client"] and e["at"] for e in refused)


def test_each_route_lets_in_exactly_the_roles_it_names(node_client):
    submit(node_client, [person(1)])
    rid = person(1)["record_id"]
    tokens = {
        role: staff_token(node_client, role)
        for role in ("submitter", "query_operator", "dispute_handler", "internal_auditor")
    }
    expected = {
        ("POST", "/v1/records"): {"submitter"},
        ("GET", f"/v1/records/{rid}"): {"submitter", "dispute_handler", "internal_auditor"},
        ("GET", "/v1/chain"): set(tokens),
        ("GET", "/v1/status"): set(tokens),
        ("GET", "/v1/staff"): set(),
        ("GET", "/v1/operator-log"): {"internal_auditor"},
    }
    for (method, path), allowed in expected.items():
        for role, token in tokens.items():
            body = {"json": {"records": [person(2)]}} if method == "POST" else {}
            code = node_client.request(method, path, headers=bearer(token), **body).status_code
            assert (code == 403) == (role not in allowed), (method, path, role, code)


@pytest.mark.parametrize(
    ("header", "outcome"),
    [
        (None, "no_token"),
        ("Bearer nonsense", "bad_token"),
        ("Basic YWRtaW46YWRtaW4=", "no_token"),
        ("Bearer cc_999_" + "A" * 43, "unknown_account"),
        ("Bearer ", "no_token"),
    ],
)
def test_no_token_or_a_garbage_token_is_401(node_client, header, outcome):
    headers = {"Authorization": header} if header is not None else {}
    client = TestClient(node_client.app)  # without the admin's header
    resp = client.get("/v1/status", headers=headers)
    assert resp.status_code == 401
    assert resp.json()["error"] == "unauthenticated"
    assert resp.headers["WWW-Authenticate"] == "Bearer"
    last = _log(node_client)[-1]
    assert (last["who"], last["outcome"], last["status"], last["count"]) == (
        "unauthenticated",
        outcome,
        401,
        1,
    )


def test_wrong_secrets_lock_an_account_for_their_address_alone_until_an_admin_unlocks(
    node_client,
):
    token = staff_token(node_client, "submitter", "sub-zhao")
    wrong = _wrong(token)
    here = TestClient(node_client.app, client=("192.0.2.7", 40000))
    elsewhere = TestClient(node_client.app, client=("198.51.100.3", 40000))

    def status(client: TestClient, t: str) -> int:
        return client.get("/v1/status", headers=bearer(t)).status_code

    for _ in range(3):
        assert status(here, wrong) == 401
    assert status(here, token) == 200  # a success ends the run
    for _ in range(5):
        assert status(here, wrong) == 401
    refused = here.get("/v1/status", headers=bearer(token))
    assert refused.status_code == 401 and refused.json()["error"] == "unauthenticated"
    assert status(elsewhere, token) == 200  # locked for that address only

    listed = {a["name"]: a for a in node_client.get("/v1/staff").json()}
    assert listed["sub-zhao"]["locked_sources"] == 1
    assert listed["sub-zhao"]["failed_attempts"] == 0  # the success from elsewhere
    counted = [
        (e["outcome"], e["count"])
        for e in _log(node_client)
        if e["who"] == "sub-zhao" and e["client"] == "192.0.2.7"
    ]
    assert sum(n for o, n in counted if o == "wrong_secret") == 8
    assert sum(n for o, n in counted if o == "locked") == 1

    unlocked = node_client.post("/v1/staff/sub-zhao/unlock")
    assert unlocked.json()["locked_sources"] == 0
    assert status(here, token) == 200
    assert node_client.post("/v1/staff/nobody/unlock").status_code == 404


def test_lockout_threshold_is_a_setting(tmp_path):
    settings = make_settings(tmp_path / "data", staff_max_failures=2)
    with TestClient(create_app(settings, run_batcher=False)) as client:
        token = staff_token(client, "submitter")
        for _ in range(2):
            assert client.get("/v1/status", headers=bearer(_wrong(token))).status_code == 401
        assert client.get("/v1/status", headers=bearer(token)).status_code == 401


def test_admin_adds_lists_and_disables_staff_through_the_api(node_client):
    resp = node_client.post("/v1/staff", json={"name": "auditor-chen", "role": "internal_auditor"})
    assert resp.status_code == 201, resp.text
    token = resp.json()["token"]
    assert token.startswith("cc_") and "only" in resp.json()["note"]
    listing = node_client.get("/v1/staff")
    assert token not in listing.text and token.split("_", 2)[2] not in listing.text
    assert {a["name"]: a["role"] for a in listing.json()}["auditor-chen"] == "internal_auditor"
    assert node_client.get("/v1/operator-log", headers=bearer(token)).status_code == 200

    again = node_client.post("/v1/staff", json={"name": "auditor-chen", "role": "submitter"})
    assert again.status_code == 409 and again.json()["error"] == "staff_exists"
    bad = node_client.post("/v1/staff", json={"name": "x", "role": "superuser"})
    assert bad.status_code == 422 and bad.json()["field"] == "role"
    bad = node_client.post("/v1/staff", json={"name": "a/b", "role": "submitter"})
    assert bad.status_code == 422 and bad.json()["field"] == "name"

    assert node_client.post("/v1/staff/auditor-chen/disable").json()["disabled"] is True
    resp = node_client.get("/v1/operator-log", headers=bearer(token))
    assert resp.status_code == 401 and resp.json()["error"] == "unauthenticated"
    assert node_client.post("/v1/staff/auditor-chen/enable").json()["disabled"] is False
    assert node_client.get("/v1/operator-log", headers=bearer(token)).status_code == 200
    assert node_client.post("/v1/staff/nobody/enable").status_code == 404


def test_the_internal_auditor_reads_the_log_and_a_submitter_cannot(node_client):
    submit(node_client, [person(1)])
    auditor = TestClient(
        node_client.app, headers=bearer(staff_token(node_client, "internal_auditor", "aud"))
    )
    submitter = staff_token(node_client, "submitter")
    assert node_client.get("/v1/operator-log", headers=bearer(submitter)).status_code == 403

    entries = _log(auditor)
    assert ("POST /v1/records", "ok", 200) in [
        (e["action"], e["outcome"], e["status"]) for e in entries
    ]
    assert ("GET /v1/operator-log", "forbidden") in [(e["action"], e["outcome"]) for e in entries]
    for entry in entries:  # who, what, to which record, when, from where, how many; no more
        keys = {"id", "at", "who", "role", "action", "outcome", "status", "client", "count"}
        keys.add("target")
        assert set(entry) == keys
    ids = [e["id"] for e in entries]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    page = auditor.get("/v1/operator-log", params={"after_id": ids[0], "limit": 1}).json()
    assert [e["id"] for e in page["entries"]] == [ids[1]] and page["next_after_id"] == ids[1]
    # a route's answer after the check is logged with its status: a record that is not there
    assert node_client.get("/v1/records/NOPE-1").status_code == 404
    last = _log(auditor)[-1]
    assert (last["action"], last["outcome"], last["status"]) == (
        "GET /v1/records/{record_id}",
        "error",
        404,
    )


def test_the_operator_log_refuses_update_and_delete(store_client):
    submit(store_client, [person(1)])
    engine = node_of(store_client).engine
    count = "SELECT COUNT(*) FROM operator_log"
    with engine.connect() as conn:
        before = conn.exec_driver_sql(count).scalar_one()
    assert before >= 1
    refused = refused_changes(
        engine, ["UPDATE operator_log SET who = 'someone else'", "DELETE FROM operator_log"]
    )
    assert refused == ["the operator log is append-only"] * 2
    with engine.connect() as conn:
        assert conn.exec_driver_sql(count).scalar_one() == before
        someone = "SELECT COUNT(*) FROM operator_log WHERE who = 'someone else'"
        assert conn.exec_driver_sql(someone).scalar_one() == 0


def test_tokens_are_not_stored_in_clear(node_client):
    tokens = [staff_token(node_client, "submitter") for _ in range(3)]
    tokens.append(
        node_client.post("/v1/staff", json={"name": "n", "role": "admin"}).json()["token"]
    )
    for token in tokens:
        assert node_client.get("/v1/status", headers=bearer(token)).status_code == 200
    data = node_of(node_client).settings.data
    files = [p for p in data.rglob("*") if p.is_file()]
    assert any(p.name == "node.db" for p in files)
    for path in files:
        blob = path.read_bytes()
        for token in tokens:
            assert token.encode() not in blob, path
            assert token.split("_", 2)[2].encode() not in blob, path


def test_every_api_route_says_which_roles_may_call_it(node_client):
    spec = node_client.get("/openapi.json").json()
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            assert "Roles: " in op.get("description", ""), (method, path)
    assert "Roles: admin, submitter" in spec["paths"]["/v1/records"]["post"]["description"]
    assert spec["paths"]["/v1/staff"]["get"]["description"].endswith("Roles: admin")
    assert "Roles: any staff account" in spec["paths"]["/v1/status"]["get"]["description"]
    assert "open to anyone" in spec["paths"]["/rpc"]["post"]["description"]
    assert "401" in spec["paths"]["/v1/records"]["post"]["responses"]
    # the open parts stay open
    anonymous = TestClient(node_client.app)
    assert anonymous.get("/docs").status_code == 200
    assert anonymous.get("/openapi.json").status_code == 200
    answer = anonymous.post("/rpc", json={"jsonrpc": "2.0", "id": 1, "method": "eth_chainId"})
    assert "result" in answer.json()


def _staff_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "node.staff.cli", "staff", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_staff_add_prints_the_token_once_and_staff_list_does_not_show_it(tmp_path):
    data = tmp_path / "data"
    make_keys(data / "keys")  # `creditchain keys new`: staff commands refuse a dir with no node
    added = _staff_cli("add", "admin-zhang", "--role", "admin", "--data", str(data))
    assert added.returncode == 0, added.stderr
    lines = added.stdout.strip().splitlines()
    token = lines[-1]
    assert token.startswith("cc_") and "only" in lines[0] and added.stdout.count(token) == 1
    listed = _staff_cli("list", "--data", str(data))
    assert listed.returncode == 0 and "admin-zhang" in listed.stdout and "admin" in listed.stdout
    assert token not in listed.stdout and token.split("_", 2)[2] not in listed.stdout
    again = _staff_cli("add", "admin-zhang", "--role", "submitter", "--data", str(data))
    assert again.returncode == 1 and "exists" in again.stderr
    bad_role = _staff_cli("add", "x", "--role", "superuser", "--data", str(data))
    assert bad_role.returncode == 2

    # the account made before the node ever started lets its admin in
    with TestClient(create_app(make_settings(data), run_batcher=False)) as client:
        client.headers.update(bearer(token))
        sub = client.post("/v1/staff", json={"name": "sub-qian", "role": "submitter"})
        sub_token = sub.json()["token"]
        for _ in range(5):
            assert client.get("/v1/status", headers=bearer(_wrong(sub_token))).status_code == 401
        assert client.get("/v1/status", headers=bearer(sub_token)).status_code == 401  # locked
        assert "locked for 1 address" in _staff_cli("list", "--data", str(data)).stdout
        unlocked = _staff_cli("unlock", "sub-qian", "--data", str(data))
        assert unlocked.returncode == 0, unlocked.stderr
        assert client.get("/v1/status", headers=bearer(sub_token)).status_code == 200

        last = _staff_cli("disable", "admin-zhang", "--data", str(data))
        assert last.returncode == 1 and "last enabled admin" in last.stderr
        assert client.get("/v1/staff").status_code == 200
        disabled = _staff_cli("disable", "sub-qian", "--data", str(data))
        assert disabled.returncode == 0 and "disabled sub-qian" in disabled.stdout
        assert client.get("/v1/status", headers=bearer(sub_token)).status_code == 401
        assert "disabled" in _staff_cli("list", "--data", str(data)).stdout
        enabled = _staff_cli("enable", "sub-qian", "--data", str(data))
        assert enabled.returncode == 0 and "enabled sub-qian" in enabled.stdout
        assert client.get("/v1/status", headers=bearer(sub_token)).status_code == 200
    for command in ("unlock", "disable", "enable"):
        assert _staff_cli(command, "nobody", "--data", str(data)).returncode == 1


def _call(url: str, token: str, body: bytes | None = None) -> int:
    headers = {"Content-Type": "application/json", **bearer(token)}
    try:
        with urllib.request.urlopen(urllib.request.Request(url, body, headers), timeout=30) as r:
            return r.status
    except urllib.error.HTTPError as err:
        return err.code


def test_a_fresh_node_says_how_to_add_the_first_admin_and_no_token_reaches_its_log(
    tmp_path: Path,
):
    data, log = tmp_path / "data", tmp_path / "node.log"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    proc = start_node_process(data, port, "--log-level", "debug", log=log)
    try:
        wait_for(lambda: "staff add NAME --role admin" in log.read_text(), 120, "start message")
        added = _staff_cli("add", "admin-1", "--role", "admin", "--data", str(data))
        admin = added.stdout.strip().splitlines()[-1]  # added while the node runs
        wait_http(base + "/v1/chain", headers=bearer(admin))
        body = b'{"name": "sub-1", "role": "submitter"}'
        req = urllib.request.Request(
            base + "/v1/staff", body, {"Content-Type": "application/json", **bearer(admin)}
        )
        with urllib.request.urlopen(req, timeout=30) as r:
            sub_token = json.loads(r.read())["token"]
        records = b'{"records": [{"record_id": "R-1", "kind": "overdue"}]}'
        assert _call(base + "/v1/records", sub_token, records) == 200
        assert _call(base + "/v1/staff", sub_token) == 403
        for _ in range(5):
            assert _call(base + "/v1/status", _wrong(sub_token)) == 401
        assert _call(base + "/v1/status", sub_token) == 401  # locked for this address
        assert _call(base + "/v1/staff/sub-1/unlock", admin, b"") == 200
        assert _call(base + "/v1/status", sub_token) == 200
    finally:
        proc.terminate()
        proc.wait(30)
    text = log.read_bytes()
    assert b"staff add NAME --role admin" in text
    for token in (admin, sub_token):
        assert token
        assert token.encode() not in text
        assert token.split("_", 2)[2].encode() not in text
