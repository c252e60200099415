#!/usr/bin/env python3
"""Batch file benchmark: `creditchain submit` sending a JSON Lines or CSV file to a node.

It writes a file of --records valid records, starts a node on the embedded chain (as
`creditchain run` does), and runs `creditchain submit FILE` against it as a separate process,
timing it and reading its peak memory once it has ended. Run it with two sizes to see that
the command's memory does not grow with the file. Prints the figures, then one JSON line.

    .venv/bin/python scripts/bench_submit.py [--records 100000] [--format jsonl|csv]
"""

import argparse
import csv
import json
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from node.records.batchfile import COLUMNS  # noqa: E402
from tests.conftest import (  # noqa: E402
    free_port,
    person,
    staff_token_in,
    start_node_process,
    wait_http,
)


def write_file(path: Path, records: int, fmt: str) -> None:
    with path.open("w", encoding="utf-8", newline="") as f:
        if fmt == "jsonl":
            for i in range(records):
                f.write(json.dumps(person(i), ensure_ascii=False) + "\n")
            return
        writer = csv.writer(f)
        writer.writerow(COLUMNS)
        for i in range(records):
            r = person(i)
            s = r.pop("subject")
            flat = {**r, "subject_type": s["type"], "id_number": s["id_number"], "name": s["name"]}
            writer.writerow([flat.get(c, "") for c in COLUMNS])


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--records", type=int, default=100_000, help="records in the file")
    p.add_argument("--format", choices=("jsonl", "csv"), default="jsonl")
    p.add_argument("--batch", type=int, default=10_000, help="records per submission")
    args = p.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        path = work / f"records.{args.format}"
        write_file(path, args.records, args.format)
        data, port = work / "data", free_port()
        node = start_node_process(data, port, "--batch-size", "10000", log=work / "node.log")
        try:
            url = f"http://127.0.0.1:{port}"
            wait_http(url + "/healthz", timeout=120)
            env = {**os.environ, "CREDITCHAIN_TOKEN": staff_token_in(data, "submitter")}
            started = time.perf_counter()
            done = subprocess.run(
                [sys.executable, "-m", "node.cli", "submit", str(path), "--url", url,
                 "--batch", str(args.batch)],
                cwd=REPO, env=env, capture_output=True, text=True,
            )  # fmt: skip
            seconds = time.perf_counter() - started
            # the only child waited for so far: the submit process
            peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        finally:
            node.send_signal(signal.SIGINT)
            node.wait(60)
        if done.returncode != 0:
            print(done.stdout, done.stderr, file=sys.stderr)
            return 1
        size_mib = path.stat().st_size / 2**20
        print(done.stdout.strip())
        print(f"{args.records:,} records ({size_mib:.1f} MiB of {args.format}) in "
              f"{seconds:.1f} s: {args.records / seconds:,.0f} records/s; "
              f"submit's peak RSS {peak_mib:.0f} MiB")  # fmt: skip
        print(json.dumps({
            "records": args.records, "format": args.format, "file_mib": round(size_mib, 1),
            "seconds": round(seconds, 2), "records_per_s": round(args.records / seconds),
            "submit_peak_rss_mib": round(peak_mib),
        }))  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
