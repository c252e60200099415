"""`creditchain disputes sla` and `creditchain disputes list`: the objections as the node's
event index holds them, read from its store with no chain and no running node needed (as
`blacklist check` does), as of the block the index had read."""

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from node.config import EXIT_BAD_INPUT, DataDirError, Settings, require_node


def register(sub: Any) -> None:
    """Add `disputes` and its actions to the CLI's subparsers."""
    d = sub.add_parser(
        "disputes",
        help="objections: the regulator's SLA view per member, and the list",
        description="Borrowers' objections and their deadlines, from the node's event index. "
        "Filing, answering and ruling go through the node's API (/v1/disputes).",
    )
    d.set_defaults(func=_sla)  # its main action
    dsub = d.add_subparsers(dest="disputes_command", required=True, metavar="ACTION")
    sla = dsub.add_parser(
        "sla",
        help="per member: objections open, answered in time, overdue",
        description="Per member holding objected records or entries: objections open, "
        "answered before their deadline, and overdue (open past the deadline, or ruled by "
        "a regulator because none answered), judged at the time of the index's block.",
    )
    listing = dsub.add_parser(
        "list",
        help="the objections, one JSON object a line",
        description="Every objection, in id order, as JSON Lines.",
    )
    listing.add_argument("--state", choices=["open", "upheld", "rejected", "unresolved"])
    for p in (sla, listing):
        p.add_argument(
            "--data", metavar="DIR", type=Path,
            default=Path(os.environ.get("CREDITCHAIN_DATA", "data")),
            help="the node's data directory [CREDITCHAIN_DATA] (default: ./data)",
        )  # fmt: skip
    sla.add_argument("--json", action="store_true", help="print the answer as JSON")
    sla.set_defaults(func=_sla)
    listing.set_defaults(func=_list)


def _names(engine: Any) -> dict[str, str]:
    """Members' names by address, from the Consortium's events in the index."""
    from node.chain.events import COLUMNS, event_from_row
    from node.db import read_connection
    from node.members.service import fold_members

    with read_connection(engine) as conn:
        rows = conn.exec_driver_sql(
            f"SELECT {COLUMNS} FROM chain_event WHERE contract = 'Consortium' AND "
            "event = 'MemberAdded' ORDER BY block_number, log_index"
        ).all()
    return {a: m["name"] for a, m in fold_members([event_from_row(r) for r in rows]).items()}


def _engine(args: argparse.Namespace) -> Any:
    from node.db import make_engine

    require_node(args.data)
    return make_engine(Settings(data=args.data).store_url)


def _sla(args: argparse.Namespace) -> int:
    from node.disputes import reads

    try:
        engine = _engine(args)
    except DataDirError as err:
        print(f"creditchain disputes: {err}", file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        answer = reads.sla(engine=engine, names=_names(engine))
    finally:
        engine.dispose()
    if args.json:
        print(json.dumps(answer, ensure_ascii=False, indent=2))
        return 0
    print(f"objections per member as of block {answer['as_of_block']} "
          f"(block time {answer['block_time']}):")  # fmt: skip
    print(f"  {'member':42} {'name':16} {'open':>5} {'in time':>8} {'overdue':>8} "
          f"{'(open':>6} {'ruled)':>7}")  # fmt: skip
    for m in answer["members"]:
        print(f"  {m['member']:42} {(m['name'] or '')[:16]:16} {m['open']:>5} "
              f"{m['answered_in_time']:>8} {m['overdue']:>8} {m['overdue_open']:>6} "
              f"{m['ruled']:>7}")  # fmt: skip
    return 0


def _list(args: argparse.Namespace) -> int:
    from node.disputes import reads

    try:
        engine = _engine(args)
    except DataDirError as err:
        print(f"creditchain disputes: {err}", file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        after = 0
        while True:
            page = reads.list_objections(engine=engine, state=args.state, after=after)
            for o in page["objections"]:
                print(json.dumps(o, ensure_ascii=False))
            if len(page["objections"]) < 1000:
                return 0
            after = page["objections"][-1]["objection_id"]
    finally:
        engine.dispose()
