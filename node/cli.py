"""creditchain: run a node, or verify a receipt against the chain."""

import argparse
import errno
import json
import logging
import os
import socket
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import uvicorn
from pydantic import ValidationError

from node import keys_cli
from node.chain import index_cli
from node.config import (
    EXIT_BAD_INPUT,
    EXIT_FAILED,
    EXIT_UNREACHABLE,
    DataDirError,
    Settings,
    lock_data,
)
from node.members import cli as governance_cli
from node.staff import cli as staff_cli

# `creditchain run` options: the Settings fields, so names, defaults, help and environment
# variables are written once (node/config.py) and validated the same way from either source.
_RUN_OPTIONS = {
    "rpc": "URL", "consortium": "0xADDRESS", "data": "DIR", "port": "N", "host": "ADDR",
    "batch_size": "N", "batch_interval": "SECONDS", "confirmations": "N", "workers": "N",
    "max_body_mb": "MIB", "max_request_kb": "KIB", "rpc_gas_cap": "GAS",
    "rpc_evm_timeout": "SECONDS", "rpc_logs_max_blocks": "N", "log_level": "LEVEL",
}  # fmt: skip


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="creditchain",
        description="A creditchain node: credit records shared among member lenders, "
        "anchored on a permissioned chain.",
    )
    p.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser(
        "run",
        help="start the node (API and batcher)",
        description="Start one node. Every option can also be set by the environment variable "
        "named in brackets. Without --rpc the node runs its own embedded chain, kept under "
        "the data directory, and on a fresh one founds a consortium of one. With --rpc it "
        "joins the consortium its DATA/chain.json or --consortium names, and never deploys: "
        "`creditchain consortium found` founds a new one. Before it touches keys, store or "
        "chain it takes the data directory (DATA/node.lock) and its port, and stops in one "
        "line if another node has the one or another program the other.",
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
        "holds, 1 if one fails, 2 if the receipt cannot be read, 3 if the chain cannot be "
        "reached.",
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
        default=None,  # resolved from Settings after parsing: see _client_defaults
        help="the chain's JSON-RPC [CREDITCHAIN_RPC] (default: the embedded chain of the node "
        "that `creditchain run` starts with the same environment, at its /rpc: "
        "http://CREDITCHAIN_HOST:CREDITCHAIN_PORT/rpc)",
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
    _found_parser(csub)
    c_up = csub.add_parser(
        "up", help="start anvil, deploy, admit the members, start their nodes; "
        "in a DIR where a consortium was founded, bring that one back",
    )  # fmt: skip
    c_up.add_argument("--members", metavar="N", type=int, default=None,
                      help="members, one node each (default: 3)")  # fmt: skip
    c_up.add_argument(
        "--founders", metavar="F", type=int, default=None,
        help="of them, founding admins who vote on changes (default: 3)",
    )  # fmt: skip
    c_up.add_argument(
        "--threshold", metavar="M", type=int, default=None,
        help="votes a change needs (default: a majority of the founders)",
    )  # fmt: skip
    for action, text in (
        ("status", "list what `up` started; exit 1 if any of it is stopped or not answering"),
        ("down", "stop exactly what `up` started; `up` brings it back"),
    ):  # fmt: skip
        csub.add_parser(action, help=text)
    for name in ("up", "status", "down"):
        csub.choices[name].add_argument(
            "--dir", metavar="DIR", type=Path, default=Path("consortium"),
            help="where the consortium lives (default: ./consortium)",
        )  # fmt: skip
    keys_cli.register(sub)
    staff_cli.register(sub)
    governance_cli.register(sub)
    index_cli.register(sub)
    return p


def _version() -> str:
    try:
        return version("creditchain")
    except PackageNotFoundError:  # run from a checkout that was never installed
        return "(not installed)"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line, with the defaults that come from the node's settings filled in."""
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        _client_defaults(args)
    except ValidationError as err:
        parser.error(_settings_error(err))
    return args


def _client_defaults(args: argparse.Namespace) -> None:
    """`verify` and `governance` reach the node that `creditchain run` starts with the same
    environment (CREDITCHAIN_HOST, _PORT, _RPC), unless told otherwise."""
    if args.command == "verify" and args.rpc is None:
        settings = Settings()
        args.rpc = settings.rpc or settings.node_url + "/rpc"
    elif args.command == "governance" and args.node is None:
        args.node = os.environ.get("CREDITCHAIN_NODE") or Settings().node_url


def _settings_error(err: ValidationError) -> str:
    """A bad setting in one line, named as both the option and the variable."""
    first = err.errors(include_input=False, include_url=False)[0]
    name = ".".join(str(p) for p in first["loc"])
    return f"--{name.replace('_', '-')} (or CREDITCHAIN_{name.upper()}): {first['msg']}"


def _env(name: str, default: str) -> str:
    return os.environ.get(f"CREDITCHAIN_{name}", default)


def _found_parser(csub: Any) -> None:
    found = csub.add_parser(
        "found",
        help="found a new consortium on a chain: deploy its contracts, this member an admin",
        description="Deploy a new consortium's contracts on the chain at --rpc from this "
        "node's member key (DIR/keys, made if missing), with this member and each --founder "
        "as founding admins, and write DIR/chain.json. Start the node with `creditchain run "
        "--rpc URL --data DIR`; other members join with `--consortium ADDRESS` once admitted.",
    )
    found.add_argument(
        "--rpc",
        metavar="URL",
        default=_env("RPC", ""),
        help="the chain's JSON-RPC [CREDITCHAIN_RPC]",
    )
    found.add_argument(
        "--data",
        metavar="DIR",
        type=Path,
        default=Path(_env("DATA", "data")),
        help="this node's data directory [CREDITCHAIN_DATA] (default: data)",
    )
    found.add_argument(
        "--name",
        default=_env("MEMBER_NAME", Settings.model_fields["member_name"].default),
        help="this member's name on chain [CREDITCHAIN_MEMBER_NAME] (default: %(default)s)",
    )
    found.add_argument(
        "--node-url",
        metavar="URL",
        default="",
        help="this node's URL, as other members reach it (default: none)",
    )
    found.add_argument(
        "--founder",
        metavar="NAME,PUBLIC_KEY[,NODE_URL]",
        action="append",
        default=[],
        help="another founding admin (repeatable); PUBLIC_KEY as `keys public-key` prints it",
    )
    found.add_argument(
        "--threshold",
        metavar="M",
        type=int,
        default=None,
        help="votes a change needs (default: a majority of the founders)",
    )


def _found(args: argparse.Namespace) -> int:
    from node.chain.client import ChainError
    from node.chain.deploy import Founder
    from node.chain.setup import found_consortium
    from node.secrets import KeystoreError, load_secrets

    if not args.rpc:
        print("consortium found: --rpc URL (or CREDITCHAIN_RPC) names the chain to found "
              "on", file=sys.stderr)  # fmt: skip
        return 2
    others = []
    for value in args.founder:
        name, _, rest = value.partition(",")
        key, _, url = rest.partition(",")
        try:
            others.append(Founder.from_public_key(name, bytes.fromhex(key.removeprefix("0x")),
                                                  url))  # fmt: skip
        except ValueError:
            print(f"consortium found: --founder {value!r}: expected NAME,PUBLIC_KEY[,NODE_URL] "
                  "with a secp256k1 public key in hex", file=sys.stderr)  # fmt: skip
            return 2
    threshold = args.threshold or (len(others) + 1) // 2 + 1
    if not 1 <= threshold <= len(others) + 1:
        print(f"consortium found: --threshold must be between 1 and {len(others) + 1}",
              file=sys.stderr)  # fmt: skip
        return 2
    try:
        member = load_secrets(args.data / "keys").member
        founders = [Founder.of(member, args.name, args.node_url), *others]
        chain_id, addresses = found_consortium(
            data=args.data, rpc=args.rpc, member=member, founders=founders, threshold=threshold
        )
    except (KeystoreError, ChainError) as err:
        print(f"consortium found: {err}", file=sys.stderr)
        return 1
    print(f"founded a consortium on chain {chain_id}: {len(founders)} founding admin(s), "
          f"{threshold} vote(s) per change; written to {args.data / 'chain.json'}")  # fmt: skip
    for name, address in addresses.items():
        print(f"  {name:14} {address}")
    print(f"start this node:    creditchain run --rpc {args.rpc} --data {args.data}\n"
          f"a new member joins: creditchain run --rpc {args.rpc} "
          f"--consortium {addresses['Consortium']} --data DIR")  # fmt: skip
    return 0


def _consortium(args: argparse.Namespace) -> int:
    from node import consortium

    if args.consortium_command == "found":
        return _found(args)
    try:
        if args.consortium_command == "up":
            state = consortium.up(args.dir, members=args.members, founders=args.founders,
                                  threshold=args.threshold)  # fmt: skip
            print(f"consortium up: {len(state['members'])} nodes; "
                  f"`creditchain consortium status --dir {args.dir}` lists them")  # fmt: skip
        elif args.consortium_command == "status":
            healthy = True
            for row in consortium.status(args.dir):
                health = "running" if row["running"] else "STOPPED"
                if row["name"] != "anvil":
                    health += ", answering" if row["answering"] else ", NOT answering"
                    healthy = healthy and row["answering"]
                healthy = healthy and row["running"]
                print(f"{row['name']:10} {row['address']:42} {row['url']:24} {health}")
            return 0 if healthy else 1
        else:
            consortium.down(args.dir)
    except consortium.ConsortiumError as err:
        print(f"consortium: {err}", file=sys.stderr)
        return 1
    return 0


class _StartRefused(Exception):
    """The node cannot start here; the message is one line for the operator."""


def _listen(host: str, port: int) -> list[socket.socket]:
    """The API's sockets, bound now, before keys, store or chain are touched: a port in use is
    said at once, and nothing else can take it while the node deploys or catches up. Bound as
    asyncio would bind them for uvicorn (every address the host names, SO_REUSEADDR)."""
    try:
        infos = socket.getaddrinfo(
            host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )
    except socket.gaierror as err:
        raise _StartRefused(f"--host {host} (or CREDITCHAIN_HOST): {err.strerror}") from None
    sockets: list[socket.socket] = []
    try:
        for family, kind, proto, _, address in dict.fromkeys(infos):
            sock = socket.socket(family, kind, proto)
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.bind(address)
    except OSError as err:
        for sock in sockets:
            sock.close()
        if err.errno == errno.EADDRINUSE:
            why = f"port {port} on {host} is in use: give another --port (or CREDITCHAIN_PORT)"
        else:
            why = f"cannot listen on {host} port {port}: {err.strerror} (see --host, --port)"
        raise _StartRefused(why) from None
    return sockets


def _take_place(settings: Settings) -> tuple[int, list[socket.socket]]:
    """The data directory's lock and the API's sockets, or _StartRefused / DataDirError.
    An existing directory is locked first, so that a second node on it hears that rather than
    'port in use'; a new one is made only once the port is known to be free."""
    data = settings.data
    if data.exists() and not data.is_dir():
        raise _StartRefused(f"--data {data} (or CREDITCHAIN_DATA): not a directory")
    lock = lock_data(data) if data.is_dir() else None
    sockets: list[socket.socket] = []
    try:
        sockets = _listen(settings.host, settings.port)
        if lock is None:
            try:
                data.mkdir(parents=True, exist_ok=True)
            except OSError as err:
                raise _StartRefused(f"--data {data}: {err.strerror}") from None
            lock = lock_data(data)
    except BaseException:
        for sock in sockets:
            sock.close()
        if lock is not None:
            os.close(lock)
        raise
    return lock, sockets


def _run(args: argparse.Namespace) -> int:
    from node.app import create_app
    from node.chain.client import ChainError
    from node.chain.setup import prepare
    from node.secrets import KeystoreError, load_secrets

    given = {f: getattr(args, f) for f in _RUN_OPTIONS if getattr(args, f) is not None}
    try:
        settings = Settings(**given)
    except ValidationError as err:
        print(f"creditchain: {_settings_error(err)}", file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        lock, sockets = _take_place(settings)
    except (_StartRefused, DataDirError) as err:
        print(f"creditchain: {err}", file=sys.stderr)
        return EXIT_FAILED
    try:
        logging.basicConfig(
            level=settings.log_level.upper(),
            format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        )
        logging.getLogger("alembic").setLevel(logging.WARNING)  # its start-up chatter
        try:  # a wrong password stops here, in one line, before the server starts
            member = load_secrets(settings.keys_dir).member
        except KeystoreError as err:
            print(f"creditchain: {err}", file=sys.stderr)
            return EXIT_BAD_INPUT
        try:  # and so does a chain without a consortium named, or a wrong one
            prepare(data=settings.data, rpc=settings.rpc, member=member,
                    consortium=settings.consortium)  # fmt: skip
        except ChainError as err:
            print(f"creditchain: {err}", file=sys.stderr)
            return EXIT_BAD_INPUT
        print(
            f"starting: data in {settings.data.resolve()}, "
            f"chain {'at ' + settings.rpc if settings.rpc else 'embedded'}",
            flush=True,
        )
        config = uvicorn.Config(
            create_app(settings), log_level=settings.log_level, access_log=False
        )
        server = _Server(config, settings.node_url)
        server.run(sockets=sockets)
        return 0 if server.started else EXIT_FAILED
    finally:
        for sock in sockets:
            sock.close()
        os.close(lock)


class _Server(uvicorn.Server):
    """uvicorn on sockets bound before start-up, saying where it listens once it does."""

    def __init__(self, config: uvicorn.Config, url: str) -> None:
        super().__init__(config)
        self.url = url

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started:
            print(f"creditchain node: listening on {self.url} (Ctrl+C stops it)", flush=True)


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


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
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
    if args.command == "index":
        return index_cli.main_for(args)
    return _verify(args)


if __name__ == "__main__":
    sys.exit(main())
