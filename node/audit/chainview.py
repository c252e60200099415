"""What the chain says about one member, read in bulk: its batches, the statuses that
changed and the objections against it. From a JSON-RPC endpoint (an outsider with no node:
eth_getLogs over block ranges, then one getBatch per batch) or from a node's own event index
(no chain round trip). Never from the audited member's node: only the chain, or the
auditor's own index of it."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from eth_typing import ChecksumAddress
from eth_utils import keccak
from sqlalchemy.engine import Connection, Engine
from web3 import HTTPProvider, Web3
from web3.exceptions import ContractLogicError, Web3RPCError
from web3.types import LogReceipt

from node.anchoring.expiries import leaf_indexes
from node.audit.core import STATUSES, ChainBatch
from node.audit.errors import ChainUnreadable
from node.audit.objections import Objection, ObjectionsAt
from node.db import read_snapshot
from node.receipts.verify import REGISTRY_ABI


def _topic(signature: str) -> str:
    """An event's topic0, as eth_getLogs takes and gives it."""
    return "0x" + keccak(text=signature).hex()


BATCH_ANCHORED = _topic("BatchAnchored(uint256,address,bytes32,uint64,bytes32)")
STATUS_CHANGED = _topic("RecordStatusChanged(bytes32,address,address,uint8,uint8,bytes32)")
LEAVES_EXPIRED = _topic("LeavesExpired(uint256,address,uint256,uint256)")
# the Disputes contract's (contracts/Disputes.sol)
FILED = _topic(
    "ObjectionFiled(uint256,bytes32,address,uint8,bytes32,bytes32,"
    "address,address,uint64,uint64,uint64,uint64)"
)
ANSWERED = _topic("ObjectionAnswered(uint256,bytes32,address,uint8,bytes32,uint64,uint64)")
RULED = _topic("ObjectionRuled(uint256,bytes32,address,address,uint8,bytes32,uint64,uint64)")

_CONSORTIUM_ABI = [
    {"type": "function", "name": "consortium", "stateMutability": "view", "inputs": [],
     "outputs": [{"name": "", "type": "address"}]},
    {"type": "function", "name": "contractAddress", "stateMutability": "view",
     "inputs": [{"name": "name", "type": "bytes32"}],
     "outputs": [{"name": "", "type": "address"}]},
]  # fmt: skip


@dataclass
class ChainFacts:
    """A member's batches, changed statuses and leaves marked in its batches' expiry bitmaps
    ((batch id, leaf index)), as of block `head`, and where they came from."""

    source: str
    chain_id: int
    registry: str
    member: str
    head: int
    batches: dict[int, ChainBatch]
    statuses: dict[bytes, int]
    expired: set[tuple[int, int]]
    # the objections against the member's records and entries (None: the consortium has no
    # Disputes contract, or the index has read none of its events)
    objections: ObjectionsAt | None = None

    def summary(self) -> dict[str, Any]:
        return {"source": self.source, "chain_id": self.chain_id, "registry": self.registry,
                "member": self.member, "head_block": self.head, "batches": len(self.batches),
                "status_changes": len(self.statuses), "leaves_expired": len(self.expired),
                "objections":
                None if self.objections is None else len(self.objections.objections)}  # fmt: skip


def member_topic(member: str) -> str:
    return "0x" + "00" * 12 + member.lower().removeprefix("0x")


def _int(word: bytes) -> int:
    return int.from_bytes(word, "big")


def _word(data: bytes, i: int) -> int:
    return _int(data[32 * i : 32 * i + 32])


def _logs(
    w3: Web3,
    *,
    address: ChecksumAddress,
    topics: list[Any],
    head: int,
    blocks_per_query: int,
    progress: Callable[[int, int], None] | None = None,
) -> Iterator[list[LogReceipt]]:
    """eth_getLogs of `address` and `topics` from block 0 to `head`, one range of blocks at a
    time (a range the endpoint refuses is halved), each range's logs in chain order."""
    start, step = 0, blocks_per_query
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
        yield sorted(logs, key=lambda g: (g["blockNumber"], g["logIndex"]))
        if progress:
            progress(end, head)
        start = end + 1


def _disputes_address(w3: Web3, registry: ChecksumAddress) -> ChecksumAddress | None:
    """The consortium's Disputes contract, asked of the Consortium the registry names; None
    if the consortium registered none."""
    reg = w3.eth.contract(address=registry, abi=_CONSORTIUM_ABI)
    consortium = w3.eth.contract(address=reg.functions.consortium().call(), abi=_CONSORTIUM_ABI)
    found = consortium.functions.contractAddress(b"Disputes".ljust(32, b"\0")).call()
    return None if int(found, 16) == 0 else Web3.to_checksum_address(found)


def _objections_from_rpc(
    w3: Web3, *, registry: ChecksumAddress, member: str, head: int, blocks_per_query: int
) -> ObjectionsAt | None:
    """The objections against `member`'s records and entries up to block `head`, from the
    Disputes contract's events, judged at that block's time; None if there is no such
    contract."""
    address = _disputes_address(w3, registry)
    if address is None:
        return None
    holder = member_topic(member)
    filed: dict[int, tuple[str, int]] = {}  # id -> (target, deadline) of the member's
    closed: dict[int, int] = {}
    for logs in _logs(w3, address=address, topics=[[FILED, ANSWERED, RULED]], head=head,
                      blocks_per_query=blocks_per_query):  # fmt: skip
        for log in logs:
            topic0 = "0x" + bytes(log["topics"][0]).hex()
            objection_id = _int(bytes(log["topics"][1]))
            data = bytes(log["data"])
            if topic0 == FILED:
                if "0x" + bytes(log["topics"][3]).hex() == holder:
                    filed[objection_id] = ("0x" + data[32:64].hex(), _word(data, 6))
            else:  # answered at, or ruled at
                closed[objection_id] = _word(data, 2 if topic0 == ANSWERED else 3)
    checksummed = Web3.to_checksum_address(member)
    objections = [Objection(i, checksummed, target, deadline, closed.get(i))
                  for i, (target, deadline) in sorted(filed.items())]  # fmt: skip
    return ObjectionsAt(objections, int(w3.eth.get_block(head)["timestamp"]))


def _objections_from_index(conn: Connection, *, member: str) -> ObjectionsAt | None:
    """The same from a node's derived objections table (node/disputes/projection.py), judged
    at the time of the block it stands at; None if that node has read no Disputes events."""
    cursor = conn.exec_driver_sql("SELECT block_time FROM dispute_cursor").first()
    if cursor is None:
        return None
    rows = conn.exec_driver_sql(
        "SELECT id, holder, target, deadline, closed_at FROM dispute_objection "
        "WHERE holder = ? ORDER BY id",
        (Web3.to_checksum_address(member),),
    ).all()
    return ObjectionsAt([Objection(int(r[0]), r[1], r[2], int(r[3]),
                                   None if r[4] is None else int(r[4])) for r in rows],
                        int(cursor[0]))  # fmt: skip


def from_rpc(
    url: str,
    *,
    registry: str,
    member: str,
    blocks_per_query: int = 10_000,
    progress: Callable[[int, int], None] | None = None,
) -> ChainFacts:
    """Read the member's BatchAnchored, RecordStatusChanged and LeavesExpired events in block
    ranges (all carry the member as their second topic: one eth_getLogs per range), then each
    batch once with getBatch, whose root and size are what the audit checks against."""
    w3 = Web3(HTTPProvider(url, request_kwargs={"timeout": 60}))
    try:
        chain_id, head = int(w3.eth.chain_id), int(w3.eth.block_number)
        address = Web3.to_checksum_address(registry)
        if not w3.eth.get_code(address):
            raise ChainUnreadable(detail=f"no contract at {address} on chain {chain_id}: is it the "
                                  "consortium's RecordRegistry?")  # fmt: skip
        anchored: dict[int, tuple[int, bytes]] = {}
        statuses: dict[bytes, int] = {}
        expired: set[tuple[int, int]] = set()
        topics = [[BATCH_ANCHORED, STATUS_CHANGED, LEAVES_EXPIRED], None, member_topic(member)]
        for logs in _logs(w3, address=address, topics=topics, head=head,
                          blocks_per_query=blocks_per_query, progress=progress):  # fmt: skip
            for log in logs:
                data = bytes(log["data"])
                topic0 = "0x" + bytes(log["topics"][0]).hex()
                if topic0 == BATCH_ANCHORED:
                    anchored[_int(bytes(log["topics"][1]))] = (int(log["blockNumber"]), data)
                elif topic0 == LEAVES_EXPIRED:
                    batch_id = _int(bytes(log["topics"][1]))
                    expired.update((batch_id, i) for i in leaf_indexes(_word(data, 0),
                                                                       _word(data, 1)))  # fmt: skip
                else:
                    statuses[bytes(log["topics"][1])] = _int(data[32:64])
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
        objections = _objections_from_rpc(w3, registry=address, member=member, head=head,
                                          blocks_per_query=blocks_per_query)  # fmt: skip
    except ChainUnreadable:
        raise
    except (ContractLogicError, Web3RPCError, ValueError) as err:
        raise ChainUnreadable(detail=f"the registry at {registry} answered oddly: {err}") from None
    except Exception as err:  # connection refused, timeouts: the endpoint is away
        raise ChainUnreadable(detail=f"no chain answers at {url}: {type(err).__name__}") from None
    return ChainFacts(f"JSON-RPC {url}", chain_id, address, Web3.to_checksum_address(member),
                      head, batches, statuses, expired, objections)  # fmt: skip


def from_index(engine: Engine, *, chain_id: int, registry: str, member: str) -> ChainFacts:
    """The same from a node's event index (node/chain/index.py): the RecordRegistry's events
    of the member as the index holds them, up to the block it has read."""
    address = Web3.to_checksum_address(registry)
    with read_snapshot(engine) as conn:
        head = conn.exec_driver_sql("SELECT MAX(number) FROM chain_block").scalar()
        objections = _objections_from_index(conn, member=member)
        rows = conn.exec_driver_sql(
            "SELECT event, block_number, block_time, args FROM chain_event WHERE address = ? AND "
            "event IN ('BatchAnchored', 'RecordStatusChanged', 'LeavesExpired') AND topic2 = ? "
            "ORDER BY block_number, log_index",
            (address, member_topic(member)),
        ).all()
    if head is None:
        raise ChainUnreadable(detail="the node's event index is empty: let the node catch up first")
    batches: dict[int, ChainBatch] = {}
    statuses: dict[bytes, int] = {}
    expired: set[tuple[int, int]] = set()
    for event, block, block_time, args_json in rows:
        args = json.loads(args_json)
        if event == "BatchAnchored":
            batch_id = int(args["batchId"])
            batches[batch_id] = ChainBatch(batch_id, bytes.fromhex(args["root"][2:]),
                                           int(args["size"]), bytes.fromhex(args["prevRoot"][2:]),
                                           int(block), int(block_time))  # fmt: skip
        elif event == "LeavesExpired":
            batch_id = int(args["batchId"])
            expired.update(
                (batch_id, i) for i in leaf_indexes(int(args["word"]), int(args["bits"]))
            )
        else:
            statuses[bytes.fromhex(args["commitment"][2:])] = int(args["status"])
    return ChainFacts("the node's event index", chain_id, address,
                      Web3.to_checksum_address(member), int(head), batches, statuses, expired,
                      objections)  # fmt: skip


__all__ = ["STATUSES", "ChainFacts", "ChainUnreadable", "from_index", "from_rpc"]
