"""The regulator's view on a three-member consortium on anvil: the third member is granted
the regulator role by vote; its node sees the members, their anchoring and their listings
from its event index, and gathers every member's query log (checked against the chain) to
flag abnormal query patterns, and counts the objections against each member, open and
overdue. A node without the role is refused, by its own API and by the other members'
nodes."""

import datetime as dt
import secrets
import sqlite3
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import orjson
import pytest
from eth_account import Account

from node.blacklist.service import listing_counts
from node.crypto import eip712
from node.db import make_engine
from node.keys.store import load_secrets
from node.peers.signing import signed_headers
from node.queries.log import QueryEntry, write_entries
from node.regulator.patterns import Lookup, outside_office, stacking, volume
from node.regulator.querylog import PEER_PATH
from node.regulator.schemas import DAY, parse_rules
from tests.blacklist_kit import applicant, list_after_notice
from tests.conftest import (
    REPO,
    call_api,
    consortium_up,
    node_of,
    person,
    rpc,
    staff_token_in,
    store_has,
    wait_for,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture(scope="module")
def three(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A, B and C; C holds the regulator role, granted by A's proposal and B's vote."""
    with consortium_up(tmp_path_factory.mktemp("regulated"), 3) as state:
        a, b, c = state["members"]
        status, proposal = call_api(
            a["url"] + "/v1/proposals",
            a["token"],
            {"action": "grant_regulator", "subject": c["address"]},
        )
        assert status == 200, proposal
        status, voted = call_api(b["url"] + f"/v1/proposals/{proposal['id']}/votes", b["token"])
        assert status == 200 and voted["state"] == "executed", voted
        for m in (a, b, c):
            wait_for(lambda m=m: "regulator" in _roles(m, c["address"]), 30, "role indexed")
        yield state


def _roles(member: dict[str, Any], address: str) -> list[str]:
    status, members = call_api(member["url"] + "/v1/members", member["token"], method="GET")
    return next(m["roles"] for m in members if m["address"] == address)


def _get(member: dict[str, Any], path: str, token: str | None = None) -> tuple[int, Any]:
    return call_api(member["url"] + path, token or member["token"], method="GET")


def _log(member: dict[str, Any], entries: list[QueryEntry]) -> None:
    """Queries as this member's node logs them: written to its query log, anchored by it."""
    engine = make_engine(f"sqlite:///{member['data']}/node.db")
    try:
        write_entries(engine, entries)
    finally:
        engine.dispose()


def _query(requester: dict, holder: dict, subject: str, at: int) -> None:
    """One query from `requester` to `holder`, logged on both sides under one id."""
    qid = "0x" + secrets.token_hex(32)
    for side, member in (("requester", requester), ("holder", holder)):
        _log(
            member,
            [
                QueryEntry(
                    query_id=qid,
                    side=side,
                    subject_key=subject,
                    consent_id="0x" + "c0" * 32,
                    purpose="loan_application",
                    requester=requester["address"],
                    holder=holder["address"],
                    at=at,
                )
            ],
        )


def _key() -> str:
    return "0x" + secrets.token_hex(32)


def _at(day: dt.date, hour: int, minute: int = 0) -> int:
    return int(dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=SHANGHAI).timestamp())


def test_a_node_without_the_regulator_role_is_refused_by_its_own_api(three: Any) -> None:
    a = three["members"][0]
    for view in ("members", "anchoring", "blacklist", "objections", "patterns"):
        status, answer = _get(a, f"/v1/regulator/{view}")
        assert (status, answer["error"]) == (403, "node_not_regulator"), (view, answer)


def test_the_regulator_node_refuses_staff_without_an_overseeing_role(three: Any) -> None:
    c = three["members"][2]
    submitter = staff_token_in(Path(c["data"]), "submitter")
    status, answer = _get(c, "/v1/regulator/members", submitter)
    assert status == 403 and answer["error"] != "node_not_regulator", answer
    auditor = staff_token_in(Path(c["data"]), "internal_auditor")
    status, answer = _get(c, "/v1/regulator/members", auditor)
    assert status == 200, answer


def test_members_refuse_their_query_log_to_a_member_without_the_role(three: Any) -> None:
    a, b, c = three["members"]
    body = orjson.dumps({"since": int(time.time()) - 86_400, "until": int(time.time()) + 10})
    chain_id = int(rpc(three["anvil"]["rpc"], "eth_chainId"), 16)
    for signer_data, expected in ((a["data"], 403), (c["data"], 200)):
        account = load_secrets(Path(signer_data) / "keys", create=False).member
        headers = signed_headers(
            account,
            chain_id=chain_id,
            contract=three["contracts"]["Consortium"],
            method="POST",
            path=PEER_PATH,
            body=body,
        )
        resp = httpx.post(
            b["url"] + PEER_PATH,
            content=body,
            headers={**headers, "Content-Type": "application/json"},
            timeout=30,
        )
        assert resp.status_code == expected, resp.text
        if expected == 403:
            assert resp.json()["error"] == "not_a_regulator"
        else:
            assert resp.json()["member"] == b["address"]


def test_members_anchoring_and_blacklist_counts(three: Any) -> None:
    a, b, c = three["members"]
    records = [person(100 + i, record_id=f"REG-A-{i}") for i in range(3)]
    status, answer = call_api(a["url"] + "/v1/records", a["token"], {"records": records})
    assert status == 200 and answer["accepted"] == 3, answer
    wait_for(
        lambda: _get(a, "/v1/records/REG-A-2")[1].get("state") == "anchored", 60, "records anchored"
    )
    listed = []
    for seq, reason in ((901, "fraud"), (902, "fraud"), (903, "serious_default")):
        status, _ = call_api(
            b["url"] + "/v1/blacklist/notices",
            b["token"],
            {"subject": applicant(seq), "channel": "sms", "text": "通知"},
        )
        assert status == 200
        status, entry = call_api(
            b["url"] + "/v1/blacklist/entries",
            b["token"],
            {
                "subject": applicant(seq),
                "reason": reason,
                "evidence": "0x" + "ab" * 32,
                "event_end_date": (dt.date.today() - dt.timedelta(days=30)).isoformat(),
            },
        )
        assert status == 200, entry
        listed.append(entry)
    status, delisted = call_api(
        b["url"] + f"/v1/blacklist/entries/{listed[1]['entry_id']}/delist",
        b["token"],
        {"reason": "repaid"},
    )
    assert status == 200, delisted

    status, members = _get(c, "/v1/regulator/members")
    assert status == 200
    assert [(m["address"], m["status"]) for m in members] == [
        (m["address"], "active") for m in (a, b, c)
    ]
    roles = {m["address"]: m["roles"] for m in members}
    assert roles[c["address"]] == ["admin", "regulator"]  # the three founded the consortium
    assert roles[a["address"]] == roles[b["address"]] == ["admin"]

    def activity() -> dict[str, Any]:
        return {x["address"]: x for x in _get(c, "/v1/regulator/anchoring")[1]}

    wait_for(lambda: activity()[a["address"]]["leaves_anchored"] >= 3, 60, "batches indexed")
    mine = activity()[a["address"]]
    assert mine["batches"] >= 1 and mine["last_anchor_at"] >= mine["first_anchor_at"]
    assert activity()[b["address"]]["leaves_anchored"] == 0  # B anchored nothing
    status, quiet = _get(c, "/v1/regulator/anchoring?gap_hours=0.0001")
    assert any(g["end"] is None for g in {x["address"]: x for x in quiet}[b["address"]]["gaps"])

    def listings() -> dict[str, Any]:
        return {x["address"]: x for x in _get(c, "/v1/regulator/blacklist")[1]}

    wait_for(lambda: listings()[b["address"]]["by_status"]["delisted"] == 1, 60, "indexed")
    counts = listings()
    assert counts[b["address"]]["total"] == 3
    assert counts[b["address"]]["by_status"] == {
        "active": 2,
        "lapsed": 0,
        "delisted": 1,
        "expired": 0,
    }
    assert counts[b["address"]]["by_reason"]["fraud"] == 2
    assert counts[b["address"]]["by_reason"]["serious_default"] == 1
    assert counts[b["address"]]["active_by_reason"]["fraud"] == 1
    assert counts[a["address"]]["total"] == 0 and counts[c["address"]]["total"] == 0


def _patterns(c: dict[str, Any], **rules: Any) -> dict[str, Any]:
    status, answer = _get(c, "/v1/regulator/patterns?" + urllib.parse.urlencode(rules))
    assert status == 200, answer
    return answer


def _settled(c: dict[str, Any]) -> dict[str, Any]:
    """The patterns once every member's log is verified and nothing in it is pending."""
    found: dict[str, Any] = {}

    def done() -> bool:
        found.update(_patterns(c))
        return all(m["status"] == "verified" and m["pending"] == 0 for m in found["members"])

    wait_for(done, 90, "every member's log anchored and verified")
    return found


def test_abnormal_query_patterns_are_flagged_and_normal_ones_not(three: Any) -> None:
    a, b, c = three["members"]
    day = dt.datetime.now(SHANGHAI).date() - dt.timedelta(days=2)
    for i in range(20):  # A looks up twenty subjects in office hours: far more than its peers
        _query(a, b if i % 2 else c, _key(), _at(day, 10, i))
    for _ in range(2):
        _query(b, a, _key(), _at(day, 11))
    late = _key()
    _query(b, c, late, _at(day, 3, 17))  # B once at 03:17 Shanghai time
    for _ in range(2):
        _query(c, a, _key(), _at(day, 14))
    stacked, spread, pair = _key(), _key(), _key()
    _query(a, b, stacked, _at(day, 15))  # three members within a day: 多头借贷
    _query(b, c, stacked, _at(day, 16))
    _query(c, a, stacked, _at(day + dt.timedelta(days=1), 9, 30))
    for requester, holder, back in ((a, b, 20), (b, c, 10), (c, a, 0)):  # three, weeks apart
        _query(requester, holder, spread, _at(day - dt.timedelta(days=back), 12))
    _query(a, c, pair, _at(day, 12))  # two members only
    _query(b, c, pair, _at(day, 13))

    found = _settled(c)
    assert {m["member"] for m in found["members"]} == {a["address"], b["address"], c["address"]}
    assert found["queries"] == 20 + 2 + 1 + 2 + 3 + 3 + 2  # both sides of each counted once
    volume = {v["member"]: v for v in found["volume"]}
    assert volume[a["address"]]["subjects"] == 23 and volume[a["address"]]["flagged"]
    assert volume[b["address"]]["subjects"] == 6 and not volume[b["address"]]["flagged"]
    assert volume[c["address"]]["subjects"] == 4 and not volume[c["address"]]["flagged"]
    assert volume[a["address"]]["peer_median"] == 5

    hours = {o["member"]: o for o in found["off_hours"]}
    assert hours[b["address"]]["flagged"] and hours[b["address"]]["off_hours"] == 1
    assert hours[b["address"]]["examples"][0]["subject_key"] == late
    assert hours[b["address"]]["examples"][0]["local_time"].endswith("03:17:00+08:00")
    assert not hours[a["address"]]["flagged"] and not hours[c["address"]]["flagged"]
    # the same lookups seen from another office's hours: A's mornings are now off hours
    utc = _patterns(c, office_hours="09:00-18:00", time_zone="UTC")
    assert {o["member"]: o["off_hours"] for o in utc["off_hours"]}[a["address"]] >= 20

    assert [s["subject_key"] for s in found["stacking"]] == [stacked]
    assert found["stacking"][0]["members"] == sorted([a["address"], b["address"], c["address"]])
    wider = _patterns(c, stacking_days=30)  # the spread subject falls in a 30-day window
    assert {s["subject_key"] for s in wider["stacking"]} == {stacked, spread}
    two = _patterns(c, stacking_members=2, stacking_days=1)
    assert pair in {s["subject_key"] for s in two["stacking"]}


def test_a_real_query_between_members_counts_once_per_member_asked(three: Any) -> None:
    """A lender's query through the API, under the borrower's consent: A logs one entry per
    member asked, each holder one; the regulator sees each query once, one lookup of A's."""
    a, b, c = three["members"]
    before = _settled(c)
    lookups = {v["member"]: v["lookups"] for v in before["volume"]}
    borrower = Account.create()
    subject = {"type": "person", "id_number": person(77)["subject"]["id_number"]}
    status, bound = call_api(
        b["url"] + "/v1/bindings", b["token"], {"subject": subject, "address": borrower.address}
    )
    assert status == 200, bound
    now = int(time.time())
    terms = {
        "subject_key": bound["subject_key"],
        "grantee": a["address"],
        "purpose": "loan_application",
        "valid_from": now - 60,
        "valid_until": now + 86_400,
        "nonce": "1",
    }
    typed = _get(b, "/v1/consents/typed-data?" + urllib.parse.urlencode(terms))[1]
    status, relayed = call_api(
        b["url"] + "/v1/consents",
        None,
        {
            "message": typed["message"],
            "signature": eip712.sign(typed, borrower.key),
            "borrower": borrower.address,
        },
    )
    assert status == 200, relayed
    for m in (b, c):
        wait_for(
            lambda m=m: store_has(
                m["data"], "SELECT 1 FROM consent WHERE consent_id = ?", relayed["consent_id"]
            ),
            30,
            "consent indexed",
        )
    operator = staff_token_in(Path(a["data"]), "query_operator")
    status, answer = call_api(
        a["url"] + "/v1/queries",
        operator,
        {"subject": subject, "consent_id": relayed["consent_id"], "purpose": "loan_application"},
    )
    assert status == 200 and not answer["partial"], answer

    after = _settled(c)
    assert after["queries"] == before["queries"] + 2  # A asked B and C
    assert {v["member"]: v["lookups"] for v in after["volume"]} == {
        **lookups,
        a["address"]: lookups[a["address"]] + 1,
    }
    assert all(m["status"] == "verified" for m in after["members"])


def test_bad_rules_are_refused_naming_the_field(three: Any) -> None:
    c = three["members"][2]
    for rules, field in (
        ({"time_zone": "Mars/Olympus"}, "time_zone"),
        ({"office_hours": "9-18"}, "office_hours"),
        ({"stacking_members": 1}, "stacking_members"),
        ({"since": 100, "until": 50}, "since"),
    ):
        status, answer = _get(c, "/v1/regulator/patterns?" + urllib.parse.urlencode(rules))
        assert (status, answer["error"], answer["field"]) == (422, "invalid_rule", field), answer


def test_the_cli_prints_the_views(three: Any) -> None:
    c = three["members"][2]
    token = Path(c["data"]) / "admin.token"
    for view in ("members", "anchoring", "blacklist", "patterns"):
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "node.cli",
                "regulator",
                view,
                "--node",
                c["url"],
                "--token-file",
                str(token),
            ],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip(), view
    members = subprocess.run(
        [
            sys.executable,
            "-m",
            "node.cli",
            "regulator",
            "members",
            "--node",
            c["url"],
            "--token-file",
            str(token),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout
    assert c["address"] in members and "regulator" in members
    a = three["members"][0]
    refused = subprocess.run(
        [
            sys.executable,
            "-m",
            "node.cli",
            "regulator",
            "members",
            "--node",
            a["url"],
            "--token-file",
            str(Path(a["data"]) / "admin.token"),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert refused.returncode == 1 and "node_not_regulator" in refused.stderr


def test_a_member_log_that_does_not_check_against_the_chain_is_named(three: Any) -> None:
    """Next to last: it alters B's stored log. An entry changed after it was anchored no longer
    hashes to its commitment; B's whole log is left out, naming the entry."""
    a, b, c = three["members"]
    with sqlite3.connect(f"{b['data']}/node.db") as conn:
        row_id, query_id, entry = conn.execute(
            "SELECT id, query_id, entry FROM query_log WHERE side = 'requester' LIMIT 1"
        ).fetchone()
        changed = orjson.loads(entry)
        changed["at"] += 3600
        conn.execute(
            "UPDATE query_log SET entry = ? WHERE id = ?",
            (orjson.dumps(changed, option=orjson.OPT_SORT_KEYS), row_id),
        )
    found = _patterns(c)
    named = {m["member"]: m for m in found["members"]}
    assert named[b["address"]]["status"] == "rejected"
    assert named[b["address"]]["error"]["query_id"] == query_id
    assert "not the receipt's commitment" in named[b["address"]]["error"]["detail"]
    assert named[b["address"]]["entries"] == 0
    assert named[a["address"]]["status"] == named[c["address"]]["status"] == "verified"


def test_open_and_overdue_objections_per_member(three: Any) -> None:
    """Last of the chain tests: it moves anvil's clock. B objects, for the borrower, to one
    of A's records; the regulator sees it open against A, then, once the chain's clock has
    passed the deadline with no answer, overdue, listed, and so does its CLI."""
    a, b, c = three["members"]
    record = person(150, record_id="REG-A-OBJ")
    status, answer = call_api(a["url"] + "/v1/records", a["token"], {"records": [record]})
    assert status == 200 and answer["accepted"] == 1, answer
    wait_for(lambda: _get(a, "/v1/records/REG-A-OBJ/receipt")[0] == 200, 60, "anchored")
    receipt = _get(a, "/v1/records/REG-A-OBJ/receipt")[1]
    status, filed = call_api(b["url"] + "/v1/disputes/objections", b["token"], {
        "subject": {"type": "person", "id_number": record["subject"]["id_number"]},
        "kind": "record", "commitment": receipt["commitment"], "reasons": "not my loan",
        "anchor": {k: receipt[k] for k in ("batch_id", "leaf_index", "proof")},
    })  # fmt: skip
    assert status == 200, filed

    def view() -> dict[str, Any]:
        status, answer = _get(c, "/v1/regulator/objections")
        assert status == 200, answer
        return dict(answer)

    wait_for(lambda: view()["as_of_block"] >= filed["block_number"], 30, "objection indexed")
    seen = view()
    by_member = {m["member"]: m for m in seen["members"]}
    assert set(by_member) == {a["address"], b["address"], c["address"]}
    assert (by_member[a["address"]]["open"], by_member[a["address"]]["overdue"]) == (1, 0)
    assert by_member[b["address"]]["total"] == 0 and seen["overdue"] == []

    rpc(three["anvil"]["rpc"], "evm_increaseTime", [20 * 24 * 3600 + 60])
    rpc(three["anvil"]["rpc"], "evm_mine")
    wait_for(lambda: view()["overdue"] != [], 30, "the new clock indexed")
    seen = view()
    by_member = {m["member"]: m for m in seen["members"]}
    assert (by_member[a["address"]]["open"], by_member[a["address"]]["overdue"]) == (0, 1)
    ((late,),) = [seen["overdue"]]
    assert (late["objection_id"], late["holder"]) == (filed["objection_id"], a["address"])
    assert late["deadline"] <= seen["block_time"]
    printed = subprocess.run(
        [sys.executable, "-m", "node.cli", "regulator", "objections", "--node", c["url"],
         "--token-file", str(Path(c["data"]) / "admin.token")],
        cwd=REPO, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert printed.returncode == 0, printed.stderr
    assert f"objection {filed['objection_id']} against {a['address']}" in printed.stdout


# --- the pattern rules alone (no chain) ------------------------------------------------------


def _lk(requester: str, subject: str, at: int) -> Lookup:
    return Lookup(requester, subject, at)


def test_office_hours_may_wrap_midnight_and_end_before_their_last_minute() -> None:
    night_shift = parse_rules(office_hours="22:00-06:00", time_zone="UTC")
    day = dt.datetime(2026, 1, 5, tzinfo=dt.UTC)
    outside = [
        h
        for h in range(24)
        if outside_office(int((day + dt.timedelta(hours=h)).timestamp()), night_shift)
    ]
    assert outside == list(range(6, 22))
    office = parse_rules()  # 09:00-18:00 Asia/Shanghai
    at = _at(dt.date(2026, 1, 5), 17, 59)
    assert not outside_office(at, office) and outside_office(at + 60, office)
    assert outside_office(_at(dt.date(2026, 1, 5), 8, 59), office)


def test_stacking_counts_members_not_lookups_within_the_window() -> None:
    rules = parse_rules(stacking_members=3, stacking_days=1)
    again = [_lk("A", "s", 0), _lk("A", "s", 10), _lk("A", "s", 20), _lk("B", "s", 30)]
    assert stacking(again, rules) == []  # four lookups, two members
    edge = [_lk("A", "s", 0), _lk("B", "s", 100), _lk("C", "s", DAY)]
    assert stacking(edge, rules)[0]["members"] == ["A", "B", "C"]  # exactly a day apart: in
    assert stacking([*edge[:2], _lk("C", "s", DAY + 1)], rules) == []


def test_volume_needs_the_floor_as_well_as_the_factor() -> None:
    members = {"A": "a", "B": "b", "C": "c"}
    few = [_lk("A", f"s{i}", i) for i in range(9)]  # nine subjects, peers none
    assert not any(v["flagged"] for v in volume(few, members, parse_rules()))
    many = [*few, _lk("A", "s9", 9), _lk("B", "t", 0), _lk("C", "u", 0), _lk("C", "v", 0)]
    rows = {v["member"]: v for v in volume(many, members, parse_rules())}
    assert rows["A"]["flagged"] and rows["A"]["peer_median"] == 1.5
    assert not rows["B"]["flagged"] and not rows["C"]["flagged"]


def test_the_cli_without_a_token_or_a_node_says_so() -> None:
    from node.cli import main

    nowhere = "http://127.0.0.1:9"
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("CREDITCHAIN_TOKEN", raising=False)
        assert main(["regulator", "members", "--node", nowhere]) == 2  # no token anywhere
        mp.setenv("CREDITCHAIN_TOKEN", "cc_x_1_secret")
        assert main(["regulator", "patterns", "--node", nowhere]) == 3


def test_listing_counts_read_alike_from_either_store(store_client: Any) -> None:
    """The counts the regulator's blacklist view groups, on SQLite and on PostgreSQL."""
    first = list_after_notice(store_client, 71)
    list_after_notice(store_client, 72)
    list_after_notice(store_client, 73, reason="identity_theft")
    resp = store_client.post(
        f"/v1/blacklist/entries/{first['entry_id']}/delist", json={"reason": "error"}
    )
    assert resp.status_code == 200, resp.text
    node = node_of(store_client)
    assert node.index.catch_up(timeout=60)
    rows, block = listing_counts(engine=node.engine)
    me = node.chain.client.account.address
    assert sorted(rows) == [
        (me, "fraud", "delisted", False, 1),
        (me, "fraud", "listed", False, 1),
        (me, "identity_theft", "listed", False, 1),
    ]
    assert block is not None
