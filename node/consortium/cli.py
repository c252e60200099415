"""`creditchain consortium`: found a consortium on a chain, start, inspect and stop one on
this machine (node/consortium/launcher.py), or write a Besu QBFT network for production
(node/consortium/besu.py)."""

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from node.config import Settings


def register(sub: Any) -> None:
    """Add `consortium` and its actions to the CLI's subparsers."""
    consortium = sub.add_parser(
        "consortium",
        help="a consortium on this machine: anvil and one node per member",
        description="Start, inspect and stop a consortium on one machine: anvil as the chain, "
        "the contracts, and one node per member on loopback ports, each with its own data "
        "directory, keys and store under DIR/member-N; found one on a shared chain (`found`); "
        "or write a Besu QBFT network to run in production (`besu-config`).",
    )
    csub = consortium.add_subparsers(dest="consortium_command", required=True, metavar="ACTION")
    _found_parser(csub)
    _besu_parser(csub)
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
    consortium.set_defaults(func=_consortium)


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
    found.add_argument(
        "--dispute-answer-days",
        metavar="DAYS",
        type=int,
        default=20,
        help="days a member has to answer an objection before only a regulator may rule "
        "(default: %(default)s, 征信业管理条例 Art. 25)",
    )
    found.add_argument(
        "--repair-approval",
        choices=("regulator", "none"),
        default="regulator",
        help="who approves a credit repair case before a wrong record is removed: a "
        "regulator, or none (approved as it opens) (default: regulator)",
    )


def _besu_parser(csub: Any) -> None:
    from node.consortium import besu

    besu_config = csub.add_parser(
        "besu-config",
        help="write a Besu QBFT network for the consortium's chain: genesis, keys, configs",
        description="Write into DIR a Hyperledger Besu network of N QBFT validators: "
        "genesis.json (zero gas price, the validators in its extraData), each validator's node "
        "key (0600, never printed), config.toml and node allowlist, docker-compose.yml and a "
        "README. The nodes then reach it with --rpc, as they reach anvil.",
    )
    besu_config.add_argument("--validators", metavar="N", type=int, default=4,
                             help="QBFT validators (default: 4, the fewest that tolerate one "
                             "faulty)")  # fmt: skip
    besu_config.add_argument("--dir", metavar="DIR", type=Path, required=True,
                             help="where to write the network (empty, unless --force)")  # fmt: skip
    besu_config.add_argument("--chain-id", metavar="ID", type=int, default=besu.CHAIN_ID,
                             help="the chain id (default: %(default)s)")  # fmt: skip
    besu_config.add_argument("--block-period", metavar="SECONDS", type=int,
                             default=besu.BLOCK_PERIOD,
                             help="seconds between blocks (default: %(default)s)")  # fmt: skip
    besu_config.add_argument("--force", action="store_true",
                             help="write over a non-empty DIR, replacing its keys")  # fmt: skip


def _besu_config(args: argparse.Namespace) -> int:
    from node.consortium import besu

    before = {p.name for p in args.dir.glob("validator-*")}
    try:
        network = besu.write_network(args.dir, validators=args.validators,
                                     chain_id=args.chain_id, block_period=args.block_period,
                                     force=args.force)  # fmt: skip
    except besu.BesuConfigError as err:
        print(f"consortium besu-config: {err}", file=sys.stderr)
        return 2
    faults = (len(network) - 1) // 3
    print(f"a QBFT network of {len(network)} validator(s) (tolerates {faults} faulty) on chain "
          f"{args.chain_id}, written to {args.dir}:")  # fmt: skip
    for v in network:
        print(f"  {v.name:13} {v.address}  {v.enode}")
    print(f"node keys: {args.dir}/validator-N/key (0600); start: cd {args.dir} && docker "
          f"compose up -d; see {args.dir / 'README.md'}")  # fmt: skip
    stale = sorted(before - {v.name for v in network})
    if stale:
        print(f"not in this network: {', '.join(stale)} in {args.dir}, left as they were "
              "(old keys: remove them)")  # fmt: skip
    return 0


def _found(args: argparse.Namespace) -> int:
    from node.chain.client import ChainError
    from node.chain.deploy import Founder
    from node.chain.setup import found_consortium
    from node.keys.store import KeystoreError, load_secrets

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
            data=args.data, rpc=args.rpc, member=member, founders=founders, threshold=threshold,
            answer_days=args.dispute_answer_days,
            repair_approval=args.repair_approval == "regulator",
        )  # fmt: skip
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
    from node.consortium import launcher as consortium

    if args.consortium_command == "found":
        return _found(args)
    if args.consortium_command == "besu-config":
        return _besu_config(args)
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
