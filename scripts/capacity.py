#!/usr/bin/env python3
"""Capacity on paper: the chain load of a national consortium, from gas measured on anvil.

It starts a fresh anvil, founds a consortium of one on it and runs a node in this process
(the API, the batcher, the event index), then has the node send every kind of transaction it
sends, through its own API: records submitted until a batch is anchored, a record corrected
(the old commitment superseded on chain), borrowers bound, their consents relayed and
revoked, notices registered, subjects listed on the blacklist and delisted, objections to
records filed by the member and signed by the borrower and answered (rejected, unresolved,
upheld after a correction), the member granted the regulator role, and entries and records
marked expired by the node's sweepers once the chain's clock has passed their expiry
(records as bits in their batch's expiry bitmap, expireLeaves: measured per record marked), then
a regulator's ruling on an objection left past its deadline. It reads every transaction of
the run back from the chain (gas used, calldata bytes), groups them by the contract
function called (answers and rulings by their outcome too), and projects the load of a
consortium of 600 members, 1 billion subjects, 1 million consents, 10 million queries and
10,000 objections a day against published QBFT throughput: a table, then one JSON line.

    .venv/bin/python scripts/capacity.py [--quick] [--anchor-interval 60]
"""

import argparse
import datetime as dt
import hashlib
import json
import statistics
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from eth_account import Account  # noqa: E402
from eth_utils import event_signature_to_log_topic, function_signature_to_4byte_selector  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402

from node.app import create_app  # noqa: E402
from node.chain.compile import compile_contracts  # noqa: E402
from node.consortium import besu  # noqa: E402
from node.crypto import eip712  # noqa: E402
from node.receipts.verify import status_at_args  # noqa: E402
from tests.blacklist_kit import applicant, listing, notice  # noqa: E402
from tests.conftest import (  # noqa: E402
    anvil_chain,
    authorize,
    make_settings,
    person,
    rpc,
    submit,
    wait_for,
)

DAY = 86_400
# Published QBFT throughput: the Besu wiki's "QBFT Performance" page (4 validators, Caliper,
# continuous stable runs) reports 520 to 1,200 transactions/s depending on the workload, 520
# for ERC-20 transfers sent to one node. We take 500 tx/s, below the lowest of them.
QBFT_TX_PER_S = 500
# what those 520 ERC-20 transfers/s executed, at about 35,000 gas each: a second, stricter
# yardstick for gas than the block gas limit
QBFT_DEMONSTRATED_GAS_PER_S = 520 * 35_000

# the contract function each kind of transaction calls, in the order the table lists them
KINDS = {
    "anchorBatch": "anchor a batch",
    "supersede": "correct a record",
    "bind": "bind a borrower",
    "registerConsent": "register a consent",
    "revokeConsent": "revoke a consent",
    "registerNotice": "blacklist notice",
    "list": "list on blacklist",
    "delist": "delist",
    "markExpired": "mark expired",
    "expireLeaves": "expire a batch's day",
    "fileFor": "member's objection",
    "fileSigned": "borrower's objection",
    "answer:rejected": "answer: rejected",
    "answer:unresolved": "answer: unresolved",
    "answer:upheld": "answer: upheld",
    "rule:upheld": "regulator's ruling",
}
# Disputes.State: the outcome an answer or a ruling carries, its second argument
OUTCOMES = {2: "upheld", 3: "rejected", 4: "unresolved"}
REASONS = "这笔逾期已按期还清，附银行回单。"
SUPERSEDED = 1  # RecordRegistry.RecordStatus
LEAVES_EXPIRED = event_signature_to_log_topic("LeavesExpired(uint256,address,uint256,uint256)")


def _selectors() -> dict[bytes, str]:
    """4-byte selector -> function name, over every compiled contract."""
    out = {}
    for contract in compile_contracts().values():
        for item in contract["abi"]:
            if item.get("type") == "function":
                sig = f"{item['name']}({','.join(_abi_type(i) for i in item['inputs'])})"
                out[function_signature_to_4byte_selector(sig)] = item["name"]
    return out


def _abi_type(arg: dict[str, Any]) -> str:
    if arg["type"].startswith("tuple"):
        return "(" + ",".join(_abi_type(c) for c in arg["components"]) + ")" + arg["type"][5:]
    return str(arg["type"])


# -- measuring --------------------------------------------------------------------------------


def _anchored(client: TestClient, record_id: str) -> bool:
    return bool(client.get(f"/v1/records/{record_id}").json().get("state") == "anchored")


def _entry_status(client: TestClient, entry_id: int) -> str:
    return str(client.get(f"/v1/blacklist/entries/{entry_id}").json()["status"])


def _expired_on_chain(client: TestClient, receipts: list[dict[str, Any]]) -> bool:
    """Whether the chain's statusAt says Expired for every one of `receipts`' records."""
    registry = client.app.state.node.chain.registry.functions  # type: ignore[attr-defined]
    return all(registry.statusAt(*status_at_args(r)).call() == 4 for r in receipts)


def _subject(seq: int) -> dict[str, str]:
    return {"type": "person", "id_number": person(seq)["subject"]["id_number"]}


def _receipt(client: TestClient, record_id: str) -> dict[str, Any]:
    resp = client.get(f"/v1/records/{record_id}/receipt")
    assert resp.status_code == 200, resp.text
    return dict(resp.json())


def _status_of(client: TestClient, commitment: str) -> int:
    registry = client.app.state.node.chain.registry.functions  # type: ignore[attr-defined]
    return int(registry.statusOf(bytes.fromhex(commitment[2:])).call())


def _file_signed(client: TestClient, seq: int, record_id: str) -> int:
    """A new borrower bound to person `seq` signs an objection to `record_id`; the node
    relays it. The objection's id."""
    receipt, borrower = _receipt(client, record_id), Account.create()
    body: dict[str, Any] = {"subject": _subject(seq), "address": borrower.address}
    bound = client.post("/v1/bindings", json=body)
    assert bound.status_code == 200, bound.text
    params = {"subject_key": bound.json()["subject_key"], "kind": 0,
              "target": receipt["commitment"], "nonce": "1",
              "reasons_hash": "0x" + hashlib.sha256(REASONS.encode()).hexdigest()}  # fmt: skip
    typed = client.get("/v1/disputes/typed-data", params=params).json()
    body = {"message": typed["message"], "signature": eip712.sign(typed, borrower.key),
            "borrower": borrower.address,
            "anchor": {k: receipt[k] for k in ("batch_id", "leaf_index", "proof")}}  # fmt: skip
    filed = client.post("/v1/disputes/signed", json=body)
    assert filed.status_code == 200, filed.text
    return int(filed.json()["objection_id"])


def objections(client: TestClient, *, r: int, records: int) -> int:
    """Objections to round `r`'s records, each answered by the holder: one filed by the
    member and rejected, one signed by the borrower and left unresolved, one filed by the
    member and upheld once the record is corrected; and one filed and left for a regulator,
    whose id this returns."""
    seq = r * records

    def file(i: int) -> int:
        body = {"subject": _subject(seq + i), "kind": "record", "record_id": f"CAP-{r}-{i}",
                "reasons": REASONS}  # fmt: skip
        filed = client.post("/v1/disputes/objections", json=body)
        assert filed.status_code == 200, filed.text
        return int(filed.json()["objection_id"])

    def answer(objection_id: int, outcome: str) -> None:
        body = {"outcome": outcome, "reason": "checked against the ledger"}
        resp = client.post(f"/v1/disputes/objections/{objection_id}/answer", json=body)
        assert resp.status_code == 200, resp.text

    answer(file(1), "rejected")
    answer(_file_signed(client, seq + 2, f"CAP-{r}-2"), "unresolved")
    upheld, disputed = file(3), _receipt(client, f"CAP-{r}-3")["commitment"]
    submit(client, [person(seq + 3, record_id=f"CAP-{r}-3", kind="repayment", days_past_due=0)])
    wait_for(lambda: _status_of(client, disputed) == SUPERSEDED, 120, "the correction")
    answer(upheld, "upheld")
    return file(4)


def exercise(client: TestClient, url: str, *, rounds: int, records: int) -> None:
    """Have the node send each kind of transaction `rounds` times through its API; the
    expiry marks last, as they move the chain's clock on: listings, and `records` * 3 // 4
    overdue records, 5 years old but for a few days."""
    member = client.app.state.node.chain.client.account.address  # type: ignore[attr-defined]
    for r in range(rounds):
        batch = [person(r * records + i, record_id=f"CAP-{r}-{i}") for i in range(records)]
        submit(client, batch)
        last = batch[-1]["record_id"]
        wait_for(lambda last=last: _anchored(client, last), 120, "a batch anchored")
    for r in range(rounds):  # a new version of an anchored record: the old one superseded
        corrected = person(r * records, record_id=f"CAP-{r}-0", amount_cents=1)
        submit(client, [corrected])
        done = corrected["record_id"]
        wait_for(lambda done=done: _anchored(client, done), 120, "the correction")
    for r in range(rounds):
        borrower = Account.create()
        subject = {"type": "person", "id_number": applicant(10_000 + r)["id_number"]}
        bound = client.post("/v1/bindings", json={"subject": subject, "address": borrower.address})
        assert bound.status_code == 200, bound.text
        now = int(time.time())
        query = {"subject_key": bound.json()["subject_key"], "grantee": member,
                 "purpose": "loan_application", "valid_from": now - 60,
                 "valid_until": now + DAY, "nonce": str(r)}  # fmt: skip
        typed = client.get("/v1/consents/typed-data?" + urllib.parse.urlencode(query)).json()
        body = {"message": typed["message"] | {"nonce": r}, "borrower": borrower.address,
                "signature": eip712.sign(typed, borrower.key)}  # fmt: skip
        relayed = client.post("/v1/consents", json=body)
        assert relayed.status_code == 200, relayed.text
        consent_id = relayed.json()["consent_id"]
        revocation = client.get("/v1/consents/revocation-typed-data",
                                params={"consent_id": consent_id}).json()  # fmt: skip
        revoked = client.post(f"/v1/consents/{consent_id}/revoke",
                              json={"signature": eip712.sign(revocation, borrower.key),
                                    "borrower": borrower.address})  # fmt: skip
        assert revoked.status_code == 200, revoked.text
        given = notice(client, 20_000 + r)
        listed = listing(client, 20_000 + r, notice_id=given["notice_id"])
        assert listed.status_code == 200, listed.text
        delisted = client.post(f"/v1/blacklist/entries/{listed.json()['entry_id']}/delist",
                               json={"reason": "repaid"})  # fmt: skip
        assert delisted.status_code == 200, delisted.text
    granted = client.post("/v1/proposals", json={"action": "grant_regulator", "subject": member})
    assert granted.json().get("state") == "executed", granted.text  # a consortium of one
    unanswered = [objections(client, r=r, records=records) for r in range(rounds)]
    years = client.app.state.node.settings.blacklist_retention_years  # type: ignore[attr-defined]
    ended = dt.date.today() - dt.timedelta(days=365 * years - 3)  # expiring in a few days
    overdue = (dt.date.today() - dt.timedelta(days=365 * 5 - 3)).isoformat()
    old = [person(rounds * records + i, record_id=f"CAP-OLD-{i}", event_date=overdue)
           for i in range(records * 3 // 4)]  # fmt: skip
    submit(client, old)
    wait_for(lambda: _anchored(client, old[-1]["record_id"]), 120, "the old records anchored")
    old_receipts = [_receipt(client, r["record_id"]) for r in old]
    expiring = []
    for r in range(rounds):
        given = notice(client, 30_000 + r)
        listed = listing(client, 30_000 + r, notice_id=given["notice_id"],
                         event_end_date=ended.isoformat())  # fmt: skip
        assert listed.status_code == 200, listed.text
        expiring.append(listed.json()["entry_id"])
    rpc(url, "evm_increaseTime", [40 * DAY])
    rpc(url, "evm_mine")
    for entry_id in expiring:  # the node's own sweeper marks them
        wait_for(lambda e=entry_id: _entry_status(client, e) == "expired", 120, "expiry marks")
    wait_for(lambda: _expired_on_chain(client, old_receipts), 120, "records marked expired")
    for objection_id in unanswered:  # past their deadline too: a regulator rules
        ruling = {"outcome": "upheld", "reason": "the member did not answer in time"}
        ruled = client.post(f"/v1/disputes/objections/{objection_id}/ruling", json=ruling)
        assert ruled.status_code == 200, ruled.text


def transactions(client: TestClient, first_block: int) -> list[dict[str, Any]]:
    """Every transaction mined from `first_block` on: its function, gas used and calldata."""
    w3 = client.app.state.node.chain.client.w3  # type: ignore[attr-defined]
    names = _selectors()
    out = []
    for number in range(first_block, w3.eth.block_number + 1):
        for tx in w3.eth.get_block(number, full_transactions=True)["transactions"]:
            receipt = w3.eth.get_transaction_receipt(tx["hash"])
            data = bytes(tx["input"])
            expired = [log for log in receipt["logs"] if log["topics"][0] == LEAVES_EXPIRED]
            marks = sum(int.from_bytes(bytes(log["data"])[32:64], "big").bit_count()
                        for log in expired)  # fmt: skip
            function = names.get(data[:4], "0x" + data[:4].hex())
            if function in ("answer", "rule"):  # each outcome its own row: they cost apart
                function += ":" + OUTCOMES.get(data[67], "other")
            out.append({"function": function,
                        "gas": receipt["gasUsed"], "calldata": len(data),
                        "marks": marks, "words": len(expired),
                        "ok": receipt["status"] == 1})  # fmt: skip
    return out


def measure(*, rounds: int, records: int) -> dict[str, dict[str, Any]]:
    """Per function: transactions seen, median gas used, median calldata bytes."""
    with tempfile.TemporaryDirectory() as tmp, anvil_chain() as (url, _):
        settings = make_settings(Path(tmp) / "data", url, batch_size=records,
                                 batch_interval=0.05, workers=0)  # fmt: skip
        with TestClient(create_app(settings)) as client:
            authorize(client, "admin")
            first = client.app.state.node.chain.client.block_number() + 1  # type: ignore[attr-defined]
            exercise(client, url, rounds=rounds, records=records)
            sent = transactions(client, first)
    failed = [t["function"] for t in sent if not t["ok"]]
    if failed:
        raise SystemExit(f"capacity: transactions failed on chain: {failed}")
    seen: dict[str, dict[str, Any]] = {}
    for fn in {t["function"] for t in sent}:
        mine = [t for t in sent if t["function"] == fn]
        seen[fn] = {
            "count": len(mine),
            "gas": int(statistics.median(t["gas"] for t in mine)),
            "calldata_bytes": int(statistics.median(t["calldata"] for t in mine)),
        }
    batched = [t for t in sent if t["function"] == "expireLeaves"]
    if batched:  # per record marked and per bitmap word, over every expiry of the run
        marks, words = sum(t["marks"] for t in batched), sum(t["words"] for t in batched)
        gas, calldata = sum(t["gas"] for t in batched), sum(t["calldata"] for t in batched)
        seen["expireLeaves"] |= {
            "marks": marks,
            "words": words,
            "gas_per_mark": round(gas / marks),
            "calldata_bytes_per_mark": round(calldata / marks),
            "gas_per_word": round(gas / words),
        }
    missing = [fn for fn in KINDS if fn not in seen]
    if missing:
        raise SystemExit(f"capacity: the node sent no {', '.join(missing)} transaction")
    return seen


# -- projecting --------------------------------------------------------------------------------


def daily_load(args: argparse.Namespace) -> tuple[dict[str, float], dict[str, Any]]:
    """Transactions a day of each kind, and the assumptions they rest on."""
    records = args.subjects * args.reports_per_month / 30
    anchors = args.members * DAY / args.anchor_interval
    leaves = records + 2 * args.queries  # each side of a query anchors its own log entry
    answered = args.objections * (1 - args.ruling_rate)
    per_day = {
        "anchorBatch": anchors,
        "supersede": records * args.correction_rate,
        "bind": float(args.consents),  # at most one new binding per consent
        "registerConsent": float(args.consents),
        "revokeConsent": args.consents * args.revocation_rate,
        "registerNotice": float(args.listings),  # a notice before every listing
        "list": float(args.listings),
        "delist": args.listings * args.delisting_rate,
        # five years on, every listing not delisted is marked expired: as many a day
        "markExpired": args.listings * (1 - args.delisting_rate),
        # five years on, every record's current version is marked expired (an older version
        # stays superseded). expireLeaves takes one batch: one transaction for each batch and
        # day its records expire on (a batch's records were reported together, so mostly one
        # day; --expiry-days-per-batch for more), each at the gas of one the run sent
        "expireLeaves": anchors * args.expiry_days_per_batch,
        # every objection closed once: answered by the holder in time, or else ruled on (an
        # upheld answer's correction is a supersede, already among the corrections)
        "fileFor": args.objections * (1 - args.signed_objection_share),
        "fileSigned": args.objections * args.signed_objection_share,
        "answer:rejected": answered * (1 - args.upheld_rate - args.unresolved_rate),
        "answer:unresolved": answered * args.unresolved_rate,
        "answer:upheld": answered * args.upheld_rate,
        "rule:upheld": args.objections * args.ruling_rate,
    }
    assumptions = {
        "members": args.members, "subjects": args.subjects, "consents_per_day": args.consents,
        "queries_per_day": args.queries, "records_per_day": round(records),
        "reports_per_subject_per_month": args.reports_per_month,
        "anchor_interval_s": args.anchor_interval,
        "leaves_per_batch": round(leaves / anchors, 1),
        "correction_rate": args.correction_rate, "revocation_rate": args.revocation_rate,
        "new_binding_per_consent": 1, "listings_per_day": args.listings,
        "delisting_rate": args.delisting_rate,
        "records_per_batch": round(records / anchors, 1),
        "expiry_days_per_batch": args.expiry_days_per_batch,
        "objections_per_day": args.objections,
        "signed_objection_share": args.signed_objection_share,
        "objection_upheld_rate": args.upheld_rate,
        "objection_unresolved_rate": args.unresolved_rate,
        "objection_ruling_rate": args.ruling_rate,
    }  # fmt: skip
    return per_day, assumptions


def project(measured: dict[str, dict[str, Any]], args: argparse.Namespace) -> dict[str, Any]:
    per_day, assumptions = daily_load(args)
    gas_capacity = besu.GAS_LIMIT / besu.BLOCK_PERIOD
    kinds = {}
    for fn, label in KINDS.items():
        tx_s = per_day[fn] / DAY
        gas_s = tx_s * measured[fn]["gas"]
        kinds[fn] = {"kind": label, "gas": measured[fn]["gas"],
                     "calldata_bytes": measured[fn]["calldata_bytes"],
                     "tx_per_day": round(per_day[fn]), "tx_per_s": tx_s, "gas_per_s": gas_s,
                     "share_tx": tx_s / QBFT_TX_PER_S,
                     "share_gas": gas_s / gas_capacity}  # fmt: skip
    total_tx_s = sum(k["tx_per_s"] for k in kinds.values())
    total_gas_s = sum(k["gas_per_s"] for k in kinds.values())
    total = {"tx_per_day": round(total_tx_s * DAY), "tx_per_s": total_tx_s,
             "gas_per_s": total_gas_s, "share_tx": total_tx_s / QBFT_TX_PER_S,
             "share_gas": total_gas_s / gas_capacity,
             "share_demonstrated_gas": total_gas_s / QBFT_DEMONSTRATED_GAS_PER_S}  # fmt: skip
    return {
        "kinds": kinds,
        "total": total,
        "capacity": {
            "tx_per_s": QBFT_TX_PER_S,
            "gas_per_s": gas_capacity,
            "block_gas_limit": besu.GAS_LIMIT,
            "block_period_s": besu.BLOCK_PERIOD,
            "demonstrated_gas_per_s": QBFT_DEMONSTRATED_GAS_PER_S,
        },  # fmt: skip
        "assumptions": assumptions,
        "under_10_percent": max(total["share_tx"], total["share_gas"]) < 0.10,
        "not_measured": ["governance votes"],
    }


def print_table(result: dict[str, Any], measured: dict[str, dict[str, Any]]) -> None:
    a, cap = result["assumptions"], result["capacity"]
    print(f"load: {a['members']} members, {a['subjects']:,} subjects "
          f"({a['records_per_day']:,} records/day at {a['reports_per_subject_per_month']} "
          f"report(s) per subject a month), {a['consents_per_day']:,} consents/day, "
          f"{a['queries_per_day']:,} queries/day")  # fmt: skip
    print(f"batching: each member anchors one batch every {a['anchor_interval_s']} s of its "
          f"records and both sides' query logs: {a['leaves_per_batch']:,} leaves a batch on "
          "average")  # fmt: skip
    print(f"assumed: {a['correction_rate']:.1%} of records corrected, "
          f"{a['revocation_rate']:.0%} of consents revoked, a new binding per consent, "
          f"{a['listings_per_day']:,} listings/day each after a notice, "
          f"{a['delisting_rate']:.0%} of them delisted, the rest marked expired; five years on, "
          "every record not corrected marked expired, by one expireLeaves transaction for "
          f"each batch and day its records expire on ({a['records_per_batch']:,} records a "
          f"batch, {a['expiry_days_per_batch']:g} day(s) a batch)")  # fmt: skip
    print(f"capacity: {cap['tx_per_s']} tx/s (published QBFT, 4 validators); "
          f"{cap['block_gas_limit']:,} gas per {cap['block_period_s']} s block = "
          f"{cap['gas_per_s']:,.0f} gas/s")  # fmt: skip
    print()
    print(f"| {'transaction':20} | gas | calldata B | tx/day | tx/s | gas/s | share of tx/s "
          f"| share of gas/s |")  # fmt: skip
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for k in result["kinds"].values():
        print(f"| {k['kind']:20} | {k['gas']:,} | {k['calldata_bytes']:,} | "
              f"{k['tx_per_day']:,} | {k['tx_per_s']:.2f} | {k['gas_per_s']:,.0f} | "
              f"{k['share_tx']:.2%} | {k['share_gas']:.2%} |")  # fmt: skip
    t = result["total"]
    marked = measured["expireLeaves"]
    print(f"| {'total':20} | | | {t['tx_per_day']:,} | {t['tx_per_s']:.2f} | "
          f"{t['gas_per_s']:,.0f} | {t['share_tx']:.2%} | {t['share_gas']:.2%} |")  # fmt: skip
    print()
    print(f"expire records: {marked['gas_per_mark']:,} gas and "
          f"{marked['calldata_bytes_per_mark']:,} calldata bytes a record marked, "
          f"{marked['gas_per_word']:,} gas a bitmap word, over {marked['marks']} marks in "
          f"{marked['words']} word(s) of {marked['count']} expireLeaves transaction(s)"
    )  # fmt: skip
    print(f"against the gas the published run executed ({cap['demonstrated_gas_per_s']:,} "
          f"gas/s): {t['share_demonstrated_gas']:.2%}")  # fmt: skip
    print(f"objections: {a['objections_per_day']:,}/day assumed, "
          f"{a['signed_objection_share']:.0%} signed by the borrower and relayed, the rest "
          f"filed by a member; {a['objection_ruling_rate']:.0%} left to a regulator's "
          f"ruling (measured upheld), the others answered once: "
          f"{a['objection_upheld_rate']:.0%} upheld, {a['objection_unresolved_rate']:.0%} "
          "unresolved, the rest rejected")  # fmt: skip
    others = sorted(set(measured) - set(KINDS))
    if others:
        seen = [f"{fn} ({measured[fn]['count']}x, {measured[fn]['gas']:,} gas)" for fn in others]
        print("also seen in the run, not projected: " + ", ".join(seen))
    goal = "under" if result["under_10_percent"] else "NOT under"
    print(f"goal: {goal} 10% of capacity (by tx count {t['share_tx']:.2%}, by gas "
          f"{t['share_gas']:.2%})")  # fmt: skip


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="one of each transaction, small batches")
    p.add_argument("--members", type=int, default=600)
    p.add_argument("--subjects", type=int, default=1_000_000_000)
    p.add_argument("--consents", type=int, default=1_000_000, help="consents a day")
    p.add_argument("--queries", type=int, default=10_000_000, help="queries a day")
    p.add_argument("--reports-per-month", type=float, default=1.0,
                   help="records a subject gets a month (default: 1)")  # fmt: skip
    p.add_argument("--anchor-interval", type=float, default=60.0,
                   help="seconds between one member's batches (default: 60)")  # fmt: skip
    p.add_argument("--correction-rate", type=float, default=0.001,
                   help="share of records corrected later (default: 0.001)")  # fmt: skip
    p.add_argument("--revocation-rate", type=float, default=0.1,
                   help="share of consents revoked (default: 0.1)")  # fmt: skip
    p.add_argument("--listings", type=int, default=10_000, help="blacklist listings a day")
    p.add_argument("--delisting-rate", type=float, default=0.5,
                   help="share of listings delisted before they expire (default: 0.5)")  # fmt: skip
    p.add_argument("--objections", type=int, default=10_000,
                   help="objections a day; an assumption, not a published figure: 3.65 "
                   "million a year, one a year for every 274 of 1 billion subjects, and 0.03%% "
                   "of the records a day (default: 10000)")  # fmt: skip
    p.add_argument("--signed-objection-share", type=float, default=0.5,
                   help="share of objections the borrower signs and a node relays; the "
                   "rest a member files on their behalf (default: 0.5)")  # fmt: skip
    p.add_argument("--upheld-rate", type=float, default=0.3,
                   help="share of answered objections upheld (default: 0.3)")  # fmt: skip
    p.add_argument("--unresolved-rate", type=float, default=0.1,
                   help="share of answered objections left unresolved; the rest are "
                   "rejected (default: 0.1)")  # fmt: skip
    p.add_argument("--expiry-days-per-batch", type=float, default=1.0,
                   help="days on which one batch's records expire, one expireLeaves "
                   "transaction each (default: 1: a batch's records were reported "
                   "together)")  # fmt: skip
    p.add_argument("--ruling-rate", type=float, default=0.01,
                   help="share of objections left unanswered past the deadline, on which a "
                   "regulator rules (default: 0.01)")  # fmt: skip
    args = p.parse_args()
    if args.upheld_rate + args.unresolved_rate > 1:
        p.error("--upheld-rate and --unresolved-rate add up to more than 1")
    rounds, records = (1, 5) if args.quick else (3, 200)
    measured = measure(rounds=rounds, records=records)
    result = project(measured, args)
    result["measured"] = measured
    print_table(result, measured)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
