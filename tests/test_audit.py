"""The audit against two members' nodes on anvil: a member's signed export, checked against
the chain alone (its RPC, or the auditor's own node's event index). A clean bundle passes;
an altered byte, a missing record, an extra record, a missing batch and an expired record not
erased are each found and named, even in a bundle the member signed after tampering; a query
the requester logged and the holder did not is named (the holder's bundle its query log
alone); an objection left unanswered past its deadline is named; the HTML report, opened in headless
Chromium, names the same findings as the JSON report."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from node.anchoring.service import request_status_change
from node.audit.bundle import FORMAT, BundleWriter
from node.audit.export import export_bundle
from node.cli import main
from node.db import write_transaction
from node.keys.store import load_secrets
from node.queries.log import QueryEntry, write_entries
from tests.conftest import (
    headless_chromium,
    members_on_anvil,
    node_of,
    person,
    rpc,
    staff_token,
    submit,
    wait_for,
)

Q1, Q2 = "0x" + "a1" * 32, "0x" + "b2" * 32  # two queries member A made of member B


def _queries(requester: str, holder: str, side: str, query_ids: list[str]) -> list[QueryEntry]:
    at = int(time.time()) - 3600  # well before either bundle ends: both sides had logged it
    return [QueryEntry(query_id=q, side=side, subject_key="0x" + "5e" * 32, consent_id="0x"
                       + "c0" * 32, purpose="loan_application", requester=requester,
                       holder=holder, at=at) for q in query_ids]  # fmt: skip


def _export(client: Any, path: Path) -> Path:
    node = node_of(client)
    with path.open("wb") as out:
        export_bundle(engine=node.engine, keys=node.keys, account=node.chain.client.account,
                      chain_id=node.chain.chain_id, registry=node.chain.addresses["RecordRegistry"],
                      out=out)  # fmt: skip
    return path


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """Member A anchored three batches of records (and its copy of queries Q1 and Q2 made of
    B), one record expired on chain; B anchored its copy of Q1 only. Bundles: A's before the
    expired record was erased, A's after (clean, written by `creditchain audit-export`), B's."""
    root = tmp_path_factory.mktemp("audit")
    with members_on_anvil(root, ["a", "b"]) as (url, (a, b)):
        na, nb = node_of(a), node_of(b)
        ma, mb = na.chain.client.account.address, nb.chain.client.account.address
        submit(a, [person(i) for i in range(1, 6)])
        write_entries(na.engine, _queries(ma, mb, "requester", [Q1, Q2]))
        na.batcher.drain()
        submit(a, [person(i) for i in range(6, 10)])
        na.batcher.drain()
        submit(a, [person(i) for i in range(10, 13)])
        na.batcher.drain()
        write_entries(nb.engine, _queries(ma, mb, "holder", [Q1]))
        submit(b, [person(100)])
        nb.batcher.drain()
        with na.engine.connect() as conn:
            expired_leaf = conn.exec_driver_sql(
                "SELECT leaf_id FROM record WHERE record_id = ?", ("LN-000007-2025-06",)
            ).scalar_one()
        with write_transaction(na.engine) as conn:
            request_status_change(conn, status="expired", leaves=[expired_leaf], now=time.time())
        na.batcher.drain()
        unerased = _export(a, root / "a-unerased.jsonl")
        with write_transaction(na.engine) as conn:  # erasure: the record's data key destroyed
            conn.exec_driver_sql("UPDATE record SET wrapped_key = NULL WHERE leaf_id = ?",
                                 (expired_leaf,))  # fmt: skip
        clean = root / "a.jsonl"
        assert main(["audit-export", "--data", str(root / "a"), "--to", str(clean)]) == 0
        b_bundle = root / "b-queries.jsonl"  # B's query log alone, its record withheld
        assert main(["audit-export", "--data", str(root / "b"), "--to", str(b_bundle),
                     "--queries-only"]) == 0  # fmt: skip
        head = na.chain.client.block_number()
        wait_for(lambda: nb.index.indexed_block() == head, 30, "B's index at the head")
        yield {"url": url, "root": root, "a": a, "b": b, "member_a": ma, "member_b": mb,
               "clean": clean, "unerased": unerased, "b_bundle": b_bundle,
               "account_a": load_secrets(root / "a" / "keys").member}  # fmt: skip


def _read(path: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    lines = [orjson.loads(line) for line in path.read_bytes().splitlines()]
    assert "trailer" in lines[-1]
    return lines[0], lines[1:-1]


def _resign(world: dict[str, Any], lines: list[dict[str, Any]], name: str) -> Path:
    """The member itself signs a tampered bundle: what is found must come from the chain."""
    header, _ = _read(world["clean"])
    header = {k: v for k, v in header.items() if k not in (FORMAT, "member")}
    path = world["root"] / name
    with path.open("wb") as out:
        writer = BundleWriter(out, world["account_a"], header)
        for line in lines:
            writer.write(line)
        writer.close()
    return path


def _audit(world: dict[str, Any], *bundles: Path, via: str = "rpc") -> tuple[int, dict]:
    report = world["root"] / f"{bundles[0].name}.{via}.json"
    source = ["--rpc", world["url"]] if via == "rpc" else ["--data", str(world["root"] / "b")]
    code = main(["audit", *map(str, bundles), *source, "--json", str(report),
                 "--html", str(report.with_suffix(".html"))])  # fmt: skip
    return code, json.loads(report.read_text())


def _named(report: dict[str, Any]) -> set[tuple[Any, ...]]:
    return {(f["kind"], f.get("batch"), f.get("leaf"), f.get("record_id"))
            for f in report["findings"]}  # fmt: skip


def test_a_clean_bundle_passes(world: dict[str, Any]) -> None:
    code, report = _audit(world, world["clean"])
    assert code == 0 and report["ok"], report["findings"]
    (bundle,) = report["bundles"]
    header, lines = _read(world["clean"])
    assert bundle["proven"] == len(lines) == header["leaves"] == 12 + 2  # records and queries
    assert bundle["erased"] == 1 and bundle["batches_covered"] == 3
    erased = [line for line in lines if line.get("erased")]
    assert (
        erased[0]["status"] == "expired" and "record" not in erased[0] and "salt" not in erased[0]
    )


def test_the_node_index_reads_the_same_chain(world: dict[str, Any]) -> None:
    """An auditor with a node of its own (B's) reads the chain through its event index."""
    code, report = _audit(world, world["clean"], via="index")
    assert code == 0 and report["ok"], report["findings"]
    assert report["bundles"][0]["chain"]["source"] == "the node's event index"
    _, lines = _read(world["clean"])
    altered = lines[:]
    altered[3] = {**altered[3], "salt": "0x" + "00" * 32}
    code, report = _audit(world, _resign(world, altered, "salted.jsonl"), via="index")
    assert code == 1 and ("altered", 1, 3, "LN-000004-2025-06") in _named(report)


def _record_line(lines: list[dict[str, Any]], record_id: str) -> int:
    return next(i for i, line in enumerate(lines) if line.get("record", {}).get("record_id")
                == record_id)  # fmt: skip


def test_one_altered_byte_is_found_and_named(world: dict[str, Any]) -> None:
    _, lines = _read(world["clean"])
    i = _record_line(lines, "LN-000003-2025-06")
    amount = lines[i]["record"]["amount_cents"]
    lines[i] = {**lines[i], "record": {**lines[i]["record"], "amount_cents": amount + 1}}
    code, report = _audit(world, _resign(world, lines, "altered.jsonl"))
    assert code == 1
    assert _named(report) == {("altered", lines[i]["batch"], lines[i]["leaf"],
                               "LN-000003-2025-06")}  # fmt: skip
    assert "no longer hashes" in report["findings"][0]["detail"]


def test_a_byte_changed_after_signing_breaks_the_signature(world: dict[str, Any]) -> None:
    raw = world["clean"].read_bytes().replace(b'"amount_cents":123452', b'"amount_cents":123453')
    path = world["root"] / "flipped.jsonl"
    path.write_bytes(raw)
    code, report = _audit(world, path)
    kinds = {f["kind"] for f in report["findings"]}
    assert code == 1 and kinds == {"altered", "bundle"}
    assert any("changed after it was signed" in f["detail"] for f in report["findings"])


def test_one_missing_record_is_found_and_named(world: dict[str, Any]) -> None:
    _, lines = _read(world["clean"])
    i = _record_line(lines, "LN-000008-2025-06")
    gone = lines.pop(i)
    code, report = _audit(world, _resign(world, lines, "missing.jsonl"))
    assert code == 1 and _named(report) == {("missing", gone["batch"], gone["leaf"], None)}


def test_one_extra_record_is_found_and_named(world: dict[str, Any]) -> None:
    _, lines = _read(world["clean"])
    i = _record_line(lines, "LN-000010-2025-06")
    fake = {**lines[i], "record": {**lines[i]["record"], "record_id": "LN-FAKE-2025-06"}}
    lines.insert(i + 1, fake)
    code, report = _audit(world, _resign(world, lines, "extra.jsonl"))
    assert code == 1
    assert _named(report) == {("extra", fake["batch"], fake["leaf"], "LN-FAKE-2025-06")}


def test_one_missing_batch_is_found_and_named(world: dict[str, Any]) -> None:
    _, lines = _read(world["clean"])
    second = sorted({line["batch"] for line in lines})[1]
    code, report = _audit(world, _resign(world, [x for x in lines if x["batch"] != second],
                                         "no-batch.jsonl"))  # fmt: skip
    assert code == 1 and _named(report) == {("missing_batch", second, None, None)}


def test_an_expired_record_not_erased_is_found_and_named(world: dict[str, Any]) -> None:
    code, report = _audit(world, world["unerased"])
    assert code == 1
    (finding,) = report["findings"]
    assert (finding["kind"], finding["record_id"]) == ("not_erased", "LN-000007-2025-06")


def test_a_query_the_holder_did_not_log_is_named(world: dict[str, Any]) -> None:
    code, report = _audit(world, world["clean"], world["b_bundle"])
    assert code == 1
    (finding,) = report["findings"]
    assert finding["kind"] == "one_sided_query" and finding["record_id"] == Q2
    assert world["member_a"] in finding["detail"] and world["member_b"] in finding["detail"]
    assert report["query_cross_check"]["pairs"][0]["compared"] == 3  # Q1 twice, Q2 once
    _, b_lines = _read(world["b_bundle"])  # B's query log: its record withheld, yet proven
    assert [x["kind"] for x in b_lines if "entry" in x] == ["query"]
    assert [x.get("withheld") for x in b_lines if x["kind"] == "record"] == [True]
    assert not any("record" in x or ("salt" in x and x["kind"] == "record") for x in b_lines)
    assert report["bundles"][1]["proven"] == 2 and report["bundles"][1]["withheld"] == 1


def test_the_html_report_names_the_same_findings_in_chromium(
    world: dict[str, Any], tmp_path: Path
) -> None:
    from selenium.webdriver.common.by import By

    _, lines = _read(world["unerased"])
    lines.pop(_record_line(lines, "LN-000002-2025-06"))  # missing, beside the expired one
    i = _record_line(lines, "LN-000011-2025-06")
    lines[i] = {**lines[i], "salt": "0x" + "ff" * 32}  # altered
    code, report = _audit(world, _resign(world, lines, "several.jsonl"), world["b_bundle"])
    assert code == 1 and len(report["findings"]) == 4
    html = world["root"] / "several.jsonl.rpc.html"
    driver = headless_chromium(tmp_path / "profile", (1280, 900))
    try:
        driver.get(html.as_uri())
        assert driver.find_element(By.ID, "verdict").get_attribute("data-ok") == "false"
        rows = driver.find_elements(By.CSS_SELECTOR, "#findings tr.finding")
        shown = [(r.get_attribute("data-kind"), r.get_attribute("data-batch") or None,
                  r.get_attribute("data-leaf") or None, r.get_attribute("data-record-id") or None,
                  r.find_elements(By.TAG_NAME, "td")[-1].text) for r in rows]  # fmt: skip
        summary_rows = driver.find_elements(By.CSS_SELECTOR, "#summary tr[data-kind]")
        summary = {r.get_attribute("data-kind"): int(r.find_elements(By.TAG_NAME, "td")[1].text)
                   for r in summary_rows}  # fmt: skip
    finally:
        driver.quit()
    expected = [(f["kind"], *(None if f.get(k) is None else str(f[k])
                              for k in ("batch", "leaf", "record_id")), f["detail"])
                for f in report["findings"]]  # fmt: skip
    assert shown == expected
    assert summary == report["summary"]
    assert report["summary"] == {"altered": 1, "missing": 1, "not_erased": 1, "one_sided_query": 1}


def test_the_internal_auditor_downloads_the_same_bundle_over_the_api(
    world: dict[str, Any],
) -> None:
    a = world["a"]
    auditor = {"Authorization": f"Bearer {staff_token(a, 'internal_auditor')}"}
    answer = a.get("/v1/audit/export", headers=auditor)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("application/x-ndjson")
    path = world["root"] / "over-api.jsonl"
    path.write_bytes(answer.content)
    code, report = _audit(world, path)
    assert code == 0 and report["ok"] and report["bundles"][0]["proven"] == 14
    submitter = {"Authorization": f"Bearer {staff_token(a, 'submitter')}"}
    assert a.get("/v1/audit/export", headers=submitter).status_code == 403


def test_a_bundle_that_stops_early_misses_the_batches_settled_before_it(
    world: dict[str, Any],
) -> None:
    """A member cannot leave its latest batches out by claiming an earlier block: batches
    anchored well before the bundle was made must be in it."""
    header, lines = _read(world["clean"])
    first = [x for x in lines if x["batch"] == lines[0]["batch"]]
    path = world["root"] / "early.jsonl"
    later = header["created_at"] + 3600
    with path.open("wb") as out:
        writer = BundleWriter(out, world["account_a"], {
            **{k: v for k, v in header.items() if k not in (FORMAT, "member")},
            "as_of_block": 1, "created_at": later})  # fmt: skip
        for line in first:
            writer.write(line)
        writer.close()
    code, report = _audit(world, path)
    batches = sorted({x["batch"] for x in lines})
    assert code == 1
    assert _named(report) == {("missing_batch", b, None, None) for b in batches[1:]}


def test_an_objection_left_unanswered_past_its_deadline_is_named(world: dict[str, Any]) -> None:
    """B objects, for the borrower, to one of A's records; A does not answer. Inside the
    deadline the audit checks the objection and finds nothing late; once the chain's clock
    has passed the deadline, both chain reads name it. (Last in the module: it moves anvil's
    clock.)"""
    a, b = world["a"], world["b"]
    receipt = a.get("/v1/records/LN-000003-2025-06/receipt").json()
    filed = b.post("/v1/disputes/objections", json={
        "subject": {"type": "person", "id_number": person(3)["subject"]["id_number"]},
        "kind": "record", "commitment": receipt["commitment"], "reasons": "not my loan",
        "anchor": {k: receipt[k] for k in ("batch_id", "leaf_index", "proof")},
    })  # fmt: skip
    assert filed.status_code == 200, filed.text
    objection = filed.json()["objection_id"]
    code, report = _audit(world, world["clean"])
    assert report["objections"]["checked"] and report["objections"]["objections"] == 1
    assert "overdue_objection" not in report["summary"]
    assert report["summary"] == {"status": 1}  # the record is disputed now, not as exported

    rpc(world["url"], "evm_increaseTime", [20 * 24 * 3600 + 60])
    rpc(world["url"], "evm_mine")
    nb = node_of(b)
    head = nb.chain.client.block_number()
    wait_for(lambda: nb.index.indexed_block() == head, 30, "B's index at the new clock")
    for via in ("rpc", "index"):
        code, report = _audit(world, world["clean"], via=via)
        late = [f for f in report["findings"] if f["kind"] == "overdue_objection"]
        assert code == 1 and len(late) == 1, (via, report["findings"])
        assert late[0]["record_id"] == str(objection)
        assert receipt["commitment"] in late[0]["detail"] and "unanswered" in late[0]["detail"]


def test_a_node_exports_and_audits_on_either_store(store_client: Any, tmp_path: Path) -> None:
    """On SQLite and on PostgreSQL: the export read from the store, the chain read from the
    node's own event index (the embedded chain)."""
    from node.audit.chainview import from_index
    from node.audit.service import audit_bundle

    node = node_of(store_client)
    submit(store_client, [person(i) for i in range(1, 4)])
    node.batcher.drain()
    path = _export(store_client, tmp_path / "bundle.jsonl")
    head = node.chain.client.block_number()
    wait_for(lambda: node.index.indexed_block() == head, 30, "the index at the head")
    chain, member = node.chain, node.chain.client.account.address
    facts = from_index(node.engine, chain_id=chain.chain_id,
                       registry=chain.addresses["RecordRegistry"], member=member)  # fmt: skip
    audited = audit_bundle(path, lambda header: facts)
    assert audited.proven == 3 and audited.findings == []
