"""`creditchain regulator`: the regulator's view of the consortium, through a node whose
member holds the regulator role on chain (an admin or internal auditor staff token)."""

import argparse
import datetime as dt
import json
import sys
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from node.cli_args import TokenMissing, node_default, refusal, staff_token
from node.config import EXIT_BAD_INPUT, EXIT_FAILED, EXIT_UNREACHABLE
from node.members.cli import table


def register(sub: Any) -> None:
    reg = sub.add_parser(
        "regulator",
        help="the regulator's view: members, anchoring, blacklist, objections, query patterns",
        description="The consortium as a regulator sees it, through a node whose member holds "
        "the regulator role on chain; needs a token of one of its admin or internal_auditor "
        "staff. Exit 0 on success, 1 if the node refuses, 2 on bad input, 3 if the node "
        "cannot be reached.",
    )
    reg.set_defaults(func=main_for, resolve=node_default)
    rsub = reg.add_subparsers(dest="regulator_command", required=True, metavar="VIEW")
    rsub.add_parser("members", help="members, their status and roles on chain")
    act = rsub.add_parser("anchoring", help="each member's batches, commitments and gaps")
    act.add_argument(
        "--gap-hours",
        type=float,
        default=24.0,
        help="a silence longer than this is a gap (default 24)",
    )
    rsub.add_parser("blacklist", help="each member's blacklist listings by status and reason")
    rsub.add_parser("objections", help="objections against each member: open, answered in "
                    "time, overdue; and those open past their deadline")  # fmt: skip
    pat = rsub.add_parser(
        "patterns",
        help="abnormal query patterns in every member's query log",
        description="Asks every member's node for its query log (signed with the node's "
        "member key), checks each entry against the chain, and flags members looking up far "
        "more subjects than their peers, lookups outside office hours, and subjects looked up "
        "by many members in a short window (多头借贷).",
    )
    pat.add_argument(
        "--days", type=float, default=30.0, help="the window: this many days up to now (default 30)"
    )
    pat.add_argument(
        "--volume-factor",
        type=float,
        default=3.0,
        help="flag a member above this many times its peers' median (default 3)",
    )
    pat.add_argument(
        "--volume-min-subjects",
        type=int,
        default=10,
        help="... and at least this many subjects (default 10)",
    )
    pat.add_argument(
        "--office-hours", default="09:00-18:00", help="HH:MM-HH:MM (default 09:00-18:00)"
    )
    pat.add_argument(
        "--time-zone",
        default="Asia/Shanghai",
        help="IANA time zone of the office hours (default Asia/Shanghai)",
    )
    pat.add_argument(
        "--off-hours-min",
        type=int,
        default=1,
        help="flag a member with at least this many off-hours lookups (default 1)",
    )
    pat.add_argument(
        "--stacking-members",
        type=int,
        default=3,
        help="flag a subject looked up by at least this many members (default 3)",
    )
    pat.add_argument(
        "--stacking-days", type=float, default=7.0, help="... within this many days (default 7)"
    )
    for parser in rsub.choices.values():
        parser.add_argument(
            "--node",
            metavar="URL",
            default=None,
            help="the node's API [CREDITCHAIN_NODE] (default: the node `creditchain run` "
            "starts with the same environment)",
        )
        parser.add_argument(
            "--token-file",
            metavar="FILE",
            type=Path,
            help="a file holding an admin or internal_auditor staff token (or CREDITCHAIN_TOKEN)",
        )
        parser.add_argument("--json", action="store_true", help="print the answer as JSON")


class _Unreachable(Exception):
    """No creditchain node answered at --node."""


def _call(args: argparse.Namespace, token: str, path: str) -> Any:
    url = args.node.rstrip("/") + path
    try:
        req = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    except ValueError as err:
        raise TokenMissing(f"--node {args.node}: {err}") from None
    try:
        with urllib.request.urlopen(req, timeout=300) as resp:
            return json.loads(resp.read())
    except urllib.error.HTTPError:
        raise
    except OSError as err:
        raise _Unreachable(f"could not reach the node at {args.node}: {err}") from None
    except ValueError:
        raise _Unreachable(f"{args.node} answered, but not as a creditchain node") from None


def _when(at: int | None) -> str:
    return "-" if at is None else dt.datetime.fromtimestamp(at, dt.UTC).strftime("%Y-%m-%d %H:%M")


def _lines(cmd: str, answer: Any) -> list[str]:
    if cmd == "members":
        return table(
            [["ADDRESS", "STATUS", "ROLES", "NAME"]]
            + [[m["address"], m["status"], ",".join(m["roles"]) or "-", m["name"]] for m in answer]
        )
    if cmd == "anchoring":
        return table(
            [["NAME", "STATUS", "BATCHES", "LEAVES", "LAST ANCHOR (UTC)", "GAPS"]]
            + [
                [
                    a["name"],
                    a["status"],
                    str(a["batches"]),
                    str(a["leaves_anchored"]),
                    _when(a["last_anchor_at"]),
                    str(len(a["gaps"])),
                ]
                for a in answer
            ]
        )
    if cmd == "blacklist":
        return table(
            [["NAME", "TOTAL", "ACTIVE", "LAPSED", "DELISTED", "EXPIRED", "DISPUTED"]]
            + [
                [
                    b["name"],
                    str(b["total"]),
                    *(str(b["by_status"][s]) for s in ("active", "lapsed", "delisted", "expired")),
                    str(b["disputed"]),
                ]
                for b in answer
            ]
        )
    if cmd == "objections":
        return table(
            [["NAME", "TOTAL", "OPEN", "IN TIME", "OVERDUE", "RULED"]]
            + [[m["name"] or m["member"], str(m["total"]), str(m["open"]),
                str(m["answered_in_time"]), str(m["overdue"]), str(m["ruled"])]
               for m in answer["members"]]
        ) + [f"open past the deadline ({len(answer['overdue'])}):"] + [
            f"  objection {o['objection_id']} against {o['holder']}, deadline "
            f"{_when(o['deadline'])} UTC" for o in answer["overdue"]
        ]  # fmt: skip
    lines = [
        f"{answer['queries']} queries, {_when(answer['since'])} to {_when(answer['until'])} UTC"
    ]
    lines += [
        f"  {m['name'] or m['member']}: {m['status']}, {m['entries']} entries"
        + (f" ({m['error'].get('detail', m['error'].get('error'))})" if m["error"] else "")
        for m in answer["members"]
    ]
    flagged = [v for v in answer["volume"] if v["flagged"]]
    lines += [f"volume: {len(flagged)} flagged"] + [
        f"  {v['name'] or v['member']}: {v['subjects']} subjects, peers' median {v['peer_median']}"
        for v in flagged
    ]
    late = [o for o in answer["off_hours"] if o["flagged"]]
    lines += [
        f"off hours ({answer['rules']['office_hours']} {answer['rules']['time_zone']}): "
        f"{len(late)} flagged"
    ] + [f"  {o['name'] or o['member']}: {o['off_hours']} of {o['lookups']} lookups" for o in late]
    lines += [f"stacking: {len(answer['stacking'])} subject(s)"] + [
        f"  {s['subject_key']}: {len(s['members'])} members, {_when(s['first_at'])} to "
        f"{_when(s['last_at'])} UTC"
        for s in answer["stacking"]
    ]
    return lines


def _path(args: argparse.Namespace) -> str:
    cmd = args.regulator_command
    if cmd == "anchoring":
        return "/v1/regulator/anchoring?" + urllib.parse.urlencode({"gap_hours": args.gap_hours})
    if cmd != "patterns":
        return f"/v1/regulator/{cmd}"
    now = int(dt.datetime.now(dt.UTC).timestamp()) + 1
    query = {
        "since": max(0, now - int(args.days * 86_400)),
        "until": now,
        "volume_factor": args.volume_factor,
        "volume_min_subjects": args.volume_min_subjects,
        "office_hours": args.office_hours,
        "time_zone": args.time_zone,
        "off_hours_min": args.off_hours_min,
        "stacking_members": args.stacking_members,
        "stacking_days": args.stacking_days,
    }
    return "/v1/regulator/patterns?" + urllib.parse.urlencode(query)


def main_for(args: argparse.Namespace) -> int:
    """Run a parsed `regulator` command: 0 done, 1 refused, 2 bad input, 3 no node reached."""
    try:
        token = staff_token(args, role="an admin or internal_auditor")
        answer = _call(args, token, _path(args))
    except TokenMissing as err:
        print(f"regulator: {err}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except _Unreachable as err:
        print(f"regulator: {err}", file=sys.stderr)
        return EXIT_UNREACHABLE
    except urllib.error.HTTPError as err:
        print(f"regulator: refused ({err.code}) {refusal(err)}", file=sys.stderr)
        return EXIT_BAD_INPUT if err.code == 422 else EXIT_FAILED
    text = (
        json.dumps(answer, ensure_ascii=False, indent=2)
        if args.json
        else "\n".join(_lines(args.regulator_command, answer))
    )
    print(text)
    return 0
