"""Reading the project's contract events from the chain, decoded by the ABIs the node compiled.

One decoder for every contract in the chain's address book, by contract name, so a new
contract needs no code here. Decoded arguments are plain JSON: bytes as 0x-hex, addresses
checksummed, integers as JSON integers (exact in Python whatever their size).
"""

import json
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from eth_abi import abi as eth_abi
from eth_abi.exceptions import DecodingError
from eth_utils import keccak, to_checksum_address
from eth_utils.abi import collapse_if_tuple
from web3 import Web3
from web3.exceptions import BlockNotFound

from node.chain.client import ChainError


class ChainMoved(ChainError):
    """The chain reorganised while a range was being read; read it again."""

    def __init__(self, number: int) -> None:
        super().__init__(f"block {number} changed while it was read")


@dataclass(frozen=True)
class Event:
    """One log of a project contract, where it sits on the chain and what it says."""

    block_number: int
    block_hash: str
    block_time: int
    log_index: int
    tx_hash: str
    contract: str
    address: str
    event: str
    args: dict[str, Any]
    topics: tuple[str | None, str | None, str | None] = (None, None, None)

    def row(self) -> tuple[Any, ...]:
        """The event as a chain_event row, its values in the order of COLUMNS."""
        return (
            self.block_number, self.block_hash, self.block_time, self.log_index, self.tx_hash,
            self.contract, self.address, self.event, *self.topics,
            json.dumps(self.args, separators=(",", ":"), ensure_ascii=False),
        )  # fmt: skip


COLUMNS = ("block_number, block_hash, block_time, log_index, tx_hash, contract, address, event, "
           "topic1, topic2, topic3, args")  # fmt: skip


def event_from_row(row: Any) -> Event:
    number, block_hash, time, log_index, tx_hash, contract, address, event = row[:8]
    t1, t2, t3, args = row[8:]
    return Event(number, block_hash, time, log_index, tx_hash, contract, address, event,
                 args=json.loads(args), topics=(t1, t2, t3))  # fmt: skip


def _hex(value: Any) -> str:
    return value.to_0x_hex() if hasattr(value, "to_0x_hex") else "0x" + bytes(value).hex()


def _plain(value: Any, type_str: str) -> Any:
    """A decoded ABI value as JSON: bytes as 0x-hex, addresses checksummed, tuples as lists."""
    if type_str.endswith("]"):
        inner = type_str[: type_str.rindex("[")]
        return [_plain(v, inner) for v in value]
    if type_str.startswith("("):
        return [_plain(v, t) for v, t in zip(value, _split_tuple(type_str), strict=True)]
    if type_str == "address":
        return to_checksum_address(value)
    if isinstance(value, bytes):
        return "0x" + value.hex()
    return value


def _split_tuple(type_str: str) -> list[str]:
    """'(uint256,(address,bytes)[])' -> ['uint256', '(address,bytes)[]']."""
    parts, depth, start = [], 0, 1
    for i, c in enumerate(type_str):
        depth += c == "("
        depth -= c == ")"
        if c == "," and depth == 1:
            parts.append(type_str[start:i])
            start = i + 1
    parts.append(type_str[start : type_str.rindex(")")])
    return [p for p in parts if p]


def _arguments(inputs: list[dict], topics: list[str], data: bytes) -> dict[str, Any]:
    """An event's arguments by name, from its topics (indexed) and its data (the rest)."""
    plain = [collapse_if_tuple(i) for i in inputs if not i.get("indexed")]
    from_data = iter(eth_abi.decode(plain, data))
    from_topics = iter(topics)
    if len(topics) != len(inputs) - len(plain):
        raise ValueError("topic count")
    args = {}
    for inp in inputs:
        type_str = collapse_if_tuple(inp)
        if not inp.get("indexed"):
            args[inp["name"]] = _plain(next(from_data), type_str)
        elif _is_dynamic(type_str):
            args[inp["name"]] = next(from_topics)  # the value's hash, as the chain keeps it
        else:
            raw = bytes.fromhex(next(from_topics)[2:])
            args[inp["name"]] = _plain(eth_abi.decode([type_str], raw)[0], type_str)
    return args


def _is_dynamic(type_str: str) -> bool:
    """Indexed arguments of these types are stored on chain as their hash, not their value."""
    return type_str in ("string", "bytes") or type_str.endswith("]") or type_str.startswith("(")


class EventDecoder:
    """topic0 of each event of each contract in the address book -> its name and inputs."""

    def __init__(self, addresses: dict[str, str], abis: dict[str, list]) -> None:
        self.by_address: dict[str, tuple[str, dict[str, dict]]] = {}
        for name, address in addresses.items():
            events = {}
            for item in abis.get(name, []):
                if item.get("type") == "event" and not item.get("anonymous"):
                    types = ",".join(collapse_if_tuple(i) for i in item["inputs"])
                    events["0x" + keccak(text=f"{item['name']}({types})").hex()] = item
            self.by_address[Web3.to_checksum_address(address)] = (name, events)

    @property
    def addresses(self) -> list[str]:
        return list(self.by_address)

    def decode(self, log: Any, block_time: int) -> Event | None:
        """The log as an Event; None for a log no ABI here describes."""
        address = Web3.to_checksum_address(log["address"])
        contract, events = self.by_address.get(address, ("", {}))
        topics = [_hex(t).lower() for t in log["topics"]]
        item = events.get(topics[0]) if topics else None
        if item is None:
            return None
        try:
            args = _arguments(item["inputs"], topics[1:], bytes(log["data"]))
        except (StopIteration, ValueError, DecodingError):
            return None  # same signature, other layout: not one of ours
        padded: list[str | None] = [*topics[1:], None, None, None]
        return Event(
            block_number=int(log["blockNumber"]),
            block_hash=_hex(log["blockHash"]).lower(),
            block_time=block_time,
            log_index=int(log["logIndex"]),
            tx_hash=_hex(log["transactionHash"]).lower(),
            contract=contract,
            address=address,
            event=item["name"],
            args=args,
            topics=(padded[0], padded[1], padded[2]),
        )

    def topic_filter(self, contract: str, event: str, where: dict[str, Any]) -> dict[int, str]:
        """{topic position: 0x-topic} matching indexed arguments `where` of an event."""
        for name, events in self.by_address.values():
            if name != contract:
                continue
            for item in events.values():
                if item["name"] != event:
                    continue
                indexed = [i for i in item["inputs"] if i.get("indexed")]
                out = {}
                for key, value in where.items():
                    pos = next((n for n, i in enumerate(indexed) if i["name"] == key), None)
                    if pos is None:
                        raise ValueError(f"{contract}.{event} has no indexed argument {key}")
                    type_str = collapse_if_tuple(indexed[pos])
                    if _is_dynamic(type_str):
                        raise ValueError(f"{contract}.{event}.{key} is stored as a hash")
                    out[pos + 1] = "0x" + eth_abi.encode([type_str], [value]).hex()
                return out
        raise ValueError(f"no event {contract}.{event}")


class ChainReader:
    """The few JSON-RPC reads an index needs, each under the client's lock (the embedded
    chain runs in this process and takes one caller at a time)."""

    def __init__(self, w3: Web3, decoder: EventDecoder, lock: Any = None) -> None:
        self.w3 = w3
        self.decoder = decoder
        self.lock = lock or threading.RLock()

    def head(self) -> int:
        with self.lock:
            return int(self.w3.eth.block_number)

    def block(self, number: int) -> tuple[str, int] | None:
        """(hash, timestamp) of the canonical block `number`; None if there is none."""
        with self.lock:
            try:
                block = self.w3.eth.get_block(number)
            except BlockNotFound:  # not (any more) there; an unreachable chain raises
                return None
        return _hex(block["hash"]).lower(), int(block["timestamp"])

    def block_hash(self, number: int) -> str | None:
        found = self.block(number)
        return found[0] if found else None

    def fetch(
        self, start: int, end: int, *, topics: list[str | None] | None = None
    ) -> tuple[list[Event], str]:
        """Every project event in blocks start..end (those matching `topics`, if given) and
        the hash of block `end`, all of one canonical chain: raises ChainMoved if a reorg
        changed the blocks while they were read."""
        end_hash = self.block_hash(end)
        if end_hash is None:
            raise ChainMoved(end)
        query: dict[str, Any] = {
            "fromBlock": start, "toBlock": end, "address": self.decoder.addresses
        }  # fmt: skip
        if topics:
            query["topics"] = topics
        with self.lock:
            logs = self.w3.eth.get_logs(query)  # type: ignore[arg-type]
        return self._decode(logs, end, end_hash), end_hash

    def decode_receipt(self, receipt: dict[str, Any]) -> list[Event]:
        """The project events of one mined transaction (the node's own writes)."""
        number = int(receipt["blockNumber"])
        return self._decode(receipt["logs"], number, _hex(receipt["blockHash"]).lower())

    def _decode(self, logs: Iterable[Any], end: int, end_hash: str) -> list[Event]:
        times: dict[int, int] = {}
        out = []
        for log in logs:
            number = int(log["blockNumber"])
            if number not in times:
                found = self.block(number)
                if found is None or found[0] != _hex(log["blockHash"]).lower():
                    raise ChainMoved(number)
                times[number] = found[1]
            event = self.decoder.decode(log, times[number])
            if event is not None:
                out.append(event)
        if self.block_hash(end) != end_hash:
            raise ChainMoved(end)
        out.sort(key=lambda e: (e.block_number, e.log_index))
        return out
