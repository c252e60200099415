"""Connecting the node to its chain: the embedded one or a JSON-RPC endpoint, and the
contracts on it (deployed by the first node on an empty chain, their addresses kept)."""

import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from coincurve import PublicKey
from eth_account.signers.local import LocalAccount
from web3 import HTTPProvider, Web3
from web3.contract import Contract
from web3.types import RPCEndpoint

from node.chain.client import ChainClient, ChainError
from node.chain.compile import compile_contracts

log = logging.getLogger("creditchain.chain")


def _nothing() -> None:
    pass


@dataclass
class Chain:
    client: ChainClient
    consortium: Contract
    registry: Contract
    addresses: dict[str, str]
    kind: str  # "embedded" or "rpc"
    abis: dict[str, list] = field(default_factory=dict)
    close: Callable[[], None] = _nothing

    @property
    def chain_id(self) -> int:
        return self.client.chain_id


def _web3_for_rpc(url: str, wait: float) -> Web3:
    w3 = Web3(HTTPProvider(url, request_kwargs={"timeout": 30}))
    deadline = time.monotonic() + wait
    while True:
        try:
            w3.eth.chain_id  # noqa: B018  (a round trip proves the endpoint answers)
            return w3
        except Exception:
            if time.monotonic() > deadline:
                raise ChainError(f"no chain answers at {url}") from None
            time.sleep(0.5)


def _ensure_funds(w3: Web3, member: str) -> None:
    """A dev chain (anvil) funds the member key itself; a zero-gas network needs no funds."""
    address = Web3.to_checksum_address(member)
    if w3.eth.get_balance(address) > 0 or w3.eth.gas_price == 0:
        return
    try:
        w3.provider.make_request(RPCEndpoint("anvil_setBalance"), [address, hex(10**24)])
    except Exception:
        pass
    if w3.eth.get_balance(address) == 0:
        raise ChainError(f"member account {address} has no funds to pay gas on this chain")


def _write_json_atomically(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w") as f:
        json.dump(data, f, indent=2)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _deploy(client: ChainClient, compiled: dict[str, dict], name: str) -> dict[str, str]:
    """A consortium of one: this member its only founding admin, so M = 1 and each of its
    proposals takes effect at once. A consortium of many is deployed by its launcher."""
    log.info("empty chain: deploying the contracts")
    public_key = PublicKey.from_secret(bytes(client.account.key)).format(compressed=False)
    consortium = client.deploy(
        compiled["Consortium"]["abi"],
        compiled["Consortium"]["bytecode"],
        [client.account.address],
        [name],
        [""],  # the node URL: a lone node has no peers to tell it to
        [public_key],
        1,
    )
    registry = client.deploy(
        compiled["RecordRegistry"]["abi"], compiled["RecordRegistry"]["bytecode"], consortium
    )
    return {"Consortium": consortium, "RecordRegistry": registry}


def connect_chain(
    *, data: Path, rpc: str | None, member: LocalAccount, member_name: str, rpc_wait: float = 30
) -> Chain:
    """Open the chain, deploy on an empty one, and check what data/chain.json says is there."""
    close: Callable[[], None] = _nothing
    if rpc:
        w3 = _web3_for_rpc(rpc, rpc_wait)
        kind = "rpc"
    else:
        from node.chain.embedded import open_embedded_chain

        embedded = open_embedded_chain(data / "chain", funded=[member.address])
        w3, kind, close = embedded.w3, "embedded", embedded.close
    _ensure_funds(w3, member.address)
    client = ChainClient(w3, member)
    compiled = compile_contracts()
    chain_file = data / "chain.json"
    if chain_file.exists():
        saved = json.loads(chain_file.read_text())
        if saved["chain_id"] != client.chain_id:
            raise ChainError(
                f"{chain_file} belongs to chain {saved['chain_id']}, "
                f"but the chain here is {client.chain_id}"
            )
        addresses = saved["contracts"]
        for name, address in addresses.items():
            if not w3.eth.get_code(Web3.to_checksum_address(address)):
                raise ChainError(
                    f"{name} at {address} (from {chain_file}) is not on this chain; "
                    "was the chain reset? Move the data directory aside to start afresh."
                )
    else:
        addresses = _deploy(client, compiled, member_name)
        _write_json_atomically(
            chain_file,
            {
                "chain_id": client.chain_id,
                "contracts": addresses,
                "deployer": member.address,
                "deployed_at": time.time(),
            },
        )
    return Chain(
        client=client,
        consortium=client.contract(addresses["Consortium"], compiled["Consortium"]["abi"]),
        registry=client.contract(addresses["RecordRegistry"], compiled["RecordRegistry"]["abi"]),
        addresses=addresses,
        kind=kind,
        abis={k: v["abi"] for k, v in compiled.items()},
        close=close,
    )
