"""`creditchain verify`: check a receipt against the chain alone (node/receipts/verify.py)."""

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from node.config import EXIT_BAD_INPUT, EXIT_FAILED, EXIT_UNREACHABLE, Settings


def register(sub: Any) -> None:
    """Add `verify` to the CLI's subparsers."""
    verify = sub.add_parser(
        "verify",
        help="check a receipt against the chain alone",
        description="Recompute the commitment from the record (or a query log entry) and salt, "
        "walk the Merkle proof "
        "to the root, and compare with the registry's batch on chain. Exit 0 if every check "
        "holds, 1 if one fails, 2 if the receipt cannot be read, 3 if the chain cannot be "
        "reached.",
    )
    verify.add_argument(
        "receipt",
        metavar="RECEIPT.json",
        type=Path,
        help="a receipt from GET /v1/records/{id}/receipt, or a query's from "
        "GET /v1/subjects/{key}/trail ('-' for stdin)",
    )
    verify.add_argument(
        "--rpc",
        metavar="URL",
        default=None,  # resolved from Settings after parsing: see _rpc_default
        help="the chain's JSON-RPC [CREDITCHAIN_RPC] (default: the embedded chain of the node "
        "that `creditchain run` starts with the same environment, at its /rpc: "
        "http://CREDITCHAIN_HOST:CREDITCHAIN_PORT/rpc)",
    )
    verify.add_argument("--json", action="store_true", help="print the verdict as JSON")
    verify.set_defaults(func=_verify, resolve=_rpc_default)


def _rpc_default(args: argparse.Namespace) -> None:
    """Without --rpc, the chain of the node that `creditchain run` starts with the same
    environment: its own --rpc, or the embedded chain's /rpc."""
    if args.rpc is None:
        settings = Settings()
        args.rpc = settings.rpc or settings.node_url + "/rpc"


def _verify(args: argparse.Namespace) -> int:
    from web3 import HTTPProvider, Web3

    from node.receipts.verify import verify_receipt

    try:
        text = sys.stdin.read() if str(args.receipt) == "-" else args.receipt.read_text()
        receipt = json.loads(text)
        if not isinstance(receipt, dict):
            raise ValueError("a receipt is a JSON object")
    except (OSError, ValueError) as err:
        print(f"cannot read receipt: {err}", file=sys.stderr)
        return EXIT_BAD_INPUT
    w3 = Web3(HTTPProvider(args.rpc, request_kwargs={"timeout": 30}))
    try:
        verdict = verify_receipt(receipt, w3)
    except Exception as err:  # the receipt's shape is checked first: this is the chain's doing
        print(f"could not reach the chain at {args.rpc}: {type(err).__name__}", file=sys.stderr)
        return EXIT_UNREACHABLE
    if args.json:
        print(
            json.dumps(
                {
                    "ok": verdict.ok,
                    "status": verdict.status,
                    "checks": [{"check": n, "ok": ok, "detail": d} for n, ok, d in verdict.checks],
                }
            )
        )
    else:
        for name, ok, detail in verdict.checks:
            print(f"{'ok  ' if ok else 'FAIL'} {name:12} {detail}")
        print("VERIFIED" if verdict.ok else "NOT VERIFIED")
    return 0 if verdict.ok else EXIT_FAILED
