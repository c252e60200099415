"""Objections answered inside their deadlines: the objections against the audited member,
read from the Disputes contract's events (straight from the chain's RPC, or from the
auditor's own node's derived table), and the check that names each one answered late (a
regulator's ruling comes only after the deadline) or still open past it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from eth_typing import ChecksumAddress
from sqlalchemy.engine import Connection
from web3 import Web3

from node.audit.core import Finding


@dataclass(frozen=True)
class Objection:
    """One objection as the chain records it: against which record commitment and member,
    its deadline, and when it was answered (None: not yet)."""

    objection_id: int
    member: str
    commitment: str
    deadline: int
    answered_at: int | None


def overdue_objections(objections: Iterable[Objection], *, member: str, now: int) -> list[Finding]:
    """The member's objections answered after their deadline, or still open past it."""
    found = []
    for o in objections:
        if o.member.lower() != member.lower():
            continue
        if o.answered_at is not None and o.answered_at > o.deadline:
            why = f"answered at {o.answered_at}, after its deadline {o.deadline}"
        elif o.answered_at is None and now > o.deadline:
            why = f"still unanswered; its deadline {o.deadline} has passed"
        else:
            continue
        found.append(Finding("overdue_objection", f"objection {o.objection_id} on "
                             f"{o.commitment}: {why}", record_id=str(o.objection_id)))  # fmt: skip
    return found


# The Disputes contract's events the audit reads (contracts/Disputes.sol)
_FILED = "0x" + Web3.keccak(
    text="ObjectionFiled(uint256,bytes32,address,uint8,bytes32,bytes32,"
    "address,address,uint64,uint64,uint64,uint64)"
).hex().removeprefix("0x")
_ANSWERED = "0x" + Web3.keccak(
    text="ObjectionAnswered(uint256,bytes32,address,uint8,bytes32,uint64,uint64)"
).hex().removeprefix("0x")
_RULED = "0x" + Web3.keccak(
    text="ObjectionRuled(uint256,bytes32,address,address,uint8,bytes32,uint64,uint64)"
).hex().removeprefix("0x")
_CONSORTIUM_ABI = [
    {"type": "function", "name": "consortium", "stateMutability": "view", "inputs": [],
     "outputs": [{"name": "", "type": "address"}]},
    {"type": "function", "name": "contractAddress", "stateMutability": "view",
     "inputs": [{"name": "name", "type": "bytes32"}],
     "outputs": [{"name": "", "type": "address"}]},
]  # fmt: skip


def _word(data: bytes, i: int) -> int:
    return int.from_bytes(data[32 * i : 32 * i + 32], "big")


def _address(word: int) -> str:
    return Web3.to_checksum_address(word.to_bytes(20, "big"))


def disputes_address(w3: Web3, registry: str) -> ChecksumAddress | None:
    """The consortium's Disputes contract, asked of the Consortium the registry names; None
    if the consortium registered none."""
    reg = w3.eth.contract(address=Web3.to_checksum_address(registry), abi=_CONSORTIUM_ABI)
    consortium = w3.eth.contract(address=reg.functions.consortium().call(), abi=_CONSORTIUM_ABI)
    found = consortium.functions.contractAddress(b"Disputes".ljust(32, b"\0")).call()
    return None if int(found, 16) == 0 else Web3.to_checksum_address(found)


def objections_from_rpc(
    w3: Web3, *, registry: str, member: str, head: int, blocks_per_query: int
) -> list[Objection] | None:
    """The objections against `member`'s records and entries up to block `head`, from the
    Disputes contract's events (eth_getLogs in ranges); None if there is no such contract."""
    address = disputes_address(w3, registry)
    if address is None:
        return None
    filed: dict[int, tuple[str, int]] = {}  # id -> (target, deadline) of the member's
    closed: dict[int, int] = {}
    start, step = 0, blocks_per_query
    while start <= head:
        end = min(head, start + step - 1)
        try:
            logs = w3.eth.get_logs({"fromBlock": start, "toBlock": end, "address": address,
                                    "topics": [[_FILED, _ANSWERED, _RULED]]})  # fmt: skip
        except ValueError:  # a range too wide for the endpoint: halve it
            if step == 1:
                raise
            step = max(1, step // 2)
            continue
        for log in logs:
            topic0 = "0x" + bytes(log["topics"][0]).hex()
            objection_id = int.from_bytes(bytes(log["topics"][1]), "big")
            data = bytes(log["data"])
            if topic0 == _FILED:
                if (
                    _address(int.from_bytes(bytes(log["topics"][3]), "big")).lower()
                    == member.lower()
                ):
                    filed[objection_id] = ("0x" + data[32:64].hex(), _word(data, 6))
            elif topic0 == _ANSWERED:
                closed[objection_id] = _word(data, 2)
            else:
                closed[objection_id] = _word(data, 3)
        start = end + 1
    return [Objection(i, Web3.to_checksum_address(member), target, deadline, closed.get(i))
            for i, (target, deadline) in sorted(filed.items())]  # fmt: skip


def objections_from_index(conn: Connection, *, member: str) -> tuple[list[Objection] | None,
                                                                     int | None]:  # fmt: skip
    """The same from a node's derived objections table (node/disputes/projection.py) and
    the block time it stands at; (None, None) if that node has read no Disputes events yet."""
    cursor = conn.exec_driver_sql("SELECT block_time FROM dispute_cursor").first()
    if cursor is None:
        return None, None
    rows = conn.exec_driver_sql(
        "SELECT id, holder, target, deadline, closed_at FROM dispute_objection "
        "WHERE holder = ? ORDER BY id",
        (Web3.to_checksum_address(member),),
    ).all()
    return [Objection(int(r[0]), r[1], r[2], int(r[3]), None if r[4] is None else int(r[4]))
            for r in rows], int(cursor[0])  # fmt: skip
