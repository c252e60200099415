#!/usr/bin/env python3
"""Audit benchmark: records verified per second for a bundle of --records records (default
1,000,000), against the raw cost of the same hashing with hashlib alone.

It writes a synthetic bundle (node/audit/bundle.py) of --records records in batches of --batch
leaves (committed-form records, random salts, RFC 9162 trees and proofs), signed by a random
key, and a fake registry view holding the same roots (the chain's side of node/audit/core.py).
Then, timed: the audit of that bundle as `creditchain audit` runs it (read, hash, prove, count,
check the signature). In the same run, the raw figure: for the same records, the hashing of
every proof in full with hashlib alone, over bytes already decoded (commitment, leaf hash,
every node hash of the path). The audit hashes less than that: it proves each tree node of a
batch once (node/audit/core.py, `proves`), a path stopping at the first node an earlier
leaf's path proved; so it also runs with every path walked to the root (`full_paths_*`), the
raw figure's own work plus reading, parsing and bookkeeping. Writing the bundle is not timed.
The bundle must pass the audit, both ways.

Both per-second figures are over this process's CPU time (time.process_time), so that other
work on a shared machine does not tilt their ratio; `seconds` is the audit's wall-clock time.
Targets: records_per_s at least half of raw_per_s; under 60 s for the million; memory flat
(the audit's resident memory does not grow with the bundle). The last line printed is one
JSON object with the figures.

    .venv/bin/python scripts/bench_audit.py [--records 1000000] [--batch 5000]
"""

import argparse
import hashlib
import json
import random
import resource
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
from eth_account import Account

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from node.audit.bundle import BundleWriter  # noqa: E402
from node.audit.chainview import ChainFacts  # noqa: E402
from node.audit.core import ChainBatch  # noqa: E402
from node.audit.service import audit_bundle  # noqa: E402
from node.crypto.canonical import canonical_json  # noqa: E402
from node.crypto.merkle import inclusion_proof, root_from_levels, tree_levels  # noqa: E402

KINDS = ("loan_opened", "repayment", "overdue", "settled")


Batch = tuple[int, list[tuple[bytes, bytes, dict]], list[list[bytes]]]


def batches(records: int, size: int, seed: int) -> Iterator[Batch]:
    """Batch by batch, the same every time for the same seed: (batch id, [(salt, canonical
    body, record)], tree levels)."""
    rnd = random.Random(seed)
    batch_id, done = 0, 0
    while done < records:
        n = min(size, records - done)
        batch_id += 1
        rows = []
        for i in range(done, done + n):
            record = {
                "record_id": f"LN-{i:08d}-2025-06", "subject_key": "0x" + rnd.randbytes(32).hex(),
                "subject_type": "person", "kind": KINDS[i % 4], "account_id": f"LN-{i:08d}",
                "event_date": "2025-06-30", "amount_cents": 100_000 + i, "currency": "CNY",
                "days_past_due": 95,
            }  # fmt: skip
            rows.append((rnd.randbytes(32), canonical_json(record), record))
        levels = tree_levels([hashlib.sha256(s + b).digest() for s, b, _ in rows])
        yield batch_id, rows, levels
        done += n


def write_bundle(path: Path, records: int, size: int, seed: int) -> dict[int, ChainBatch]:
    account = Account.create()
    chain: dict[int, ChainBatch] = {}
    prev = b"\x00" * 32
    with path.open("wb") as out:
        writer = BundleWriter(out, account, {
            "chain_id": 31337, "registry": "0x" + "11" * 20, "as_of_block": records,
            "created_at": int(time.time()),
            "batches": -(-records // size), "leaves": records,
        })  # fmt: skip
        for batch_id, rows, levels in batches(records, size, seed):
            root = root_from_levels(levels)
            chain[batch_id] = ChainBatch(batch_id, root, len(rows), prev, batch_id)
            prev = root
            for index, (salt, body, record) in enumerate(rows):
                commitment = hashlib.sha256(salt + body).digest()
                writer.write({
                    "batch": batch_id, "leaf": index, "kind": "record", "record": record,
                    "salt": "0x" + salt.hex(), "commitment": "0x" + commitment.hex(),
                    "status": "active",
                    "proof": "0x" + b"".join(inclusion_proof(levels, index)).hex(),
                })  # fmt: skip
        writer.close()
    return chain


def raw_seconds(records: int, size: int, seed: int) -> float:
    """Only the hashing the audit does per record, over decoded bytes: the baseline."""
    sha256 = hashlib.sha256
    spent = 0.0
    for _, rows, levels in batches(records, size, seed):
        n = len(rows)
        work = [(s, b, i, inclusion_proof(levels, i)) for i, (s, b, _) in enumerate(rows)]
        t0 = time.process_time()
        for salt, body, index, proof in work:
            r = sha256(b"\x00" + sha256(salt + body).digest()).digest()
            fn, sn = index, n - 1
            for p in proof:
                if fn & 1 or fn == sn:
                    r = sha256(b"\x01" + p + r).digest()
                    while not fn & 1 and fn:
                        fn >>= 1
                        sn >>= 1
                else:
                    r = sha256(b"\x01" + r + p).digest()
                fn >>= 1
                sn >>= 1
        spent += time.process_time() - t0
    return spent


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--batch", type=int, default=5000, help="leaves per batch (default 5,000)")
    ap.add_argument("--seed", type=int, default=13)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-audit-") as tmp:
        path = Path(tmp) / "bundle.jsonl"
        t0 = time.perf_counter()
        chain = write_bundle(path, args.records, args.batch, args.seed)
        print(f"wrote {args.records:,} records in {len(chain):,} batches, "
              f"{path.stat().st_size / 2**20:,.0f} MiB, in {time.perf_counter() - t0:.1f} s",
              flush=True)  # fmt: skip
        raw = raw_seconds(args.records, args.batch, args.seed)
        print(f"raw hashing: {raw:.2f} s of CPU, {args.records / raw:,.0f} records/s", flush=True)
        facts = ChainFacts("a fake registry view of the same roots", 31337, "0x" + "11" * 20,
                           "", args.records, chain, {}, set())  # fmt: skip
        process = psutil.Process()
        rss_before = process.memory_info().rss
        samples: list[int] = []

        def progress(_: str, done: int, total: int) -> None:
            samples.append(process.memory_info().rss)

        t0, cpu0 = time.perf_counter(), time.process_time()
        result = audit_bundle(path, lambda header: facts, progress)
        seconds, cpu = time.perf_counter() - t0, time.process_time() - cpu0
        print(f"audit: {seconds:.2f} s ({cpu:.2f} s of CPU)", flush=True)
        cpu0 = time.process_time()  # the same, every path walked to the root, for comparison
        full = audit_bundle(path, lambda header: facts, share_nodes=False)
        full_cpu = time.process_time() - cpu0
    assert full.proven == args.records and not full.findings, full.findings[:5]
    assert result.proven == args.records and not result.findings, result.findings[:5]
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    tenth = samples[len(samples) // 10] if samples else rss_before
    growth = (max(samples) - tenth) / 2**20 if samples else 0.0
    figures = {
        "records": args.records,
        "records_per_s": round(args.records / cpu),
        "raw_per_s": round(args.records / raw),
        "ratio_to_raw": round(raw / cpu, 3),
        "full_paths_records_per_s": round(args.records / full_cpu),
        "full_paths_ratio_to_raw": round(raw / full_cpu, 3),
        "seconds": round(seconds, 2),
        "wall_records_per_s": round(args.records / seconds),
        "cpu_seconds": round(cpu, 2),
        "rss_growth_after_first_tenth_mb": round(growth, 1),
        "peak_rss_mb": round(peak, 1),
    }
    print(f"audit: {figures['records_per_s']:,} records/s ({figures['ratio_to_raw']:.0%} of "
          f"raw; target 50%); with every path walked to the root "
          f"{figures['full_paths_records_per_s']:,} records/s "
          f"({figures['full_paths_ratio_to_raw']:.0%} of raw); resident memory grew "
          f"{growth:.1f} MiB after the first tenth", flush=True)  # fmt: skip
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
