"""creditchain: run a node, or verify a receipt against the chain."""

import argparse
import json
import logging
import os
import sys
from pathlib import Path

from node import keys_cli
from node.config import Settings
from node.members import cli as governance_cli
from node.staff import cli as staff_cli


def _env(name: str, default: str) -> str:
    return os.environ.get(f"CREDITCHAIN_{name}", default)


# `creditchain run` options: the Settings fields, so names, defaults, help and environment
# variables are written once (node/config.py) and validated the same way from either source.
_RUN_OPTIONS = {
    "rpc": "URL", "data": "DIR", "port": "N", "host": "ADDR", "batch_size": "N",
    "batch_interval": "SECONDS", "confirmations": "N", "workers": "N", "max_body_mb": "MIB",
    "max_request_kb": "KIB", "rpc_gas_cap": "GAS", "rpc_evm_timeout": "SECONDS",
    "rpc_logs_max_blocks": "N", "log_level": "LEVEL",
}  # fmt: skip


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
    for field, metavar in _RUN_OPTIONS.items():
        info = Settings.model_fields[field]
        default = "unset" if info.default is None else info.default
        run.add_argument(
            "--" + field.replace("_", "-"),
            metavar=metavar,
            default=None,  # unset: Settings takes the environment, then its default
            help=f"{info.description} [CREDITCHAIN_{field.upper()}] (default: {default})",
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
    from pydantic import ValidationError

    from node.app import create_app
    from node.secrets import KeystoreError, load_secrets

    given = {f: getattr(args, f) for f in _RUN_OPTIONS if getattr(args, f) is not None}
    try:
        settings = Settings(**given)
    except ValidationError as err:
        first = err.errors(include_input=False, include_url=False)[0]
        name = ".".join(str(p) for p in first["loc"])
        print(f"creditchain: --{name.replace('_', '-')} (or CREDITCHAIN_{name.upper()}): "
              f"{first['msg']}", file=sys.stderr)  # fmt: skip
        return 2
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("alembic").setLevel(logging.WARNING)  # its start-up chatter
    try:  # a wrong password stops here, in one line, before the server starts
        load_secrets(settings.keys_dir)
    except KeystoreError as err:
        print(f"creditchain: {err}", file=sys.stderr)
        return 2
    print(
        f"starting: data in {settings.data.resolve()}, "
        f"chain {'at ' + settings.rpc if settings.rpc else 'embedded'}",
        flush=True,
    )
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
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
