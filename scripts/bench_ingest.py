#!/usr/bin/env python3
"""Ingest benchmark: records/s from POST /v1/records until every receipt is available.

For each chain (embedded, anvil) it starts a real node process on a fresh data directory,
posts N records in submissions of 10,000, and waits until all are anchored and confirmed
(receipts available). In the same run it measures two baselines:
  one_tx_per_record: the same chain, one anchoring transaction per record (sign, send, wait);
  raw: validate, pseudonymise (HMAC), canonicalise, hash, encrypt and insert each record,
       no API and no chain, one core (raw_core_per_s: the same without validate+pseudonymise).
It prints progress, the node's RSS as the store grows, and one JSON line per chain. With
--store postgresql://USER@HOST:PORT/DB the node's store is PostgreSQL: a fresh database beside
DB for each chain (the user may create databases), dropped after.

    .venv/bin/python scripts/bench_ingest.py [--records 200000] [--chain embedded|anvil|both]
        [--store postgresql://...]
"""

import argparse
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from node.crypto.canonical import canonical_json  # noqa: E402
from node.crypto.commitments import commitment, new_salt  # noqa: E402
from node.crypto.encryption import Sealer, new_master_key  # noqa: E402
from node.crypto.subjects import make_resident_id  # noqa: E402
from node.db import is_postgresql  # noqa: E402
from tests.conftest import (  # noqa: E402
    bearer,
    found_alone,
    free_port,
    person,
    rpc,
    staff_token_in,
    wait_for,
)
from tests.postgres_kit import drop_database, fresh_database  # noqa: E402

SUBMISSION = 10_000


def bodies(n: int) -> list[bytes]:
    out = []
    for start in range(0, n, SUBMISSION):
        recs = [person(i) for i in range(start, min(n, start + SUBMISSION))]
        out.append(json.dumps({"records": recs}, ensure_ascii=False).encode())
    return out


def get(url: str, token: str) -> dict:
    with urllib.request.urlopen(urllib.request.Request(url, None, bearer(token)), timeout=60) as r:
        return json.loads(r.read())


def post(url: str, body: bytes, token: str) -> dict:
    headers = {"Content-Type": "application/json", **bearer(token)}
    with urllib.request.urlopen(urllib.request.Request(url, body, headers), timeout=300) as r:
        return json.loads(r.read())


class RssSampler(threading.Thread):
    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.proc = psutil.Process(pid)
        self.peak = 0
        self.stop = threading.Event()

    def rss(self) -> int:
        """The node's memory: its API process and its worker processes."""
        procs = [self.proc, *self.proc.children(recursive=True)]
        return sum(p.memory_info().rss for p in procs if p.is_running())

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                self.peak = max(self.peak, self.rss())
            except psutil.Error:
                return
            time.sleep(0.05)


def bench_node(n: int, rpc_url: str | None, work: Path, store: str | None) -> tuple[float, float]:
    port = free_port()
    args = [
        sys.executable,
        "-m",
        "node.cli",
        "run",
        "--data",
        str(work / "data"),
        "--port",
        str(port),
        "--batch-size",
        str(SUBMISSION),
        "--batch-interval",
        "0.2",
        "--log-level",
        "warning",
    ]
    if rpc_url:  # a node joins a consortium on a shared chain: found one first
        found_alone(work / "data", rpc_url)
        args += ["--rpc", rpc_url]
    if store:
        args += ["--store", store]
    token = staff_token_in(work / "data", "submitter", store=store)  # the bulk loader's account
    log = open(work / "node.log", "wb")
    proc = subprocess.Popen(args, cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: get(base + "/v1/chain", token), timeout=120, what="node start")
        payloads = bodies(n)
        sampler = RssSampler(proc.pid)
        sampler.start()
        t0 = time.perf_counter()
        # two submissions in flight, as a member's bulk loader would send them
        with ThreadPoolExecutor(max_workers=2) as pool:
            answers = pool.map(lambda body: post(base + "/v1/records", body, token), payloads)
            for i, answer in enumerate(answers, 1):
                assert answer["rejected"] == 0, answer["results"][:3]
                if i % max(1, len(payloads) // 4) == 0:
                    print(
                        f"  posted {i * SUBMISSION:>8} records, node RSS "
                        f"{sampler.rss() / 2**20:.0f} MiB",
                        flush=True,
                    )
        while (status := get(base + "/v1/status", token))["anchored"] < n:
            time.sleep(0.02)
        elapsed = time.perf_counter() - t0
        sampler.stop.set()
        print(f"  all {n} receipts available after {elapsed:.2f}s in {status['batches']} batches")
        return n / elapsed, sampler.peak / 2**20
    finally:
        proc.terminate()
        proc.wait(30)


def bench_one_tx_per_record(count: int, rpc_url: str | None, work: Path) -> float:
    """The naive design: one anchoring transaction per record, through the same sender."""
    from node.chain.setup import connect_chain
    from node.keys.store import load_secrets

    (work / "baseline").mkdir()
    member = load_secrets(work / "baseline" / "keys").member
    if rpc_url:
        found_alone(work / "baseline", rpc_url)
    chain = connect_chain(
        data=work / "baseline", rpc=rpc_url, member=member, member_name="baseline"
    )
    try:
        # the leanest one-per-record sender: nonce and gas price cached, no eth_call first
        client, registry = chain.client, chain.registry
        nonce = client.w3.eth.get_transaction_count(member.address)
        gas_price = client.w3.eth.gas_price
        prev = b"\x00" * 32
        t0 = time.perf_counter()
        for i in range(count):
            root = commitment(new_salt(), b"%d" % i)
            tx = registry.functions.anchorBatch(root, 1, prev).build_transaction(
                {
                    "from": member.address,
                    "nonce": nonce + i,
                    "gas": 400_000,
                    "gasPrice": gas_price,
                    "chainId": client.chain_id,
                }
            )
            raw_tx = member.sign_transaction(tx).raw_transaction
            rcpt = client.wait_receipt(client.w3.eth.send_raw_transaction(raw_tx).to_0x_hex())
            assert rcpt is not None and rcpt["status"] == 1
            prev = root
        return count / (time.perf_counter() - t0)
    finally:
        chain.close()


def bench_raw(n: int, work: Path, *, full: bool) -> float:
    """Per-record work with no API and no chain, on one core: canonicalise, hash, encrypt,
    insert; with `full`, also validate the record and derive its subject key first (the
    work every record needs, whatever the API around it)."""
    from node.crypto.subjects import subject_key
    from node.records.schemas import RecordIn

    sealer = Sealer(new_master_key())
    secret = new_master_key()
    db = sqlite3.connect(work / f"raw-{full}.db")
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute(
        "CREATE TABLE r (id INTEGER PRIMARY KEY, record_id TEXT, commitment BLOB, "
        "wrapped BLOB, ct BLOB)"
    )
    records = [person(i) for i in range(n)]
    t0 = time.perf_counter()
    for start in range(0, n, SUBMISSION):
        rows = []
        for raw in records[start : start + SUBMISSION]:
            if full:
                rec = RecordIn.model_validate(raw)
                committed = rec.model_dump(mode="json", exclude_none=True, exclude={"subject"})
                committed["subject_key"] = subject_key(secret, "person", rec.subject.id_number)
            else:
                committed = {k: v for k, v in raw.items() if k != "subject"}
                committed["subject_key"] = make_resident_id(start)
            canon = canonical_json(committed)
            salt = new_salt()
            com = commitment(salt, canon)
            wrapped, ct = sealer.seal(canon, com)
            rows.append((committed["record_id"], com, wrapped, ct))
        db.executemany("INSERT INTO r (record_id, commitment, wrapped, ct) VALUES (?,?,?,?)", rows)
        db.commit()
    return n / (time.perf_counter() - t0)


def start_anvil(work: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    proc = subprocess.Popen(
        [str(REPO / "node_modules/.bin/anvil"), "--port", str(port), "--silent"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    wait_for(lambda: rpc(url, "eth_chainId"), timeout=30, what="anvil")
    return proc, url


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--records", type=int, default=200_000, help="records to ingest per chain")
    p.add_argument("--chain", choices=["embedded", "anvil", "both"], default="both")
    p.add_argument(
        "--baseline-txs", type=int, default=100, help="transactions for the one-per-record baseline"
    )
    p.add_argument(
        "--store",
        metavar="URL",
        help="postgresql://USER@HOST:PORT/DB: run the node on PostgreSQL (default: SQLite)",
    )
    args = p.parse_args()
    if args.store and not is_postgresql(args.store):
        p.error("--store must be a postgresql:// URL")
    chains = ["embedded", "anvil"] if args.chain == "both" else [args.chain]
    print(f"raw per-record work, {args.records} records, one core ...", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        raw = bench_raw(args.records, Path(tmp), full=True)
        core = bench_raw(args.records, Path(tmp), full=False)
    print(
        f"  raw: {raw:,.0f} records/s validate+pseudonymise+canonicalise+hash+encrypt+insert; "
        f"{core:,.0f} records/s without validate+pseudonymise",
        flush=True,
    )
    lines = []
    for name in chains:
        with tempfile.TemporaryDirectory() as tmp:
            work = Path(tmp)
            anvil = None
            url = None
            store = fresh_database(args.store) if args.store else None
            if name == "anvil":
                anvil, url = start_anvil(work)
            try:
                print(f"{name}: ingesting {args.records} records through the API ...", flush=True)
                per_s, peak = bench_node(args.records, url, work, store)
                print(
                    f"{name}: one transaction per record, {args.baseline_txs} records ...",
                    flush=True,
                )
                one_tx = bench_one_tx_per_record(args.baseline_txs, url, work)
            finally:
                if anvil:
                    anvil.terminate()
                    anvil.wait(10)
                if store:
                    drop_database(args.store, store)
        figures = {
            "records_per_s": round(per_s, 1),
            "one_tx_per_record_per_s": round(one_tx, 1),
            "raw_per_s": round(raw, 1),
            "raw_core_per_s": round(core, 1),
            "vs_one_tx": round(per_s / one_tx, 1),
            "vs_raw": round(per_s / raw, 3),
            "peak_rss_mb": round(peak, 1),
            "records": args.records,
            "chain": name,
            "store": "postgresql" if args.store else "sqlite",
        }
        print(
            f"  {name}: {per_s:,.0f} records/s = {figures['vs_one_tx']}x one-tx-per-record "
            f"({one_tx:,.1f}/s), {figures['vs_raw']:.0%} of raw; peak RSS {peak:.0f} MiB",
            flush=True,
        )
        lines.append(figures)
    for figures in lines:
        print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    sys.exit(main())
