"""`creditchain retention schedule`: what expires when, from the node's store.

Like `staff` and `blacklist check` it opens the store directly (no running node or chain
needed; beside a running node it is safe, writers take turns): it first schedules the record
versions stored since the sweeper last looked, with the retention years of the node's
settings (CREDITCHAIN_RETENTION_*), then prints the schedule as of the block the node's
event index stands at.
"""

import argparse
import datetime as dt
import os
import sys
from pathlib import Path
from typing import Any

from node.config import EXIT_BAD_INPUT, DataDirError, Settings, require_node


def register(sub: Any) -> None:
    """Add `retention` and its actions to the CLI's subparsers."""
    ret = sub.add_parser(
        "retention",
        help="records' retention: what expires when",
        description="Records of negative information are erased (their data keys destroyed) "
        "5 years (CREDITCHAIN_RETENTION_NEGATIVE_YEARS) after the adverse event ended, the "
        "others CREDITCHAIN_RETENTION_OTHER_YEARS after their event_date, by the chain's "
        "block time. The node's sweeper does it; this shows the schedule.",
    )
    ret.set_defaults(func=_schedule)  # its one action
    rsub = ret.add_subparsers(dest="retention_command", required=True, metavar="ACTION")
    show = rsub.add_parser(
        "schedule",
        help="list record versions and when they expire",
        description="One line per stored record version, in the order stored: record_id, "
        "version, kind, negative or not, the day the adverse event ended, the expiry (UTC) and "
        "the state (open: a default or write-off not settled yet; scheduled; erased, with the "
        "block it was erased at).",
    )
    show.add_argument(
        "--data", metavar="DIR", type=Path,
        default=Path(os.environ.get("CREDITCHAIN_DATA", "data")),
        help="the node's data directory [CREDITCHAIN_DATA] (default: ./data)",
    )  # fmt: skip
    show.add_argument("--state", choices=("open", "scheduled", "erased"), default=None,
                      help="only entries in this state")  # fmt: skip
    show.add_argument("--due-by", metavar="YYYY-MM-DD", type=dt.date.fromisoformat,
                      default=None,
                      help="only entries expiring by midnight UTC of that day")  # fmt: skip
    show.add_argument("--limit", metavar="N", type=int, default=1000,
                      help="at most N lines (default: 1000)")  # fmt: skip
    show.set_defaults(func=_schedule)


def _when(seconds: int | None) -> str:
    if seconds is None:
        return "-"
    return dt.datetime.fromtimestamp(seconds, dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


def _schedule(args: argparse.Namespace) -> int:
    from node.db import make_engine
    from node.retention import service

    try:
        require_node(args.data)
    except DataDirError as err:
        print(f"creditchain retention: {err}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.limit < 1:
        print("creditchain retention: --limit must be at least 1", file=sys.stderr)
        return EXIT_BAD_INPUT
    settings = Settings(data=args.data)
    due_by = None
    if args.due_by is not None:
        due_by = int(dt.datetime.combine(args.due_by, dt.time(), dt.UTC).timestamp())
    engine = make_engine(settings.store_url)
    try:
        while service.schedule_new(engine=engine, policy=service.retention_policy(settings)):
            pass
        page = service.list_schedule(engine=engine, state=args.state, due_by=due_by,
                                     limit=args.limit)  # fmt: skip
    finally:
        engine.dispose()
    print(f"as of block {page['as_of_block']} ({_when(page['chain_time'])} UTC): "
          f"{page['counts']['scheduled']} scheduled, {page['counts']['open']} open, "
          f"{page['counts']['erased']} erased")  # fmt: skip
    print(f"{'record_id':<24} {'ver':>3} {'kind':<16} {'neg':<3} {'ended':<10} "
          f"{'expires (UTC)':<19} state")  # fmt: skip
    for e in page["entries"]:
        state = e["state"]
        if state == "erased":
            state += f" at block {e['erased_block']} ({_when(e['erased_time'])})"
        print(f"{e['record_id']:<24} {e['version']:>3} {e['kind']:<16} "
              f"{'yes' if e['negative'] else 'no':<3} {e['ended_on'] or 'open':<10} "
              f"{_when(e['expires_at']):<19} {state}")  # fmt: skip
    return 0
