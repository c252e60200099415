#!/usr/bin/env python3
"""Receipt benchmark: receipts/s and ms per receipt for random records across 20,000-record batches.

It fills a node on the embedded chain with --batches batches of 20,000 records through the
real API and batcher, restarts the node (nothing carried over in memory), then asks for the
receipts of random records spread over all batches, twice: through the `get_receipt` service
call and through `GET /v1/records/{id}/receipt` (in-process, with authentication). In the same
run it measures the baseline: the same calls with the proof taken the old way, the batch's tree
rebuilt from its commitments for each receipt. It checks that both give the same proofs and
that receipts verify, prints the figures and the node's memory, and ends with one JSON line.

    .venv/bin/python scripts/bench_receipts.py [--batches 10] [--receipts 2000]
"""

import argparse
import json
import random
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import psutil
from fastapi.testclient import TestClient

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from node.anchoring import proofs  # noqa: E402
from node.app import create_app  # noqa: E402
from node.crypto.merkle import inclusion_proof  # noqa: E402
from node.db import read_connection  # noqa: E402
from node.receipts.verify import verify_receipt  # noqa: E402
from node.records import service  # noqa: E402
from tests.conftest import authorize, make_settings, node_of, person  # noqa: E402

BATCH = 20_000
SUBMISSION = 10_000


def rebuilt_path(
    engine, *, batch_id: int, size: int, index: int, entry: bytes, root: bytes
) -> list[bytes]:  # type: ignore[no-untyped-def]
    """The old way: the batch's commitments read, its whole tree hashed, the path taken."""
    return inclusion_proof(proofs.levels_from_commitments(engine, batch_id, root), index)


def fill(data: Path, batches: int) -> None:
    app = create_app(make_settings(data, batch_size=BATCH, batch_interval=3600), run_batcher=False)
    with TestClient(app) as client:
        authorize(client, "admin")
        node = node_of(client)
        for b in range(batches):
            t0 = time.perf_counter()
            for start in range(b * BATCH, (b + 1) * BATCH, SUBMISSION):
                recs = [person(i) for i in range(start, start + SUBMISSION)]
                answer = client.post("/v1/records", json={"records": recs}).json()
                assert answer["accepted"] == SUBMISSION, answer["results"][:3]
            node.batcher.drain(timeout=300)
            print(
                f"  batch {b + 1}: {BATCH} records in {time.perf_counter() - t0:.1f}s", flush=True
            )


def timed(label: str, calls: list[Callable[[], dict]]) -> tuple[float, list[dict]]:
    """Milliseconds per call, and the answers."""
    t0 = time.perf_counter()
    answers = [call() for call in calls]
    ms = (time.perf_counter() - t0) * 1000 / len(calls)
    print(f"  {label:<44} {ms:9.3f} ms/receipt {1000 / ms:10,.0f} receipts/s", flush=True)
    return ms, answers


def measure(data: Path, batches: int, n: int, n_base: int) -> dict:
    rng = random.Random(1)
    seqs = [rng.randrange(batches * BATCH) for _ in range(n)]
    process = psutil.Process()
    app = create_app(make_settings(data, batch_size=BATCH, batch_interval=3600), run_batcher=False)
    with TestClient(app) as client:
        authorize(client, "admin")
        node = node_of(client)

        def by_service(seq: int) -> Callable[[], dict]:
            return lambda: service.get_receipt(
                engine=node.engine,
                keys=node.keys,
                record_id=person(seq)["record_id"],
                chain_id=node.chain.chain_id,
                registry=node.chain.addresses["RecordRegistry"],
            )

        def by_route(seq: int) -> Callable[[], dict]:
            def call() -> dict:
                resp = client.get(f"/v1/records/{person(seq)['record_id']}/receipt")
                assert resp.status_code == 200, resp.text
                return resp.json()

            return call

        def by_record_route(seq: int) -> Callable[[], dict]:
            return lambda: client.get(f"/v1/records/{person(seq)['record_id']}").json()

        def proof_only(seq: int, path: Callable[..., list[bytes]]) -> Callable[[], list[bytes]]:
            batch_id, size, root, leaf, entry = where[seq]
            return lambda: path(
                node.engine, batch_id=batch_id, size=size, index=leaf, entry=entry, root=root
            )

        with read_connection(node.engine) as conn:
            tree_bytes = conn.exec_driver_sql(
                "SELECT SUM(length(hashes)) FROM batch_tree"
            ).scalar_one()
            store_bytes = conn.exec_driver_sql(
                "SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()"
            ).scalar_one()
            where = {
                seq: tuple(
                    conn.exec_driver_sql(
                        "SELECT b.id, b.size, b.root, r.leaf_id - b.first_leaf, r.commitment "
                        "FROM record r JOIN batch b "
                        "ON r.leaf_id BETWEEN b.first_leaf AND b.last_leaf WHERE r.record_id = ?",
                        (person(seq)["record_id"],),
                    ).one()
                )
                for seq in seqs
            }
        print(f"random receipts over {batches} batches of {BATCH:,} (node restarted):")
        rss0 = process.memory_info().rss
        service_ms, fast = timed("stored tree, get_receipt service", [by_service(s) for s in seqs])
        rss1 = process.memory_info().rss
        route_ms, _ = timed(
            "stored tree, GET /v1/records/{id}/receipt", [by_route(s) for s in seqs]
        )
        rss2 = process.memory_info().rss
        floor_ms, _ = timed(
            "(GET /v1/records/{id}, the stack without proof)", [by_record_route(s) for s in seqs]
        )
        proof_ms, _ = timed(
            "stored tree, proof alone", [proof_only(s, proofs.inclusion_path) for s in seqs]
        )
        for receipt in fast[:20]:
            assert verify_receipt(receipt, node.chain.client.w3).ok

        stored_path = proofs.inclusion_path
        proofs.inclusion_path = rebuilt_path  # type: ignore[assignment]
        try:
            base = seqs[:n_base]
            base_service_ms, slow = timed(
                "baseline (tree rebuilt), get_receipt service", [by_service(s) for s in base]
            )
            base_route_ms, _ = timed(
                "baseline (tree rebuilt), GET receipt route", [by_route(s) for s in base]
            )
            base_proof_ms, _ = timed(
                "baseline (tree rebuilt), proof alone", [proof_only(s, rebuilt_path) for s in base]
            )
        finally:
            proofs.inclusion_path = stored_path
        assert [r["proof"] for r in slow] == [r["proof"] for r in fast[:n_base]]
    print(
        f"  process RSS {rss0 / 2**20:.0f} MiB before, {rss1 / 2**20:.0f} after {n} receipts, "
        f"{rss2 / 2**20:.0f} after {2 * n}; stored trees {tree_bytes / (batches * BATCH):.0f} "
        f"bytes per record, of {store_bytes / (batches * BATCH):.0f} in the store"
    )
    return {
        "bench": "receipts",
        "batches": batches,
        "batch_size": BATCH,
        "receipts": n,
        "service_ms": round(service_ms, 3),
        "service_per_s": round(1000 / service_ms),
        "route_ms": round(route_ms, 3),
        "route_per_s": round(1000 / route_ms),
        "proof_ms": round(proof_ms, 4),
        "record_route_ms": round(floor_ms, 3),
        "baseline_receipts": n_base,
        "baseline_service_ms": round(base_service_ms, 2),
        "baseline_route_ms": round(base_route_ms, 2),
        "baseline_proof_ms": round(base_proof_ms, 2),
        "speedup_service": round(base_service_ms / service_ms, 1),
        "speedup_proof": round(base_proof_ms / proof_ms),
        "rss_growth_mib": round((rss2 - rss0) / 2**20, 1),
        "tree_bytes_per_record": round(tree_bytes / (batches * BATCH), 1),
        "store_bytes_per_record": round(store_bytes / (batches * BATCH)),
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--batches", type=int, default=10, help="batches of 20,000 records")
    p.add_argument("--receipts", type=int, default=2000, help="random receipts per measurement")
    p.add_argument(
        "--baseline", type=int, default=40, help="receipts for the rebuilt-tree baseline"
    )
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        print(f"filling a node with {args.batches} batches of {BATCH:,} records ...", flush=True)
        fill(data, args.batches)
        figures = measure(data, args.batches, args.receipts, min(args.baseline, args.receipts))
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
