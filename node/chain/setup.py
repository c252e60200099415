"""Connecting the node to its chain: the embedded one or a JSON-RPC endpoint, and its
consortium's contracts there, found from the Consortium's address (node/chain/deploy.py)."""

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from eth_account.signers.local import LocalAccount
from web3 import HTTPProvider, Web3
from web3.contract import Contract
from web3.types import RPCEndpoint

from node.chain.client import ChainClient, ChainError
from node.chain.compile import compile_contracts
from node.chain.deploy import (
    CONSORTIUM,
    DISPUTE_ANSWER_DAYS,
    ChainFile,
    DeployError,
    Founder,
    discover,
    found,
    how_to_join,
    read_chain_file,
    require_current_registry,
    write_chain_file,
)

log = logging.getLogger("creditchain.chain")


def _nothing() -> None:
    pass


@dataclass
class Chain:
    """The chain and this node's consortium on it: `addresses` holds every contract of the
    consortium by name (as the Consortium lists them), `abis` every compiled ABI by name."""

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


def _open(
    *, data: Path, rpc: str | None, member: str, rpc_wait: float
) -> tuple[Web3, str, Callable[[], None]]:
    """The chain's Web3, its kind, and how to close it."""
    if rpc:
        w3 = _web3_for_rpc(rpc, rpc_wait)
        kind, close = "rpc", _nothing
    else:
        from node.chain.embedded import open_embedded_chain

        embedded = open_embedded_chain(data / "chain", funded=[member])
        w3, kind, close = embedded.w3, "embedded", embedded.close
    try:
        _ensure_funds(w3, member)
    except BaseException:
        close()
        raise
    return w3, kind, close


def _check_named(saved: ChainFile, chain_file: Path, consortium: str | None) -> None:
    if consortium is None:
        return
    if not Web3.is_address(consortium):
        raise DeployError(f"{consortium!r} is not an address (0x and 40 hex digits)")
    if Web3.to_checksum_address(consortium) != saved.consortium:
        raise DeployError(
            f"{chain_file} is for the consortium at {saved.consortium}, not {consortium}; "
            "a data directory belongs to one consortium: use another --data"
        )


def _addresses(
    client: ChainClient,
    compiled: dict[str, dict],
    *,
    data: Path,
    rpc: str | None,
    consortium: str | None,
    member_name: str,
) -> dict[str, str]:
    """The consortium this node belongs to, read back from its Consortium contract: the one
    in data/chain.json, or the one named, or, on a fresh embedded chain, a new one."""
    chain_file = data / "chain.json"
    saved = read_chain_file(chain_file)
    if saved is not None:
        if saved.chain_id != client.chain_id:
            raise DeployError(
                f"{chain_file} belongs to chain {saved.chain_id}, "
                f"but the chain here is {client.chain_id}"
            )
        _check_named(saved, chain_file, consortium)
        consortium = saved.consortium
    elif consortium is None:
        if rpc is not None:
            raise DeployError(how_to_join(rpc=rpc, data=data))
        if client.block_number() != 0:
            raise DeployError(
                f"the embedded chain in {data / 'chain'} has blocks but {chain_file} is "
                "missing: pass --consortium with its Consortium's address"
            )
        log.info("a fresh embedded chain: founding a consortium of one")
        founder = Founder.of(client.account, member_name)
        addresses = found(client, compiled, [founder], threshold=1)
        write_chain_file(chain_file, chain_id=client.chain_id, contracts=addresses)
        return addresses
    try:
        addresses = discover(client, compiled, consortium)
    except DeployError:
        if saved is None or not client.w3.eth.get_code(Web3.to_checksum_address(consortium)):
            raise
        # a consortium deployed before contracts were kept by name: trust chain.json
        log.warning("%s does not list its contracts; using %s", consortium, chain_file)
        addresses = saved.contracts
    require_current_registry(client, compiled, addresses["RecordRegistry"])
    if saved is None or saved.contracts != addresses:
        write_chain_file(chain_file, chain_id=client.chain_id, contracts=addresses)
    functions = client.contract(addresses[CONSORTIUM], compiled[CONSORTIUM]["abi"]).functions
    if not client.call(functions.isActiveMember(client.account.address)):
        log.warning(
            "%s is not an active member of the consortium at %s: anchoring is refused "
            "until the admins admit it",
            client.account.address,
            addresses[CONSORTIUM],
        )
    return addresses


def connect_chain(
    *,
    data: Path,
    rpc: str | None,
    member: LocalAccount,
    member_name: str,
    consortium: str | None = None,
    rpc_wait: float = 30,
) -> Chain:
    """Open the chain and find this node's consortium on it (see `_addresses`). A node never
    deploys on a chain it was pointed at: founding there is `creditchain consortium found`."""
    w3, kind, close = _open(data=data, rpc=rpc, member=member.address, rpc_wait=rpc_wait)
    try:
        client = ChainClient(w3, member)
        compiled = compile_contracts()
        addresses = _addresses(
            client, compiled, data=data, rpc=rpc, consortium=consortium, member_name=member_name
        )
    except BaseException:
        close()
        raise
    return Chain(
        client=client,
        consortium=client.contract(addresses[CONSORTIUM], compiled[CONSORTIUM]["abi"]),
        registry=client.contract(addresses["RecordRegistry"], compiled["RecordRegistry"]["abi"]),
        addresses=addresses,
        kind=kind,
        abis={k: v["abi"] for k, v in compiled.items()},
        close=close,
    )


def prepare(
    *,
    data: Path,
    rpc: str | None,
    member: LocalAccount,
    consortium: str | None,
    rpc_wait: float = 30,
) -> None:
    """Before a node starts on a chain it was pointed at: refuse, in one line, if it was not
    told which consortium to join, and join the one named (writing data/chain.json)."""
    if rpc is None:
        return  # the node's own embedded chain: `connect_chain` founds on a fresh one
    chain_file = data / "chain.json"
    saved = read_chain_file(chain_file)
    if saved is not None:
        _check_named(saved, chain_file, consortium)
        return
    if consortium is None:
        raise DeployError(how_to_join(rpc=rpc, data=data))
    w3 = _web3_for_rpc(rpc, rpc_wait)
    addresses = discover(ChainClient(w3, member), compile_contracts(), consortium)
    write_chain_file(chain_file, chain_id=w3.eth.chain_id, contracts=addresses)


def found_consortium(
    *,
    data: Path,
    rpc: str,
    member: LocalAccount,
    founders: list[Founder],
    threshold: int,
    rpc_wait: float = 30,
    answer_days: int = DISPUTE_ANSWER_DAYS,
    repair_approval: bool = True,
) -> tuple[int, dict[str, str]]:
    """`creditchain consortium found`: deploy a new consortium from this node's account, its
    `founders` the founding admins, and write data/chain.json; (chain id, addresses)."""
    chain_file = data / "chain.json"
    saved = read_chain_file(chain_file)
    if saved is not None:
        raise DeployError(
            f"{data} already belongs to the consortium at {saved.consortium}; "
            "found a new one with another --data"
        )
    w3, _kind, _close = _open(data=data, rpc=rpc, member=member.address, rpc_wait=rpc_wait)
    client = ChainClient(w3, member)
    addresses = found(client, compile_contracts(), founders, threshold, answer_days=answer_days,
                      args={"RepairCases": (repair_approval,)})  # fmt: skip
    write_chain_file(chain_file, chain_id=client.chain_id, contracts=addresses)
    return client.chain_id, addresses
