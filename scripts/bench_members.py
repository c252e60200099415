#!/usr/bin/env python3
"""Members reads benchmark: reads/s from the node's event index against the same reads by
JSON-RPC (the way members were read before the index, kept here as the baseline).

It starts anvil, deploys the contracts, admits N members by vote, builds the event index
in a fresh store, checks that both ways give the same answer, then for a few seconds each
times: listing the members (index vs memberCount + memberAt + getMember per member), and
the peer check "is this signer an active member now" (index vs isActiveMember). One thread,
one JSON line at the end.

    .venv/bin/python scripts/bench_members.py [--members 5] [--seconds 3]
"""

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from coincurve import PublicKey  # noqa: E402
from eth_account import Account  # noqa: E402

from node.chain.index import EventIndex  # noqa: E402
from node.chain.setup import Chain, connect_chain  # noqa: E402
from node.db import make_engine  # noqa: E402
from node.members import service  # noqa: E402
from tests.conftest import ANVIL_KEY, anvil_chain  # noqa: E402


def members_by_rpc(chain: Chain) -> list[dict[str, Any]]:
    """The former list_members: 1 + 2N eth_calls per read."""
    fns = chain.consortium.functions
    out = []
    for i in range(chain.client.call(fns.memberCount())):
        address = chain.client.call(fns.memberAt(i))
        status, roles, name, url, key, joined = chain.client.call(fns.getMember(address))
        out.append({
            "address": address, "name": name, "node_url": url,
            "public_key": "0x" + bytes(key).hex(), "status": service.STATUSES[status],
            "roles": [r for n, r in enumerate(service.ROLES) if roles >> n & 1],
            "joined_at": joined,
        })  # fmt: skip
    return out


def rate(fn: Callable[[], Any], seconds: float) -> float:
    fn()  # warm
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        fn()
        n += 1
    return n / (time.perf_counter() - start)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--members", type=int, default=5, help="members besides the founder")
    p.add_argument("--seconds", type=float, default=3.0, help="time per measurement")
    args = p.parse_args()

    with anvil_chain() as (url, _):
        data = Path(tempfile.mkdtemp(prefix="bench-members-"))
        chain = connect_chain(data=data, rpc=url, member=Account.from_key(ANVIL_KEY),
                              member_name="Founder")  # fmt: skip
        for n in range(args.members):
            account = Account.create()
            key = PublicKey.from_secret(bytes(account.key)).format(compressed=False)
            service.propose(chain=chain, action="admit", subject=account.address,
                            name=f"Lender {n}", public_key=key)  # fmt: skip
        index = EventIndex.for_chain(chain, engine=make_engine(data / "node.db"))
        index.catch_up()
        by_index = service.list_members(index=index)
        assert by_index.value == members_by_rpc(chain), "the index and the chain disagree"
        last = by_index.value[-1]["address"]
        is_active = chain.consortium.functions.isActiveMember

        results = {
            "members": len(by_index.value),
            "as_of_block": by_index.as_of_block,
            "list_members_index_per_s": rate(lambda: service.list_members(index=index),
                                             args.seconds),
            "list_members_rpc_per_s": rate(lambda: members_by_rpc(chain), args.seconds),
            "is_active_index_per_s": rate(
                lambda: service.is_active_member(index=index, address=last), args.seconds),
            "is_active_rpc_per_s": rate(lambda: chain.client.call(is_active(last)), args.seconds),
        }  # fmt: skip
        for key in ("list_members", "is_active"):
            results[f"{key}_speedup"] = results[f"{key}_index_per_s"] / results[f"{key}_rpc_per_s"]
        print(json.dumps({k: round(v, 1) if isinstance(v, float) else v
                          for k, v in results.items()}))  # fmt: skip
        chain.close()


if __name__ == "__main__":
    main()
