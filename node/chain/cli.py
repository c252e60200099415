"""`creditchain index`: where a node's event index stands, and reading it again from a block.

Both work on a data directory's store and need its chain: --rpc, or else the embedded chain
under the data directory, which one process at a time may open. While the node runs there,
pass its read-only JSON-RPC (--rpc http://127.0.0.1:8700/rpc). A rebuild beside a running
node is safe: each writer checks where the index stands before it writes, so the node's
follower and the rebuild take turns and never write a range twice.
"""

import argparse
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

RPC_HINT = "http://127.0.0.1:8700/rpc"


class IndexCommandError(Exception):
    """What stops an `index` command, said in one line."""


def register(sub: Any) -> None:
    """Add `index` and its actions to the CLI's subparsers."""
    idx = sub.add_parser(
        "index",
        help="the node's local index of chain events: status, rebuild",
        description="The node keeps every event of the consortium's contracts in its store, "
        "read from the chain a few confirmations behind its head; members and proposals are "
        "answered from it. Without --rpc these commands open the embedded chain under "
        "--data, which only works while the node is stopped; while it runs, pass "
        f"--rpc {RPC_HINT} (its read-only JSON-RPC).",
    )
    idx.set_defaults(func=main_for)
    isub = idx.add_subparsers(dest="index_command", required=True, metavar="ACTION")
    isub.add_parser("status", help="the chain's head, the block indexed up to, and the lag")
    rebuild = isub.add_parser(
        "rebuild",
        help="forget the events from a block on and read them again from the chain",
        description="Forget the indexed events from block N on, then read the chain again "
        "from N, showing progress. --from 0 rebuilds the whole index. Safe beside a running "
        "node (on the embedded chain, through its --rpc).",
    )
    rebuild.add_argument("--from", dest="from_block", metavar="N", type=int, required=True,
                         help="the first block to read again (0: all of them)")  # fmt: skip
    rebuild.add_argument(
        "--confirmations", metavar="N", type=int, default=None,
        help="blocks to stay behind the head [CREDITCHAIN_CONFIRMATIONS] (default: 0)",
    )  # fmt: skip
    for parser in isub.choices.values():
        parser.add_argument(
            "--data", metavar="DIR", type=Path,
            default=Path(os.environ.get("CREDITCHAIN_DATA", "data")),
            help="the node's data directory [CREDITCHAIN_DATA] (default: ./data)",
        )  # fmt: skip
        parser.add_argument(
            "--rpc", metavar="URL", default=os.environ.get("CREDITCHAIN_RPC") or None,
            help="the chain's JSON-RPC [CREDITCHAIN_RPC] (default: the embedded chain under "
            "--data, while the node is stopped)",
        )  # fmt: skip


def open_index(
    data: Path, rpc: str | None, confirmations: int | None = None
) -> tuple[Any, Callable[[], None]]:
    """The event index in the store under `data`, over its chain (at `rpc`, or else the
    embedded one there), and how to close both."""
    from web3 import HTTPProvider, Web3

    from node.chain.compile import compile_contracts
    from node.chain.events import ChainReader, EventDecoder
    from node.chain.index import EventIndex
    from node.config import Settings
    from node.db import make_engine

    given: dict[str, Any] = {"data": data, "rpc": rpc}
    if confirmations is not None:
        given["confirmations"] = confirmations
    settings = Settings(**given)
    if not settings.chain_file.exists():
        raise IndexCommandError(f"{settings.chain_file} not found: no node has run on {data}")
    saved = json.loads(settings.chain_file.read_text())
    close: Callable[[], None] = lambda: None  # noqa: E731
    if settings.rpc:
        w3 = Web3(HTTPProvider(settings.rpc, request_kwargs={"timeout": 30}))
        try:
            chain_id = w3.eth.chain_id
        except Exception as err:
            raise IndexCommandError(
                f"cannot reach the chain at {settings.rpc}: {type(err).__name__}"
            ) from None
        if chain_id != saved["chain_id"]:
            raise IndexCommandError(
                f"{settings.chain_file} belongs to chain {saved['chain_id']}, "
                f"but the chain at {settings.rpc} is {chain_id}"
            )
    else:
        from node.chain.embedded import ChainDirLockedError, open_embedded_chain

        try:
            funded = [saved["deployer"]] if saved.get("deployer") else []  # as at genesis
            embedded = open_embedded_chain(settings.data / "chain", funded=funded)
        except ChainDirLockedError:
            raise IndexCommandError(
                f"a node is running on {data} and holds its embedded chain: stop it, "
                f"or pass --rpc {RPC_HINT} (the node's read-only JSON-RPC)"
            ) from None
        w3, close = embedded.w3, embedded.close
    abis = {name: c["abi"] for name, c in compile_contracts().items()}
    engine = make_engine(settings.store_url)
    index = EventIndex(
        engine=engine,
        reader=ChainReader(w3, EventDecoder(saved["contracts"], abis)),
        confirmations=settings.confirmations,
        blocks_per_query=2000 if settings.rpc else 100,
    )

    def close_all() -> None:
        engine.dispose()
        close()

    return index, close_all


def _status(index: Any) -> None:
    s = index.status()
    indexed = "none yet" if s["indexed_block"] is None else s["indexed_block"]
    print(f"chain head     {s['head']}")
    print(f"indexed up to  {indexed} (confirmations {s['confirmations']})")
    print(f"lag            {s['lag']} block(s)")


def _rebuild(index: Any, from_block: int) -> None:
    start = index.rewind(from_block)
    if start != from_block:
        print(f"the index had only read up to block {start - 1}; reading on from there")
    target = max(index.reader.head() - index.confirmations, start - 1)
    span = max(target - start + 1, 1)
    every = max(1, min(5000, span // 10))
    if target < start:
        print(f"the index is up to date: block {start - 1} "
              f"(confirmations {index.confirmations})")  # fmt: skip
        return
    print(f"rebuild: reading blocks {start}..{target} "
          f"(confirmations {index.confirmations})", flush=True)  # fmt: skip
    shown = [start - 1]

    def progress(indexed: int | None) -> None:
        at = -1 if indexed is None else indexed
        if at - shown[0] >= every or at >= target > shown[0]:
            pct = min(100, 100 * (at - start + 1) // span)
            print(f"  indexed up to block {at} of {target} ({pct}%)", flush=True)
            shown[0] = at

    index.catch_up(timeout=float("inf"), progress=progress)
    events = len(index.rows())
    print(f"rebuilt: indexed up to block {index.indexed_block()}, {events} event(s)")


def main_for(args: argparse.Namespace) -> int:
    """Run the `index` action in `args`; the exit status."""
    from pydantic import ValidationError

    try:
        index, close = open_index(args.data, args.rpc, getattr(args, "confirmations", None))
    except IndexCommandError as err:
        print(f"index: {err}", file=sys.stderr)
        return 1
    except ValidationError as err:
        first = err.errors(include_input=False, include_url=False)[0]
        print(f"index: --{first['loc'][0]}: {first['msg']}", file=sys.stderr)
        return 2
    try:
        if args.index_command == "status":
            _status(index)
        else:
            _rebuild(index, args.from_block)
    except Exception as err:  # the chain went away mid-way: the index stays consistent
        at = index.indexed_block()
        print(f"index: stopped at block {at}: {type(err).__name__}: {err}; the index is whole "
              "up to there, and running the command again goes on", file=sys.stderr)  # fmt: skip
        return 1
    finally:
        close()
    return 0
