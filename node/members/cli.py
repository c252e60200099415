"""`creditchain governance`: see, propose and vote on consortium changes through a node.

It calls the node's API as one of its admin staff (the token from --token-file or
CREDITCHAIN_TOKEN); the node proposes and votes with its member key.
"""

import argparse
import json
import sys
import unicodedata
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from node.cli_args import TokenMissing, node_default, refusal, staff_token
from node.config import EXIT_BAD_INPUT, EXIT_FAILED, EXIT_UNREACHABLE


def register(sub: Any) -> None:
    gov = sub.add_parser(
        "governance",
        help="list, propose and vote on consortium changes, through a node",
        description="Consortium changes (admit, suspend, reinstate, remove a member; grant or "
        "revoke the auditor and regulator roles) pass by M-of-N votes of the founding admins. "
        "These commands ask a node to propose or vote with its member key; they need a token "
        "of one of its admin staff. Exit 0 on success, 1 if the node refuses, 2 on bad input, "
        "3 if the node cannot be reached.",
    )
    gov.set_defaults(func=main_for, resolve=node_default)
    gsub = gov.add_subparsers(dest="governance_command", required=True, metavar="ACTION")
    gsub.add_parser("members", help="the consortium's members, from the chain")
    listing = gsub.add_parser("list", help="the open proposals")
    listing.add_argument("--all", action="store_true", help="closed and expired ones too")
    propose = gsub.add_parser("propose", help="propose a change; this member's vote counts")
    propose.add_argument("action", choices=[
        "admit", "suspend", "reinstate", "remove",
        "grant_auditor", "grant_regulator", "revoke_auditor", "revoke_regulator"],
        help="the change: admit, suspend, reinstate or remove a member; grant or revoke "
        "the auditor or regulator role")  # fmt: skip
    propose.add_argument("subject", metavar="ADDRESS", help="the member's address")
    propose.add_argument("--name", default="", help="admit: the member's name")
    propose.add_argument("--node-url", default="", help="admit: its node's URL")
    propose.add_argument("--public-key", default="", help="admit: its public key, hex")
    vote = gsub.add_parser("vote", help="vote for a proposal")
    vote.add_argument("proposal", metavar="ID", type=int,
                      help="the proposal's number, as `governance list` shows it")  # fmt: skip
    for parser in gsub.choices.values():
        parser.add_argument(
            "--node", metavar="URL",
            default=None,  # filled in by node_default, from the node's settings
            help="the node's API [CREDITCHAIN_NODE] (default: the node `creditchain run` "
            "starts with the same environment: http://CREDITCHAIN_HOST:CREDITCHAIN_PORT)",
        )  # fmt: skip
        parser.add_argument(
            "--token-file", metavar="FILE", type=Path,
            help="a file holding an admin staff token (or CREDITCHAIN_TOKEN)",
        )  # fmt: skip
        parser.add_argument("--json", action="store_true", help="print the answer as JSON")


class _BadInput(Exception):
    """Something on the command line or in the environment is wrong; one line says what."""


class _Unreachable(Exception):
    """No creditchain node answered at --node."""


def _token(args: argparse.Namespace) -> str:
    try:
        return staff_token(args, role="an admin")
    except TokenMissing as err:
        raise _BadInput(str(err)) from None


def _call(args: argparse.Namespace, token: str, method: str, path: str, body: Any = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
    url = args.node.rstrip("/") + path
    try:
        req = urllib.request.Request(url, data, headers, method=method)
    except ValueError as err:  # not a URL at all
        raise _BadInput(f"--node {args.node}: {err}") from None
    try:
        with urllib.request.urlopen(req, timeout=120) as resp:
            return json.loads(resp.read())
    except urllib.error.HTTPError:
        raise  # the node answered: a refusal, said by main_for
    except OSError as err:
        raise _Unreachable(f"could not reach the node at {args.node}: {err}") from None
    except ValueError:
        raise _Unreachable(f"{args.node} answered, but not as a creditchain node") from None


def width(text: str) -> int:
    """Columns `text` takes on a terminal: East Asian wide and full-width characters take two,
    combining marks none, so that a table with 某贷款公司 in it still lines up."""
    return sum(
        0 if unicodedata.combining(c) else 2 if unicodedata.east_asian_width(c) in "WF" else 1
        for c in text
    )


def table(rows: list[list[str]]) -> list[str]:
    """Rows as lines, each column padded to its widest cell as the terminal shows it."""
    widths = [max(width(row[i]) for row in rows) for i in range(len(rows[0]))] if rows else []
    return [
        "  ".join(
            cell + " " * (w - width(cell)) for cell, w in zip(row, widths, strict=True)
        ).rstrip()
        for row in rows
    ]


def _proposal_row(proposal: dict[str, Any]) -> list[str]:
    return [
        f"#{proposal['id']}", proposal["action"], proposal["subject"],
        proposal.get("candidate", {}).get("name", ""),
        f"{proposal['votes']}/{proposal['votes_needed']} votes", proposal["state"],
    ]  # fmt: skip


def _member_row(member: dict[str, Any]) -> list[str]:
    roles = ",".join(member["roles"]) or "-"
    return [member["address"], member["status"], roles, member["name"], member["node_url"]]


def main_for(args: argparse.Namespace) -> int:
    """Run a parsed `governance` command: 0 done, 1 refused, 2 bad input, 3 no node reached."""
    cmd = args.governance_command
    try:
        token = _token(args)
        if cmd == "members":
            answer = _call(args, token, "GET", "/v1/members")
            lines = table([_member_row(m) for m in answer])
        elif cmd == "list":
            answer = _call(args, token, "GET", "/v1/proposals" + ("?all=true" if args.all else ""))
            lines = table([_proposal_row(p) for p in answer]) or ["no open proposals"]
        elif cmd == "propose":
            body = {"action": args.action, "subject": args.subject, "name": args.name,
                    "node_url": args.node_url, "public_key": args.public_key}  # fmt: skip
            answer = _call(args, token, "POST", "/v1/proposals", body)
            lines = table([_proposal_row(answer)])
        else:
            answer = _call(args, token, "POST", f"/v1/proposals/{args.proposal}/votes")
            lines = table([_proposal_row(answer)])
    except _BadInput as err:
        print(f"governance: {err}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except _Unreachable as err:
        print(f"governance: {err}", file=sys.stderr)
        return EXIT_UNREACHABLE
    except urllib.error.HTTPError as err:
        print(f"governance: refused ({err.code}) {refusal(err)}", file=sys.stderr)
        return EXIT_FAILED
    print(json.dumps(answer, ensure_ascii=False, indent=2) if args.json else "\n".join(lines))
    return 0
