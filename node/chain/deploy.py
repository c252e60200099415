"""The consortium's contracts: the one deploy list, founding a consortium, finding one from
its address, and the data directory's chain.json.

Founding deploys `Consortium` with its founding admins, then each contract of DEPLOY_LIST with
the Consortium's address, registers each by name in the Consortium, and finishes the deployment;
from then on only an M-of-N vote changes them. So a node that knows the Consortium's address
finds every other contract, and a contract knows its fellow contracts by asking the Consortium.
Every path that deploys (a node's own embedded chain, `consortium found`, `consortium up`)
goes through `found`, and every chain.json is written by `write_chain_file`.
"""

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from coincurve import PublicKey
from eth_account.signers.local import LocalAccount
from eth_tester.exceptions import TransactionFailed
from eth_utils import keccak
from web3 import Web3
from web3.exceptions import BadFunctionCallOutput, ContractLogicError

from node.chain.client import ChainClient, ChainError, ContractRevert
from node.files import write_atomically

log = logging.getLogger("creditchain.chain")

CONSORTIUM = "Consortium"
# Deployed after the Consortium, in this order, each constructed with the Consortium's address
# (then its DEPLOY_ARGS) and registered in it under its own name. A new contract is one more
# name here. Blacklist's one argument is its notice lead time in seconds; ConsentRegistry's is
# the longest consent window in seconds (one year); Disputes' is the seconds a member has to
# answer an objection (20 days, 征信业管理条例 Art. 25; `found(answer_days=...)` sets another).
CONSENT_MAX_WINDOW = 365 * 24 * 3600
DISPUTE_ANSWER_DAYS = 20
DEPLOY_LIST: tuple[str, ...] = (
    "RecordRegistry", "Blacklist", "ConsentRegistry", "Disputes", "RepairCases"
)  # fmt: skip
DEPLOY_ARGS: dict[str, tuple[Any, ...]] = {
    "Blacklist": (0,),
    "ConsentRegistry": (CONSENT_MAX_WINDOW,),
    "Disputes": (DISPUTE_ANSWER_DAYS * 24 * 3600,),
    "RepairCases": (True,),  # a regulator approves each repair case
}
# Contracts a consortium founded before they existed may lack: the node runs without them and
# refuses only what needs them (objections; credit repair cases).
ADDED_LATER = frozenset({"Disputes", "RepairCases"})
CONSORTIUM_GAS = 8_000_000  # the constructor admits up to 32 founders
SETUP_GAS = 200_000


class DeployError(ChainError):
    """The consortium could not be founded, found or joined as asked."""


@dataclass(frozen=True)
class Founder:
    """A founding admin, as the Consortium's constructor registers it."""

    address: str
    name: str
    node_url: str
    public_key: bytes  # SEC1 secp256k1, uncompressed

    @classmethod
    def of(cls, account: LocalAccount, name: str, node_url: str = "") -> "Founder":
        key = PublicKey.from_secret(bytes(account.key)).format(compressed=False)
        return cls(account.address, name, node_url, key)

    @classmethod
    def from_public_key(cls, name: str, public_key: bytes, node_url: str = "") -> "Founder":
        """The address is the key's: keccak of the uncompressed point, last 20 bytes."""
        point = PublicKey(public_key).format(compressed=False)  # ValueError if not a key
        address = Web3.to_checksum_address(keccak(point[1:])[-20:])
        return cls(address, name, node_url, point)


def contract_name(name: str) -> bytes:
    """A contract's name as the Consortium keeps it: ASCII, right-padded to 32 bytes."""
    raw = name.encode("ascii")
    if not 0 < len(raw) <= 32:
        raise ValueError(f"a contract name is 1 to 32 ASCII characters: {name!r}")
    return raw.ljust(32, b"\0")


def found(
    client: ChainClient,
    compiled: dict[str, dict],
    founders: list[Founder],
    threshold: int,
    *,
    answer_days: int = DISPUTE_ANSWER_DAYS,
    args: dict[str, tuple[Any, ...]] | None = None,
) -> dict[str, str]:
    """Deploy a new consortium from `client`'s account; its contracts' addresses by name.
    Objections must be answered within `answer_days` days of being filed; `args` replaces
    DEPLOY_ARGS of the contracts it names (e.g. RepairCases' approval)."""
    if answer_days < 1:
        raise DeployError("the answer period of an objection is at least one day")
    deploy_args = {**DEPLOY_ARGS, "Disputes": (answer_days * 24 * 3600,), **(args or {})}
    consortium = client.deploy(
        compiled[CONSORTIUM]["abi"],
        compiled[CONSORTIUM]["bytecode"],
        [f.address for f in founders],
        [f.name for f in founders],
        [f.node_url for f in founders],
        [f.public_key for f in founders],
        threshold,
        gas=CONSORTIUM_GAS,
    )
    functions = client.contract(consortium, compiled[CONSORTIUM]["abi"]).functions
    addresses = {CONSORTIUM: consortium}
    for name in DEPLOY_LIST:
        artefact = compiled[name]
        addresses[name] = client.deploy(
            artefact["abi"], artefact["bytecode"], consortium, *deploy_args.get(name, ())
        )
        _transact(client, functions.registerContract(contract_name(name), addresses[name]))
    _transact(client, functions.finishDeployment())
    return addresses


def _transact(client: ChainClient, fn: Any) -> None:
    receipt = client.wait_receipt(client.send(fn, gas=SETUP_GAS), timeout=120)
    if receipt is None or receipt["status"] != 1:
        raise DeployError(f"{fn.fn_name} did not land on the chain")


def discover(client: ChainClient, compiled: dict[str, dict], consortium: str) -> dict[str, str]:
    """Every contract of the consortium at `consortium`, by name, as the Consortium lists it."""
    if not Web3.is_address(consortium):
        raise DeployError(f"{consortium!r} is not an address (0x and 40 hex digits)")
    address = Web3.to_checksum_address(consortium)
    if not client.w3.eth.get_code(address):
        raise DeployError(
            f"no contract at {address} on chain {client.chain_id}: is it the consortium's "
            "address, and this the consortium's chain?"
        )
    functions = client.contract(address, compiled[CONSORTIUM]["abi"]).functions
    try:
        finished = client.call(functions.deploymentFinished())
        names = [
            client.call(functions.contractNameAt(i))
            for i in range(client.call(functions.contractCount()))
        ]
        listed = {
            bytes(n).rstrip(b"\0").decode("ascii", "replace"): client.call(
                functions.contractAddress(n)
            )
            for n in names
        }
    except (ContractRevert, ContractLogicError, BadFunctionCallOutput, TransactionFailed):
        raise DeployError(
            f"the contract at {address} is not a Consortium that keeps its contracts by name"
        ) from None
    if not finished:
        raise DeployError(f"the consortium at {address} is still being deployed; try again soon")
    addresses: dict[str, str] = {CONSORTIUM: address}
    addresses.update({n: a for n, a in listed.items() if int(a, 16) != 0})
    missing = [n for n in DEPLOY_LIST if n not in addresses]
    if [n for n in missing if n not in ADDED_LATER]:
        raise DeployError(f"the consortium at {address} has no {', '.join(missing)}")
    if missing:
        log.warning(
            "the consortium at %s has no %s: what needs it is refused until its admins "
            "deploy it and register it by vote (Consortium.proposeContract)",
            address, ", ".join(missing),
        )  # fmt: skip
    return addresses


def require_current_registry(client: ChainClient, compiled: dict[str, dict], address: str) -> None:
    """DeployError unless the RecordRegistry at `address` is the version this node speaks to:
    it marks expiries in its batches' bitmaps (expireLeaves, statusAt). An older registry would
    refuse every expiry and status read later, far from the cause; say so at start instead."""
    registry = client.contract(address, compiled["RecordRegistry"]["abi"]).functions
    try:
        client.call(registry.MAX_EXPIRY_WORDS())
    except (ContractRevert, ContractLogicError, BadFunctionCallOutput, TransactionFailed):
        raise DeployError(
            f"the consortium's RecordRegistry at {address} is an older version than this node "
            "(it has no expiry bitmap: expireLeaves, statusAt); a node of this version needs a "
            "consortium founded by it (`creditchain consortium found`; on the embedded chain, "
            "start with a new --data directory)"
        ) from None


# --- chain.json: which chain, and which consortium on it ---------------------------------------


@dataclass(frozen=True)
class ChainFile:
    chain_id: int
    contracts: dict[str, str]

    @property
    def consortium(self) -> str:
        return self.contracts[CONSORTIUM]


def read_chain_file(path: Path) -> ChainFile | None:
    """The chain file at `path`; None if there is none."""
    try:
        saved = json.loads(path.read_text(encoding="utf-8"))
        chain_file = ChainFile(int(saved["chain_id"]), dict(saved["contracts"]))
        if not Web3.is_address(chain_file.consortium):
            raise ValueError("contracts.Consortium is not an address")
        return chain_file
    except FileNotFoundError:
        return None
    except (ValueError, KeyError, TypeError) as err:
        raise DeployError(f"{path} is not a chain file ({type(err).__name__}: {err})") from None


def write_chain_file(path: Path, *, chain_id: int, contracts: dict[str, str]) -> None:
    """The one writer of chain.json: the chain's id and the consortium's contracts by name.
    An admin may hand this file to a new member, to place in its data directory."""
    text = json.dumps({"chain_id": chain_id, "contracts": contracts}, indent=2) + "\n"
    write_atomically(path, text)


def how_to_join(*, rpc: str, data: Path) -> str:
    """The one-line refusal of a node pointed at a chain without being told which consortium."""
    return (
        f"no consortium named for the chain at {rpc} (and no {data / 'chain.json'}): "
        "to join one, pass --consortium 0x... (or set CREDITCHAIN_CONSORTIUM, or place the "
        f"chain.json an admin gives you in {data}); to found a new one, run "
        f"`creditchain consortium found --rpc {rpc} --data {data}`"
    )
