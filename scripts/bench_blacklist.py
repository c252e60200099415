#!/usr/bin/env python3
"""Blacklist check benchmark: checks/s of a 100,000-applicant bulk check against 1,000,000
entries in the node's index, and in the same run the baseline of one eth_call per applicant.

It starts anvil, founds a consortium, lists --listed applicants for real (a notice and a
listing each), lets the event index and its projection derive those entries, then fills the
derived table directly up to --entries with entries of random subjects (as a million real
listings would leave it). The timed check (the median of three runs) includes the
subject-key HMAC of every applicant. The baseline checks --sample applicants one eth_call
each (HMAC, then Blacklist.isActive of its entry: the cheapest question a chain answers per
applicant, the entry id given) and extrapolates the rate, measured in the same run on the
same machine. One JSON line at the end.

    .venv/bin/python scripts/bench_blacklist.py [--applicants 100000] [--entries 1000000]
"""

import argparse
import json
import os
import secrets
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from eth_account import Account  # noqa: E402

from node.blacklist.checks import check_applicants  # noqa: E402
from node.blacklist.service import blacklist_contract, subject_key_of  # noqa: E402
from node.chain.deploy import Founder  # noqa: E402
from node.chain.index import EventIndex  # noqa: E402
from node.chain.setup import Chain, connect_chain, found_consortium  # noqa: E402
from node.crypto.subjects import make_resident_id  # noqa: E402
from node.db import make_engine, write_transaction  # noqa: E402
from tests.conftest import ANVIL_KEY, anvil_chain  # noqa: E402

YEAR = 365 * 24 * 3600


def list_for_real(chain: Chain, secret: bytes, n: int) -> dict[bytes, int]:
    """Notice and list applicants 0..n-1 on chain; their subject keys -> entry ids."""
    bl = blacklist_contract(chain).functions
    client = chain.client
    now = int(client.w3.eth.get_block("latest")["timestamp"])
    keys = [subject_key_of(secret, "person", make_resident_id(i)) for i in range(n)]
    last = ""
    for key in keys:
        last = client.send(bl.registerNotice(key, 0, b"\x01" * 32, now), gas=300_000)
    assert client.wait_receipt(last, timeout=120) is not None
    for i, key in enumerate(keys):
        last = client.send(bl.list(key, 1, b"\x02" * 32, now + 4 * YEAR, i + 1), gas=400_000)
    assert client.wait_receipt(last, timeout=120) is not None
    return {k: i + 1 for i, k in enumerate(keys)}


def fill(engine, first_id: int, count: int, member: str) -> None:  # type: ignore[no-untyped-def]
    """`count` listed entries of random subjects, written straight into the derived table."""
    far = int(time.time()) + 4 * YEAR
    rows = ((first_id + i, os.urandom(32), member, "serious_default", "0x" + "22" * 32,
             0, far, 0, "listed", 0, 0, 0) for i in range(count))  # fmt: skip
    with write_transaction(engine) as conn:
        conn.exec_driver_sql(
            "INSERT INTO blacklist_entry (id, subject_key, member, reason, evidence, listed_at, "
            "expires_at, notice_id, status, disputed, block_number, changed_block) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            list(rows),
        )


def main() -> None:
    p = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    p.add_argument("--applicants", type=int, default=100_000)
    p.add_argument("--entries", type=int, default=1_000_000, help="entries in the index")
    p.add_argument("--listed", type=int, default=2_000, help="of them listed on chain")
    p.add_argument("--sample", type=int, default=2_000, help="applicants of the baseline")
    args = p.parse_args()

    with anvil_chain() as (url, _):
        data = Path(tempfile.mkdtemp(prefix="bench-blacklist-"))
        member = Account.from_key(ANVIL_KEY)
        founders = [Founder.of(member, "Founder")]
        found_consortium(data=data, rpc=url, member=member, founders=founders, threshold=1)
        chain = connect_chain(data=data, rpc=url, member=member, member_name="Founder")
        secret = secrets.token_bytes(32)
        ids = list_for_real(chain, secret, args.listed)
        engine = make_engine(data / "node.db")
        index = EventIndex.for_chain(chain, engine=engine)
        assert index.catch_up(timeout=300)
        started = time.perf_counter()
        fill(engine, args.listed + 1, args.entries - args.listed, member.address)
        print(f"derived table filled to {args.entries:,} entries in "
              f"{time.perf_counter() - started:.1f} s", file=sys.stderr)  # fmt: skip

        applicants = [{"type": "person", "id_number": make_resident_id(i)}
                      for i in range(args.applicants)]  # fmt: skip
        check_applicants(engine=engine, secret=secret, applicants=applicants[:1000])  # warm
        runs = []
        for _ in range(3):  # the median of three, each the whole bulk check
            started = time.perf_counter()
            answer = check_applicants(engine=engine, secret=secret, applicants=applicants)
            runs.append(time.perf_counter() - started)
        took = sorted(runs)[1]
        assert answer["listed"] == min(args.listed, args.applicants), answer["listed"]
        checks_per_s = args.applicants / took
        print(f"bulk check: {args.applicants:,} applicants in {took:.3f} s (median of 3) "
              f"({checks_per_s:,.0f} checks/s), as of block {answer['as_of_block']}")  # fmt: skip

        is_active = blacklist_contract(chain).functions.isActive
        sample = applicants[: args.sample]
        started = time.perf_counter()
        for one in sample:
            key = subject_key_of(secret, one["type"], one["id_number"])
            chain.client.call(is_active(ids.get(key, 0)))
        baseline = len(sample) / (time.perf_counter() - started)
        print(f"baseline: one eth_call (isActive) per applicant, {len(sample):,} sampled: "
              f"{baseline:,.0f} checks/s, so {args.applicants:,} would take "
              f"{args.applicants / baseline:,.1f} s (extrapolated)")  # fmt: skip
        print(json.dumps({
            "checks_per_s": round(checks_per_s), "baseline_checks_per_s": round(baseline),
            "entries": args.entries, "applicants": args.applicants,
            "listed_on_chain": args.listed, "baseline_sampled": len(sample),
            "speedup": round(checks_per_s / baseline, 1),
        }))  # fmt: skip
        chain.close()


if __name__ == "__main__":
    main()
