"""`creditchain governance`: see, propose and vote on consortium changes through a node.

It calls the node's API as one of its admin staff (the token from --token-file or
CREDITCHAIN_TOKEN); the node proposes and votes with its member key.
"""

import argparse
import json
import os
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any


def register(sub: Any) -> None:
    gov = sub.add_parser(
        "governance",
        help="list, propose and vote on consortium changes, through a node",
        description="Consortium changes (admit, suspend, reinstate, remove a member; grant or "
        "revoke the auditor and regulator roles) pass by M-of-N votes of the founding admins. "
        "These commands ask a node to propose or vote with its member key; they need a token "
        "of one of its admin staff.",
    )
    gsub = gov.add_subparsers(dest="governance_command", required=True, metavar="ACTION")
    gsub.add_parser("members", help="the consortium's members, from the chain")
    listing = gsub.add_parser("list", help="the open proposals")
    listing.add_argument("--all", action="store_true", help="closed and expired ones too")
    propose = gsub.add_parser("propose", help="propose a change; this member's vote counts")
    propose.add_argument("action", choices=[
        "admit", "suspend", "reinstate", "remove",
        "grant_auditor", "grant_regulator", "revoke_auditor", "revoke_regulator"])  # fmt: skip
    propose.add_argument("subject", metavar="ADDRESS", help="the member's address")
    propose.add_argument("--name", default="", help="admit: the member's name")
    propose.add_argument("--node-url", default="", help="admit: its node's URL")
    propose.add_argument("--public-key", default="", help="admit: its public key, hex")
    vote = gsub.add_parser("vote", help="vote for a proposal")
    vote.add_argument("proposal", metavar="ID", type=int)
    for parser in gsub.choices.values():
        parser.add_argument(
            "--node", metavar="URL",
            default=os.environ.get("CREDITCHAIN_NODE", "http://127.0.0.1:8700"),
            help="the node's API [CREDITCHAIN_NODE] (default: %(default)s)",
        )  # fmt: skip
        parser.add_argument(
            "--token-file", metavar="FILE", type=Path,
            help="a file holding an admin staff token (or CREDITCHAIN_TOKEN)",
        )  # fmt: skip
        parser.add_argument("--json", action="store_true", help="print the answer as JSON")


def _token(args: argparse.Namespace) -> str:
    if args.token_file:
        return args.token_file.read_text().strip()
    token = os.environ.get("CREDITCHAIN_TOKEN", "")
    if not token:
        raise SystemExit("governance: give --token-file FILE or set CREDITCHAIN_TOKEN")
    return token


def _call(args: argparse.Namespace, method: str, path: str, body: Any = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {_token(args)}"}
    req = urllib.request.Request(args.node.rstrip("/") + path, data, headers, method=method)
    with urllib.request.urlopen(req, timeout=120) as resp:
        return json.loads(resp.read())


def _show(proposal: dict[str, Any]) -> str:
    who = proposal.get("candidate", {}).get("name", "")
    return (
        f"#{proposal['id']:<4} {proposal['action']:16} {proposal['subject']} {who:12} "
        f"{proposal['votes']}/{proposal['votes_needed']} votes  {proposal['state']}"
    )


def main_for(args: argparse.Namespace) -> int:
    cmd = args.governance_command
    try:
        if cmd == "members":
            answer = _call(args, "GET", "/v1/members")
            lines = [f"{m['address']} {m['status']:9} {','.join(m['roles']) or '-':16} "
                     f"{m['name']}  {m['node_url']}" for m in answer]  # fmt: skip
        elif cmd == "list":
            answer = _call(args, "GET", "/v1/proposals" + ("?all=true" if args.all else ""))
            lines = [_show(p) for p in answer] or ["no open proposals"]
        elif cmd == "propose":
            body = {"action": args.action, "subject": args.subject, "name": args.name,
                    "node_url": args.node_url, "public_key": args.public_key}  # fmt: skip
            answer = _call(args, "POST", "/v1/proposals", body)
            lines = [_show(answer)]
        else:
            answer = _call(args, "POST", f"/v1/proposals/{args.proposal}/votes")
            lines = [_show(answer)]
    except urllib.error.HTTPError as err:
        try:
            problem = json.loads(err.read())
            detail = f"{problem.get('error')}: {problem.get('detail')}"
        except ValueError:
            detail = str(err)
        print(f"governance: refused ({err.code}) {detail}", file=sys.stderr)
        return 1
    except OSError as err:
        print(f"governance: cannot reach the node at {args.node}: {err}", file=sys.stderr)
        return 2
    print(json.dumps(answer, ensure_ascii=False, indent=2) if args.json else "\n".join(lines))
    return 0
