#!/usr/bin/env python3
"""Retention benchmark: how fast the sweeper schedules and erases, on the store alone.

Stores N synthetic overdue records (as POST /v1/records stores them, no chain), then times
the sweeper's two store-side steps: scheduling every version (schedule_new) and, with the
chain's clock set past every expiry, erasing them all (erase_due: data keys destroyed and
the Expired marks queued, 200 a transaction) and the WAL scrub. The marks themselves are
one chain transaction each, sent by the batcher; they are not timed here.

    .venv/bin/python scripts/bench_retention.py [--records 20000] [--store postgresql://...]
"""

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from node.crypto.subjects import make_resident_id  # noqa: E402
from node.db import make_engine, sqlite_url, write_transaction  # noqa: E402
from node.records.service import RecordKeys, prepare_submission, store_submission  # noqa: E402
from node.retention import service  # noqa: E402
from node.retention.policy import Policy  # noqa: E402


def _records(start: int, n: int) -> list[dict]:
    return [{"record_id": f"LN-{i:08d}", "kind": "overdue", "account_id": f"AC-{i:08d}",
             "subject": {"type": "person", "id_number": make_resident_id(i), "name": "测试"},
             "event_date": "2020-06-30", "amount_cents": 1000 + i, "days_past_due": 30}
            for i in range(start, start + n)]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("--store", default=None, help="postgresql://... (default: SQLite)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(args.store or sqlite_url(Path(tmp) / "node.db"))
        keys = RecordKeys.from_keys(os.urandom(32), os.urandom(32))
        for start in range(0, args.records, 10_000):
            batch = _records(start, min(10_000, args.records - start))
            store_submission(engine=engine, prepared=prepare_submission(batch, keys))
        t0 = time.perf_counter()
        while service.schedule_new(engine=engine, policy=Policy()):
            pass
        scheduled = time.perf_counter() - t0
        with write_transaction(engine) as conn:
            conn.exec_driver_sql(
                "INSERT INTO retention_clock (id, block_number, block_time) VALUES (1, 1, ?)",
                (2**40,),
            )
        t0 = time.perf_counter()
        erased = 0
        while n := service.erase_due(engine=engine):
            erased += n
        service.scrub(engine)
        erasing = time.perf_counter() - t0
        engine.dispose()
    print(json.dumps({
        "records": args.records, "store": "postgresql" if args.store else "sqlite",
        "scheduled_per_s": round(args.records / scheduled), "erased": erased,
        "erased_per_s": round(erased / erasing),
    }))  # fmt: skip


if __name__ == "__main__":
    main()
