"""What the chain says about one member, read in bulk: its batches and the statuses that
changed. From a JSON-RPC endpoint (an outsider with no node: eth_getLogs over block ranges,
then one getBatch per batch) or from a node's own event index (no chain round trip). Never
from the audited member's node: only the chain, or the auditor's own index of it."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Engine
from web3 import HTTPProvider, Web3
from web3.exceptions import ContractLogicError, Web3RPCError

from node.audit.core import STATUSES, ChainBatch
from node.audit.errors import ChainUnreadable
from node.audit.objections import Objection, objections_from_index, objections_from_rpc
from node.db import read_snapshot
from node.receipts.verify import REGISTRY_ABI

BATCH_ANCHORED = "0x" + Web3.keccak(
    text="BatchAnchored(uint256,address,bytes32,uint64,bytes32)"
).hex().removeprefix("0x")
STATUS_CHANGED = "0x" + Web3.keccak(
    text="RecordStatusChanged(bytes32,address,address,uint8,uint8,bytes32)"
).hex().removeprefix("0x")


@dataclass
class ChainFacts:
    """A member's batches and changed statuses, as of block `head`, and where they came from."""

    source: str
    chain_id: int
    registry: str
    member: str
    head: int
    batches: dict[int, ChainBatch]
    statuses: dict[bytes, int]
    # the objections against the member's records and entries (None: the consortium has no
    # Disputes contract), judged at `head_time`, the head block's time
    objections: list[Objection] | None = None
    head_time: int | None = None

    def summary(self) -> dict[str, Any]:
        return {"source": self.source, "chain_id": self.chain_id, "registry": self.registry,
                "member": self.member, "head_block": self.head, "batches": len(self.batches),
                "status_changes": len(self.statuses), "objections":
                None if self.objections is None else len(self.objections)}  # fmt: skip


def member_topic(member: str) -> str:
    return "0x" + "00" * 12 + member.lower().removeprefix("0x")


def _int(word: bytes) -> int:
    return int.from_bytes(word, "big")


def from_rpc(
    url: str,
    *,
    registry: str,
    member: str,
    blocks_per_query: int = 10_000,
    progress: Callable[[int, int], None] | None = None,
) -> ChainFacts:
    """Read the member's BatchAnchored and RecordStatusChanged events in block ranges (both
    carry the member as their second topic: one eth_getLogs per range), then each batch once
    with getBatch, whose root and size are what the audit checks against."""
    w3 = Web3(HTTPProvider(url, request_kwargs={"timeout": 60}))
    try:
        chain_id, head = int(w3.eth.chain_id), int(w3.eth.block_number)
        address = Web3.to_checksum_address(registry)
        if not w3.eth.get_code(address):
            raise ChainUnreadable(detail=f"no contract at {address} on chain {chain_id}: is it the "
                                  "consortium's RecordRegistry?")  # fmt: skip
        anchored: dict[int, tuple[int, bytes]] = {}
        statuses: dict[bytes, int] = {}
        start, step = 0, blocks_per_query
        topics = [[BATCH_ANCHORED, STATUS_CHANGED], None, member_topic(member)]
        while start <= head:
            end = min(head, start + step - 1)
            try:
                logs = w3.eth.get_logs(
                    {"fromBlock": start, "toBlock": end, "address": address, "topics": topics}
                )
            except (Web3RPCError, ValueError):  # a range too wide for the endpoint: halve it
                if step == 1:
                    raise
                step = max(1, step // 2)
                continue
            for log in sorted(logs, key=lambda g: (g["blockNumber"], g["logIndex"])):
                topic0 = bytes(log["topics"][0])
                data = bytes(log["data"])
                if "0x" + topic0.hex() == BATCH_ANCHORED:
                    anchored[_int(bytes(log["topics"][1]))] = (int(log["blockNumber"]), data)
                else:
                    statuses[bytes(log["topics"][1])] = _int(data[32:64])
            if progress:
                progress(end, head)
            start = end + 1
        contract = w3.eth.contract(address=address, abi=REGISTRY_ABI)
        batches = {}
        for batch_id, (block, _) in anchored.items():
            owner, root, size, prev_root, at = contract.functions.getBatch(batch_id).call(
                block_identifier=head
            )
            if owner.lower() != member.lower():
                raise ChainUnreadable(detail=f"batch {batch_id}: getBatch names {owner}, its event "
                                      f"{member}: this is not a RecordRegistry")  # fmt: skip
            batches[batch_id] = ChainBatch(batch_id, bytes(root), int(size), bytes(prev_root),
                                           block, int(at))  # fmt: skip
        head_time = int(w3.eth.get_block(head)["timestamp"])
        objections = objections_from_rpc(w3, registry=address, member=member, head=head,
                                         blocks_per_query=blocks_per_query)  # fmt: skip
    except ChainUnreadable:
        raise
    except (ContractLogicError, Web3RPCError, ValueError) as err:
        raise ChainUnreadable(detail=f"the registry at {registry} answered oddly: {err}") from None
    except Exception as err:  # connection refused, timeouts: the endpoint is away
        raise ChainUnreadable(detail=f"no chain answers at {url}: {type(err).__name__}") from None
    return ChainFacts(f"JSON-RPC {url}", chain_id, address, Web3.to_checksum_address(member),
                      head, batches, statuses, objections, head_time)  # fmt: skip


def from_index(engine: Engine, *, chain_id: int, registry: str, member: str) -> ChainFacts:
    """The same from a node's event index (node/chain/index.py): the RecordRegistry's events
    of the member as the index holds them, up to the block it has read."""
    address = Web3.to_checksum_address(registry)
    with read_snapshot(engine) as conn:
        head = conn.exec_driver_sql("SELECT MAX(number) FROM chain_block").scalar()
        objections, head_time = objections_from_index(conn, member=member)
        rows = conn.exec_driver_sql(
            "SELECT event, block_number, block_time, args FROM chain_event WHERE address = ? AND "
            "event IN ('BatchAnchored', 'RecordStatusChanged') AND topic2 = ? "
            "ORDER BY block_number, log_index",
            (address, member_topic(member)),
        ).all()
    if head is None:
        raise ChainUnreadable(detail="the node's event index is empty: let the node catch up first")
    batches: dict[int, ChainBatch] = {}
    statuses: dict[bytes, int] = {}
    for event, block, block_time, args_json in rows:
        args = json.loads(args_json)
        if event == "BatchAnchored":
            batch_id = int(args["batchId"])
            batches[batch_id] = ChainBatch(batch_id, bytes.fromhex(args["root"][2:]),
                                           int(args["size"]), bytes.fromhex(args["prevRoot"][2:]),
                                           int(block), int(block_time))  # fmt: skip
        else:
            statuses[bytes.fromhex(args["commitment"][2:])] = int(args["status"])
    return ChainFacts("the node's event index", chain_id, address,
                      Web3.to_checksum_address(member), int(head), batches, statuses,
                      objections, None if head_time is None else int(head_time))  # fmt: skip


__all__ = ["STATUSES", "ChainFacts", "ChainUnreadable", "from_index", "from_rpc"]
