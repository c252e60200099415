"""A stranger's guessed tokens lock no one out: locks hold per (account, address), refusals
answer alike, the guessing address is slowed down, the last admin stays, and the flood costs
the operator log one row per address and minute, not one per request."""

import secrets
import sqlite3
import threading
import time
from pathlib import Path

import httpx
import pytest
from alembic import command
from alembic.config import Config
from fastapi.testclient import TestClient
from sqlalchemy import create_engine

from node.app import create_app
from node.db import make_engine
from node.migrations import HERE as MIGRATIONS
from node.staff.oplog import RefusalTally, read_log
from tests.conftest import (
    bearer,
    free_port,
    make_settings,
    node_of,
    staff_token,
    staff_token_in,
    start_node_process,
    wait_http,
    whole_operator_log,
)


def _guess(account_id: int) -> str:
    """A token of the right form naming `account_id`, with a secret nobody was given."""
    return f"cc_{account_id}_{secrets.token_urlsafe(32)}"


def _answer(resp: httpx.Response) -> tuple:
    """What a caller can tell one refusal from another by."""
    return resp.status_code, resp.json(), resp.headers.get("WWW-Authenticate")


def test_a_flood_from_one_address_locks_no_one_out_at_another(tmp_path: Path) -> None:
    data, log = tmp_path / "data", tmp_path / "node.log"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    admin_token = staff_token_in(data, "admin", "admin-1")  # account id 1, the only admin
    proc = start_node_process(data, port, log=log, env={"CREDITCHAIN_STAFF_MAX_FAILURES": "3"})

    def client(address: str, token: str | None = None) -> httpx.Client:
        transport = httpx.HTTPTransport(local_address=address)
        headers = bearer(token) if token else {}
        return httpx.Client(base_url=base, headers=headers, timeout=30, transport=transport)

    admin, attacker = client("127.0.0.1", admin_token), client("127.0.0.2")
    sent = 0  # requests from the attacker's address

    def attack(token: str | None = None) -> httpx.Response:
        nonlocal sent
        sent += 1
        return attacker.get("/v1/status", headers=bearer(token) if token else {})

    try:
        wait_http(base + "/v1/chain", timeout=120, headers=bearer(admin_token))
        tokens = {"admin-1": admin_token}
        for name, role in [
            ("sub-a", "submitter"),  # id 2
            ("sub-b", "submitter"),  # id 3
            ("aud", "internal_auditor"),  # id 4
            ("gone", "submitter"),  # id 5
        ]:
            added = admin.post("/v1/staff", json={"name": name, "role": role})
            assert added.status_code == 201, added.text
            tokens[name] = added.json()["token"]
        assert admin.post("/v1/staff/gone/disable").json()["disabled"] is True

        # Guesses at the admin and at sub-a, 3 each: sub-a is now locked for 127.0.0.2.
        for account_id in (1, 1, 1, 2, 2):
            assert attack(_guess(account_id)).status_code == 401
        wrong = attack(_guess(2))  # nine refusals so far: one short of being slowed down
        locked = attack(tokens["sub-a"])  # the right token, from the locked address
        disabled = attack(tokens["gone"])
        unknown = attack(_guess(99))
        assert _answer(wrong) == _answer(locked) == _answer(disabled) == _answer(unknown)
        assert wrong.status_code == 401 and wrong.json()["error"] == "unauthenticated"
        # the last admin is never locked, not even for the address that guessed at it
        assert attack(admin_token).status_code == 200

        # The flood: guesses naming every id 1..10 while the admin works from 127.0.0.1.
        flood: list[httpx.Response] = []

        def run_flood() -> None:
            for n in range(80):
                flood.append(attack(_guess(n % 10 + 1)))

        thread = threading.Thread(target=run_flood)
        thread.start()
        at_work: list[int] = []
        while thread.is_alive() or not at_work:
            at_work.append(admin.get("/v1/staff").status_code)
        thread.join()
        assert set(at_work) == {200}
        assert {r.status_code for r in flood} <= {401, 429}
        slowed = [r for r in flood if r.status_code == 429]
        assert len(slowed) >= 40
        for r in slowed:
            assert r.json()["error"] == "too_many_attempts"
            assert int(r.headers["Retry-After"]) >= 1
        for _ in range(100):  # tokenless calls from the same address
            assert attack().status_code in (401, 429)

        # Everyone still works from 127.0.0.1, and only sub-a is locked, for one address.
        for name in ("admin-1", "sub-a", "sub-b", "aud"):
            assert admin.get("/v1/status", headers=bearer(tokens[name])).status_code == 200
        listed = {a["name"]: a for a in admin.get("/v1/staff").json()}
        assert listed["admin-1"]["locked_sources"] == 0
        assert listed["sub-a"]["locked_sources"] == 1
        assert all(a["locked_sources"] <= 1 for a in listed.values())

        # The wait grows: wait one out, guess once more, and the next wait is longer.
        answer = attack(_guess(7))
        if answer.status_code != 429:
            answer = attack(_guess(7))
        assert answer.status_code == 429
        first_wait = int(answer.headers["Retry-After"])
        time.sleep(first_wait + 0.5)
        assert attack(_guess(7)).status_code == 401
        answer = attack(tokens["sub-b"])  # even the right token waits its turn
        assert answer.status_code == 429 and int(answer.headers["Retry-After"]) > first_wait

        # The last admin cannot be disabled; a disabled account can be enabled again.
        refused = admin.post("/v1/staff/admin-1/disable")
        assert refused.status_code == 409 and refused.json()["error"] == "last_admin"
        assert admin.get("/v1/staff").status_code == 200
        assert admin.post("/v1/staff/gone/enable").json()["disabled"] is False
        assert admin.get("/v1/status", headers=bearer(tokens["gone"])).status_code == 200
        assert admin.post("/v1/staff/sub-a/unlock").json()["locked_sources"] == 0

        # The operator log counts every call from 127.0.0.2 in a few rows.
        auditor = client("127.0.0.1", tokens["aud"])
        beyond = auditor.get("/v1/operator-log", params={"after_id": 2**63})
        assert beyond.status_code == 422 and beyond.json()["field"] == "after_id"
        theirs = [e for e in whole_operator_log(auditor) if e["client"] == "127.0.0.2"]
        assert sum(e["count"] for e in theirs) == sent
        assert sent >= 190 and len(theirs) <= 40
        outcomes = {(e["who"], e["outcome"], e["status"]) for e in theirs}
        assert {
            ("admin-1", "wrong_secret", 401),
            ("sub-a", "locked", 401),
            ("gone", "disabled", 401),
            ("unauthenticated", "unknown_account", 401),
            ("unauthenticated", "throttled", 429),
            ("admin-1", "ok", 200),
        } <= outcomes
        for _ in range(5):  # counted after the last read: appended when the node stops
            attack()
    finally:
        proc.terminate()
        proc.wait(30)
        admin.close()
        attacker.close()
    db = sqlite3.connect(data / "node.db")
    try:
        stored = db.execute(
            "SELECT SUM(count) FROM operator_log WHERE client = '127.0.0.2'"
        ).fetchone()[0]
    finally:
        db.close()
    assert stored == sent


def test_an_address_that_must_wait_is_turned_away_before_its_token_is_read(node_client):
    token = staff_token(node_client, "submitter", "sub-sun")
    guesser = TestClient(node_client.app, client=("203.0.113.9", 5000))
    for account_id in range(100, 110):  # ten refused tokens, ids nobody has
        assert guesser.get("/v1/status", headers=bearer(_guess(account_id))).status_code == 401
    for t in (_guess(2), token, token[:-1] + "A"):
        resp = guesser.get("/v1/status", headers=bearer(t))
        assert resp.status_code == 429 and int(resp.headers["Retry-After"]) >= 1
    listed = {a["name"]: a for a in node_client.get("/v1/staff").json()}
    assert listed["sub-sun"]["failed_attempts"] == 0  # nothing counted: nothing was read
    # the same address over IPv6 within one /64 is one source
    rotating = [
        TestClient(node_client.app, client=(f"2001:db8:0:1::{n:x}", 5000)) for n in range(12)
    ]
    answers = [c.get("/v1/status", headers=bearer(_guess(200))).status_code for c in rotating]
    assert answers[:10] == [401] * 10 and answers[10:] == [429, 429]
    assert node_client.get("/v1/status", headers=bearer(token)).status_code == 200


def test_the_last_enabled_admin_is_never_locked_and_cannot_be_disabled(node_client):
    admin = node_client.headers["Authorization"].removeprefix("Bearer ")
    for _ in range(8):  # more than the 5 wrong secrets that lock anyone else
        assert node_client.get("/v1/status", headers=bearer(_guess(1))).status_code == 401
    assert node_client.get("/v1/staff").status_code == 200
    first = node_client.get("/v1/staff").json()[0]["name"]
    refused = node_client.post(f"/v1/staff/{first}/disable")
    assert refused.status_code == 409 and refused.json()["error"] == "last_admin"
    assert refused.json()["field"] == "name"

    second = node_client.post("/v1/staff", json={"name": "admin-two", "role": "admin"})
    other = TestClient(node_client.app, headers=bearer(second.json()["token"]))
    assert other.post(f"/v1/staff/{first}/disable").json()["disabled"] is True
    assert node_client.get("/v1/status", headers=bearer(admin)).status_code == 401
    assert other.post("/v1/staff/admin-two/disable").status_code == 409  # now the last one
    assert other.post(f"/v1/staff/{first}/enable").json()["disabled"] is False
    assert node_client.get("/v1/staff").status_code == 200


def test_refusals_are_counted_per_address_and_minute_while_token_calls_get_a_row_each(
    node_client,
):
    engine = node_of(node_client).engine
    before = len(read_log(engine=engine, after_id=0, limit=1000))
    stranger = TestClient(node_client.app, client=("192.0.2.50", 6000))
    for _ in range(150):
        assert stranger.get("/v1/status").status_code == 401
    for _ in range(20):
        assert node_client.get("/v1/status").status_code == 200
    entries = whole_operator_log(node_client)
    theirs = [e for e in entries if e["client"] == "192.0.2.50"]
    assert sum(e["count"] for e in theirs) == 150 and 1 <= len(theirs) <= 2
    assert {(e["who"], e["outcome"], e["action"]) for e in theirs} == {
        ("unauthenticated", "no_token", "GET /v1/status")
    }
    ours = [e for e in entries if e["action"] == "GET /v1/status" and e["outcome"] == "ok"]
    assert len(ours) == 20 and {e["count"] for e in ours} == {1}
    assert len(entries) <= before + 20 + 2 + 2  # the reads of the log are logged too


def test_refusals_counted_in_memory_reach_the_log_when_the_node_stops(tmp_path):
    settings = make_settings(tmp_path / "data")
    app = create_app(settings, run_batcher=False)
    with TestClient(app, client=("192.0.2.51", 6000)) as stranger:
        for n in range(30):
            assert stranger.get("/v1/chain", headers=bearer(_guess(n))).status_code in (401, 429)
    engine = make_engine(settings.db_path)  # the node has stopped
    try:
        rows = read_log(engine=engine, after_id=0, limit=1000)
    finally:
        engine.dispose()
    assert sum(r["count"] for r in rows if r["client"] == "192.0.2.51") == 30


def test_a_minute_that_is_over_is_appended_and_the_current_one_keeps_counting(tmp_path):
    engine = make_engine(tmp_path / "node.db")
    tally = RefusalTally()
    now = time.time()
    start = (now // 60 - 3) * 60  # the start of a minute that is over, whatever the clock says
    kw = {"who": "unauthenticated", "role": None, "status": 401, "client": "192.0.2.1"}
    for n in range(3):
        tally.add(action="GET /v1/status", outcome="no_token", now=start + n, **kw)
    tally.add(action="GET /v1/chain", outcome="no_token", now=start + 1, **kw)
    tally.add(action="GET /v1/status", outcome="bad_token", now=start + 2, **kw)
    tally.add(action="GET /v1/status", outcome="no_token", now=now + 120, **kw)  # not over
    assert tally.flush(engine=engine) == 2
    rows = read_log(engine=engine, after_id=0, limit=10)
    assert [(r["outcome"], r["action"], r["count"]) for r in rows] == [
        ("no_token", "*", 4),  # several routes
        ("bad_token", "GET /v1/status", 1),
    ]
    assert rows[0]["at"] == pytest.approx(start)
    assert tally.flush(engine=engine) == 0
    assert tally.flush(engine=engine, everything=True) == 1
    engine.dispose()


def test_after_id_beyond_64_bits_is_a_422_naming_the_field(node_client):
    for value in (2**63, 10**30):
        resp = node_client.get("/v1/operator-log", params={"after_id": value})
        assert resp.status_code == 422, resp.text
        assert resp.json()["field"] == "after_id"
    assert node_client.get("/v1/operator-log", params={"after_id": 2**63 - 1}).status_code == 200


def test_upgrading_a_store_unlocks_account_wide_locks_and_keeps_the_log(tmp_path):
    path = tmp_path / "node.db"
    old = create_engine(f"sqlite:///{path}")
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with old.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "0002")
        conn.exec_driver_sql(
            "INSERT INTO staff_account (name, role, token_hash, created_at, failed_attempts, "
            "locked_at, disabled) VALUES ('admin-1', 'admin', x'00', 1.0, 5, 2.0, 0)"
        )
        conn.exec_driver_sql(
            "INSERT INTO operator_log (at, who, role, action, outcome, status, client) "
            "VALUES (1.0, 'admin-1', 'admin', 'GET /v1/staff', 'ok', 200, '127.0.0.1')"
        )
    old.dispose()
    engine = make_engine(path)  # brings it to the newest revision
    with engine.connect() as conn:
        account = conn.exec_driver_sql("SELECT * FROM staff_account").mappings().one()
        assert "locked_at" not in account and account["failed_attempts"] == 0
        assert conn.exec_driver_sql("SELECT count FROM operator_log").scalar_one() == 1
    engine.dispose()
    db = sqlite3.connect(path)
    try:
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            db.execute("UPDATE operator_log SET who = 'x'")
    finally:
        db.close()
