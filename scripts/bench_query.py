#!/usr/bin/env python3
"""Cross-member query benchmark: queries/s and p50/p99 latency of each answering node, with
32 concurrent requesters, against the baseline of checking the consent by one eth_call.

It brings up a 3-member consortium on anvil (`consortium up`), has members 2 and 3 submit
records about a few borrowers, binds the borrowers and registers their consents to member 1
(relayed through the API), then sends signed POST /v1/peer/queries as member 1 to each
answering node in turn: every query is checked against the node's index (no RPC), answered
with receipts and logged. The baseline: the same 32 requesters asking anvil, by eth_call of
ConsentRegistry.isValid, whether the consent holds: the rate a node checking consent on chain
could not exceed. The requests are signed and encoded before the timed phase (each fresh, within
the node's skew) and sent on kept connections, so the time measured is the answering node's.
Beside the rates it prints the CPU time the answering node and the requesters spent per query:
on a machine shared with other work, the rate says much about the machine. The last line is one
JSON object.

    .venv/bin/python scripts/bench_query.py [--queries 2000] [--concurrency 32]
"""

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import httpx  # noqa: E402
import psutil  # noqa: E402
from eth_account import Account  # noqa: E402
from sqlalchemy import create_engine  # noqa: E402
from web3 import HTTPProvider, Web3  # noqa: E402

from node.chain.compile import compile_contracts  # noqa: E402
from node.consents import service as consents  # noqa: E402
from node.consents.purposes import PURPOSES  # noqa: E402
from node.crypto import eip712  # noqa: E402
from node.keys.store import load_secrets  # noqa: E402
from node.queries.requester import PEER_PATH, peer_request  # noqa: E402
from tests.conftest import person, wait_for  # noqa: E402

BORROWERS = 8
WARMUP = 200  # queries sent first, untimed
PURPOSE = "loan_application"


def call(url: str, token: str | None = None, body: Any = None) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    resp = httpx.request("POST" if body is not None else "GET", url, json=body, headers=headers,
                         timeout=60)  # fmt: skip
    resp.raise_for_status()
    return resp.json()


def prepare(state: dict[str, Any]) -> list[tuple[str, str]]:
    """Records at members 2 and 3, bound borrowers and their consents to member 1; the
    (subject key, consent id) pairs."""
    asker, *holders = state["members"]
    for n, m in enumerate(holders, start=2):
        records = [person(seq, record_id=f"M{n}-{seq}-{k}", account_id=f"M{n}-{seq}",
                          kind="loan_opened", days_past_due=None) if k == 0
                   else person(seq, record_id=f"M{n}-{seq}-{k}", account_id=f"M{n}-{seq}")
                   for seq in range(BORROWERS) for k in range(2)]  # fmt: skip
        call(m["url"] + "/v1/records", m["token"], {"records": records})
    for n, m in enumerate(holders, start=2):
        last = f"/v1/records/M{n}-{BORROWERS - 1}-1"
        wait_for(lambda m=m, last=last: call(m["url"] + last, m["token"])["state"] == "anchored",
                 120, "anchoring")  # fmt: skip
    pairs = []
    relay = holders[0]
    for seq in range(BORROWERS):
        borrower = Account.create()
        subject = {"type": "person", "id_number": person(seq)["subject"]["id_number"]}
        key = call(relay["url"] + "/v1/bindings", relay["token"],
                   {"subject": subject, "address": borrower.address})["subject_key"]  # fmt: skip
        now = int(time.time())
        query = {"subject_key": key, "grantee": asker["address"], "purpose": PURPOSE,
                 "valid_from": now - 60, "valid_until": now + 86_400,
                 "nonce": str(seq)}  # fmt: skip
        typed = call(relay["url"] + "/v1/consents/typed-data?" + urllib.parse.urlencode(query))
        for _ in range(100):  # the binding must be indexed before the relay takes the consent
            try:
                signed = {"message": typed["message"] | {"nonce": seq},
                          "signature": eip712.sign(typed, borrower.key),
                          "borrower": borrower.address}  # fmt: skip
                relayed = call(relay["url"] + "/v1/consents", None, signed)
                break
            except httpx.HTTPStatusError:
                time.sleep(0.1)
        pairs.append((key, relayed["consent_id"]))
    return pairs


def raw_request(host: str, body: bytes, headers: dict[str, str]) -> bytes:
    """One signed query as the bytes sent on the wire (HTTP/1.1, the connection kept)."""
    head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    return (f"POST {PEER_PATH} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n{head}\r\n").encode() + body  # fmt: skip


async def exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                   request: bytes) -> tuple[int, bytes]:  # fmt: skip
    """Send one request on a kept connection; (status, body) of the answer."""
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    length = next(int(v) for k, _, v in (line.partition(b":") for line in lines[1:])
                  if k.strip().lower() == b"content-length")  # fmt: skip
    return int(lines[0].split()[1]), await reader.readexactly(length)


async def run(url: str, warmup: list[bytes], requests: list[bytes], concurrency: int
              ) -> tuple[float, list[float], int]:  # fmt: skip
    """Send `warmup` (untimed: connections opened, caches filled), then every request,
    `concurrency` at a time, each requester on its own kept connection; (queries/s,
    latencies in ms, failures). Timed: from the first request written to the last answer
    read; the requests were signed and encoded before, so the time is the node's."""
    latencies: list[float] = []
    failures = 0
    where = urllib.parse.urlsplit(url)
    conns = [await asyncio.open_connection(where.hostname, where.port)
             for _ in range(concurrency)]  # fmt: skip

    async def worker(conn: Any, queue: Iterator[bytes], timed: bool) -> None:
        nonlocal failures
        reader, writer = conn
        for request in queue:
            start = time.perf_counter()
            status, body = await exchange(reader, writer, request)
            if timed:
                latencies.append((time.perf_counter() - start) * 1000)
            if status != 200 or b'"records":[]' in body:
                failures += 1

    queue = iter(warmup)
    await asyncio.gather(*(worker(c, queue, False) for c in conns))
    queue = iter(requests)
    start = time.perf_counter()
    await asyncio.gather(*(worker(c, queue, True) for c in conns))
    elapsed = time.perf_counter() - start
    for _, writer in conns:
        writer.close()
    return len(requests) / elapsed, latencies, failures


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def in_threads(check: Any, make: Any, seconds: float, concurrency: int) -> float:
    """Checks per second, `concurrency` threads at once, each with its own `make()`."""
    counts = [0] * concurrency
    stop = time.perf_counter() + seconds

    def loop(i: int) -> None:
        made = make()
        while time.perf_counter() < stop:
            assert check(made, counts[i])
            counts[i] += 1

    threads = [threading.Thread(target=loop, args=(i,)) for i in range(concurrency)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(counts) / (time.perf_counter() - start)


def baseline(state: dict[str, Any], pairs: list[tuple[str, str]], seconds: float,
             concurrency: int) -> float:  # fmt: skip
    """eth_calls of ConsentRegistry.isValid per second, `concurrency` threads at once."""
    abi = compile_contracts()["ConsentRegistry"]["abi"]
    address, grantee = state["contracts"]["ConsentRegistry"], state["members"][0]["address"]

    def check(registry: Any, n: int) -> bool:
        consent = bytes.fromhex(pairs[n % len(pairs)][1][2:])
        return registry.functions.isValid(consent, grantee, PURPOSES.index(PURPOSE)).call()

    def make() -> Any:
        return Web3(HTTPProvider(state["anvil"]["rpc"])).eth.contract(address=address, abi=abi)

    return in_threads(check, make, seconds, concurrency)


def index_checks(state: dict[str, Any], pairs: list[tuple[str, str]], seconds: float,
                 concurrency: int) -> float:  # fmt: skip
    """The node's own consent check (check_consent on its store) per second, read-only on an
    answering member's store, `concurrency` threads at once: the same work as the baseline."""
    data = state["members"][1]["data"]
    engine = create_engine(f"sqlite:///file:{data}/node.db?mode=ro&uri=true")
    grantee = state["members"][0]["address"]

    def check(_: Any, n: int) -> bool:
        key, consent = pairs[n % len(pairs)]
        found = consents.check_consent(
            engine, consent_id=consent, subject_key=key, grantee=grantee, purpose=PURPOSE,
            at=int(time.time()),
        )  # fmt: skip
        return bool(found)

    return in_threads(check, lambda: None, seconds, concurrency)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--queries", type=int, default=2000, help="queries sent to each node")
    p.add_argument("--concurrency", type=int, default=32, help="requesters at once")
    args = p.parse_args()

    root = Path(tempfile.mkdtemp(prefix="bench-query-"))
    cli = [sys.executable, "-m", "node.cli", "consortium"]
    subprocess.run([*cli, "up", "--members", "3", "--dir", str(root)], cwd=REPO, check=True,
                   capture_output=True, timeout=600)  # fmt: skip
    try:
        state = json.loads((root / "consortium.json").read_text())
        for m in state["members"]:
            m["token"] = (Path(m["data"]) / "admin.token").read_text().strip()
        pairs = prepare(state)
        asker = state["members"][0]
        account = load_secrets(Path(asker["data"]) / "keys").member
        chain_id = Web3(HTTPProvider(state["anvil"]["rpc"])).eth.chain_id
        consortium = state["contracts"]["Consortium"]
        per_node: dict[str, Any] = {}
        for m in state["members"][1:]:
            wait_for(lambda m=m: _answers(m["url"], account, chain_id, consortium, pairs),
                     60, "consents indexed")  # fmt: skip
            host = urllib.parse.urlsplit(m["url"]).netloc
            requests = [raw_request(host, *peer_request(
                account, chain_id=chain_id, consortium=consortium,
                consent_id=pairs[i % len(pairs)][1], subject_key=pairs[i % len(pairs)][0],
                purpose=PURPOSE)) for i in range(args.queries + WARMUP)]  # fmt: skip
            warmup, requests = requests[:WARMUP], requests[WARMUP:]
            node_cpu, own_cpu = _cpu(psutil.Process(m["pid"])), _cpu(psutil.Process())
            qps, latencies, failures = asyncio.run(
                run(m["url"], warmup, requests, args.concurrency)
            )
            node_cpu, own_cpu = (
                _cpu(psutil.Process(m["pid"])) - node_cpu,
                _cpu(psutil.Process()) - own_cpu,
            )
            per_node[m["name"]] = {
                "queries_per_s": round(qps, 1), "p50_ms": round(percentile(latencies, 50), 1),
                "p99_ms": round(percentile(latencies, 99), 1), "failures": failures,
                "node_cpu_ms_per_query": round(node_cpu * 1000 / len(requests), 2),
                "requesters_cpu_ms_per_query": round(own_cpu * 1000 / len(requests), 2),
            }  # fmt: skip
            print(f"{m['name']}: {per_node[m['name']]}", flush=True)
        base = baseline(state, pairs, 5.0, args.concurrency)
        print(f"baseline, consent checked by one eth_call (isValid) per query, "
              f"{args.concurrency} at once: {base:.1f}/s", flush=True)  # fmt: skip
        local = index_checks(state, pairs, 5.0, args.concurrency)
        print(f"the same check from the node's store (check_consent), {args.concurrency} at "
              f"once: {local:.1f}/s", flush=True)  # fmt: skip
        worst = max(per_node.values(), key=lambda r: r["p99_ms"])
        print(json.dumps({
            "queries_per_s": min(r["queries_per_s"] for r in per_node.values()),
            "p50_ms": max(r["p50_ms"] for r in per_node.values()), "p99_ms": worst["p99_ms"],
            "baseline_queries_per_s": round(base, 1), "concurrency": args.concurrency,
            "index_consent_checks_per_s": round(local, 1),
            "per_node": per_node,
        }))  # fmt: skip
    finally:
        subprocess.run([*cli, "down", "--dir", str(root)], cwd=REPO, capture_output=True,
                       timeout=120)  # fmt: skip


def _cpu(process: psutil.Process) -> float:
    """CPU seconds the process has used (all its threads)."""
    times = process.cpu_times()
    return times.user + times.system


def _answers(url: str, account: Any, chain_id: int, consortium: str, pairs: list) -> bool:
    """Whether the node answers a query under each consent (its index holds them all)."""
    for key, consent in pairs:
        body, headers = peer_request(
            account, chain_id=chain_id, consortium=consortium, consent_id=consent,
            subject_key=key, purpose=PURPOSE,
        )  # fmt: skip
        if httpx.post(url + PEER_PATH, content=body, headers=headers).status_code != 200:
            return False
    return True


if __name__ == "__main__":
    main()
