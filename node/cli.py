"""creditchain: run a node, or verify a receipt against the chain."""

import argparse
import json
import logging
import os
import sys
from pathlib import Path

from node import keys_cli
from node.members import cli as governance_cli
from node.staff import cli as staff_cli


def _env(name: str, default: str) -> str:
    return os.environ.get(f"CREDITCHAIN_{name}", default)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="creditchain",
        description="A creditchain node: credit records shared among member lenders, "
        "anchored on a permissioned chain.",
    )
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser(
        "run",
        help="start the node (API and batcher)",
        description="Start one node. Every option can also be set by the environment variable "
        "named in brackets. Without --rpc the node runs its own embedded chain, kept under "
        "the data directory.",
    )
    run.add_argument(
        "--rpc",
        metavar="URL",
        default=os.environ.get("CREDITCHAIN_RPC"),
        help="JSON-RPC URL of the chain [CREDITCHAIN_RPC]; default: embedded chain",
    )
    run.add_argument(
        "--data",
        metavar="DIR",
        type=Path,
        default=Path(_env("DATA", "data")),
        help="data directory: store, keys, embedded chain [CREDITCHAIN_DATA] (default: ./data)",
    )
    run.add_argument(
        "--port",
        metavar="N",
        type=int,
        default=int(_env("PORT", "8700")),
        help="API port [CREDITCHAIN_PORT] (default: 8700)",
    )
    run.add_argument(
        "--host",
        metavar="ADDR",
        default=_env("HOST", "127.0.0.1"),
        help="API address [CREDITCHAIN_HOST] (default: 127.0.0.1)",
    )
    run.add_argument(
        "--batch-size",
        metavar="N",
        type=int,
        default=int(_env("BATCH_SIZE", "5000")),
        help="anchor once N records are pending [CREDITCHAIN_BATCH_SIZE] (default: 5000)",
    )
    run.add_argument(
        "--batch-interval",
        metavar="SECONDS",
        type=float,
        default=float(_env("BATCH_INTERVAL", "1.0")),
        help="anchor pending records at least this often "
        "[CREDITCHAIN_BATCH_INTERVAL] (default: 1.0)",
    )
    run.add_argument(
        "--confirmations",
        metavar="N",
        type=int,
        default=int(_env("CONFIRMATIONS", "0")),
        help="blocks on top of a batch before receipts are given "
        "[CREDITCHAIN_CONFIRMATIONS] (default: 0, right for BFT finality)",
    )
    run.add_argument(
        "--workers",
        metavar="N",
        type=int,
        default=int(_env("WORKERS", "-1")),
        help="processes that validate and encrypt submissions [CREDITCHAIN_WORKERS] "
        "(default: one per core; 0: do it in the API process)",
    )
    run.add_argument(
        "--log-level",
        default=_env("LOG_LEVEL", "info"),
        choices=["debug", "info", "warning", "error"],
        help="[CREDITCHAIN_LOG_LEVEL] (default: info)",
    )

    verify = sub.add_parser(
        "verify",
        help="check a receipt against the chain alone",
        description="Recompute the commitment from the record and salt, walk the Merkle proof "
        "to the root, and compare with the registry's batch on chain. Exit 0 if every check "
        "holds, 1 if one fails, 2 on bad input.",
    )
    verify.add_argument(
        "receipt",
        metavar="RECEIPT.json",
        type=Path,
        help="a receipt from GET /v1/records/{id}/receipt ('-' for stdin)",
    )
    verify.add_argument(
        "--rpc",
        metavar="URL",
        default=_env("RPC", "http://127.0.0.1:8700/rpc"),
        help="the chain's JSON-RPC [CREDITCHAIN_RPC] (default: the local "
        "node's embedded chain, http://127.0.0.1:8700/rpc)",
    )
    verify.add_argument("--json", action="store_true", help="print the verdict as JSON")
    consortium = sub.add_parser(
        "consortium",
        help="a consortium on this machine: anvil and one node per member",
        description="Start, inspect and stop a consortium on one machine: anvil as the chain, "
        "the contracts, and one node per member on loopback ports, each with its own data "
        "directory, keys and store under DIR/member-N.",
    )
    csub = consortium.add_subparsers(dest="consortium_command", required=True, metavar="ACTION")
    c_up = csub.add_parser("up", help="start anvil, deploy, admit the members, start their nodes")
    c_up.add_argument("--members", metavar="N", type=int, default=3,
                      help="members, one node each (default: 3)")  # fmt: skip
    c_up.add_argument(
        "--founders", metavar="F", type=int, default=3,
        help="of them, founding admins who vote on changes (default: 3)",
    )  # fmt: skip
    c_up.add_argument(
        "--threshold", metavar="M", type=int, default=None,
        help="votes a change needs (default: a majority of the founders)",
    )  # fmt: skip
    for action, text in (("status", "list the nodes started by `up`"),
                         ("down", "stop exactly what `up` started")):  # fmt: skip
        csub.add_parser(action, help=text)
    for parser in csub.choices.values():
        parser.add_argument("--dir", metavar="DIR", type=Path, default=Path("consortium"),
                            help="where the consortium lives (default: ./consortium)")  # fmt: skip
    keys_cli.register(sub)
    staff_cli.register(sub)
    governance_cli.register(sub)
    return p


def _consortium(args: argparse.Namespace) -> int:
    from node import consortium

    try:
        if args.consortium_command == "up":
            state = consortium.up(args.dir, members=args.members, founders=args.founders,
                                  threshold=args.threshold)  # fmt: skip
            print(f"consortium up: {len(state['members'])} nodes; "
                  f"`creditchain consortium status --dir {args.dir}` lists them")  # fmt: skip
        elif args.consortium_command == "status":
            for row in consortium.status(args.dir):
                health = "running" if row["running"] else "STOPPED"
                if row["name"] != "anvil":
                    health += ", answering" if row["answering"] else ", NOT answering"
                print(f"{row['name']:10} {row['address']:42} {row['url']:24} {health}")
        else:
            consortium.down(args.dir)
    except consortium.ConsortiumError as err:
        print(f"consortium: {err}", file=sys.stderr)
        return 1
    return 0


def _run(args: argparse.Namespace) -> int:
    import uvicorn

    from node.app import create_app
    from node.config import Settings

    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("alembic").setLevel(logging.WARNING)  # its start-up chatter
    from node.secrets import KeystoreError, load_secrets

    try:  # a wrong password stops here, in one line, before the server starts
        load_secrets(args.data / "keys")
    except KeystoreError as err:
        print(f"creditchain: {err}", file=sys.stderr)
        return 2
    settings = Settings(
        data=args.data,
        rpc=args.rpc,
        host=args.host,
        port=args.port,
        batch_size=args.batch_size,
        batch_interval=args.batch_interval,
        confirmations=args.confirmations,
        workers=None if args.workers < 0 else args.workers,
        log_level=args.log_level,
    )
    print(
        f"starting: data in {settings.data.resolve()}, "
        f"chain {'at ' + settings.rpc if settings.rpc else 'embedded'}",
        flush=True,
    )
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_level=args.log_level,
        access_log=False,
    )
    return 0


def _verify(args: argparse.Namespace) -> int:
    from web3 import HTTPProvider, Web3

    from node.audit.verify import verify_receipt

    try:
        text = sys.stdin.read() if str(args.receipt) == "-" else args.receipt.read_text()
        receipt = json.loads(text)
        if not isinstance(receipt, dict):
            raise ValueError("a receipt is a JSON object")
    except (OSError, ValueError) as err:
        print(f"cannot read receipt: {err}", file=sys.stderr)
        return 2
    w3 = Web3(HTTPProvider(args.rpc, request_kwargs={"timeout": 30}))
    try:
        verdict = verify_receipt(receipt, w3)
    except Exception as err:  # the chain did not answer: say so, not a traceback
        print(f"cannot reach the chain at {args.rpc}: {type(err).__name__}", file=sys.stderr)
        return 2
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
    return 0 if verdict.ok else 1


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "run":
        return _run(args)
    if args.command == "consortium":
        return _consortium(args)
    if args.command == "keys":
        return keys_cli.run(args)
    if args.command == "staff":
        return staff_cli.main_for(args)
    if args.command == "governance":
        return governance_cli.main_for(args)
    return _verify(args)


if __name__ == "__main__":
    sys.exit(main())
