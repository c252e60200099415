"""A consortium's production chain on paper: a Hyperledger Besu network of QBFT validators.

`creditchain consortium besu-config --validators N --dir DIR` writes the genesis (zero gas
price, the validators in its extraData, a block period, a raised contract size limit), each
validator's node key, config.toml and node allowlist, a compose file that runs them, and a
README. Nothing here talks to Besu: the node reaches it over the same JSON-RPC it uses for
anvil, signing its own transactions.
"""

import json
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import rlp
from eth_keys.datatypes import PrivateKey

from node.files import write_atomically
from node.keys.store import SECP256K1_ORDER

CHAIN_ID = 20251  # any id not in use by a public network; --chain-id chooses another
BLOCK_PERIOD = 2  # seconds between blocks
GAS_LIMIT = 100_000_000  # per block; with 2 s blocks, 50 M gas/s
CONTRACT_SIZE_LIMIT = 131_072  # bytes of deployed code (Ethereum's own limit is 24,576)
EPOCH_LENGTH = 30_000
REQUEST_TIMEOUT = 4  # seconds a QBFT round waits before a round change
MAX_VALIDATORS = 64
BESU_IMAGE = "hyperledger/besu:25.8.0"
SUBNET = "172.16.240"  # the compose network, /24; validator N at .(10 + N)
P2P_PORT = 30303
RPC_PORT = 8545
RPC_APIS = ("ETH", "NET", "WEB3", "QBFT", "TXPOOL")
# the mixHash Besu's BFT protocols require of every block header
BFT_MIX_HASH = "0x63746963616c2062797a616e74696e65206661756c7420746f6c6572616e6365"


class BesuConfigError(ValueError):
    """The network cannot be written as asked; the message names the option."""


@dataclass(frozen=True)
class Validator:
    name: str
    address: str  # checksummed; QBFT's validator address is the node key's address
    public_key: bytes  # 64 bytes, x and y
    host: str

    @property
    def enode(self) -> str:
        return f"enode://{self.public_key.hex()}@{self.host}:{P2P_PORT}"


def qbft_extra_data(addresses: list[str]) -> str:
    """The genesis extraData of a QBFT network whose validators are `addresses`, as Besu
    documents it: RLP([32 zero bytes of vanity, [validators], [] votes, round (empty),
    [] committed seals])."""
    validators = [bytes.fromhex(a.removeprefix("0x")) for a in addresses]
    if any(len(v) != 20 for v in validators):
        raise BesuConfigError("a validator address is 20 bytes")
    return "0x" + rlp.encode([b"\x00" * 32, validators, [], b"", []]).hex()


def genesis(validators: list[Validator], *, chain_id: int, block_period: int) -> dict[str, Any]:
    """A QBFT genesis: every fork up to Cancun (the contracts' EVM version) from block 0,
    zero base fee, the raised contract size limit, no funded account (gas is free)."""
    return {
        "config": {
            "chainId": chain_id,
            "berlinBlock": 0,
            "londonBlock": 0,
            "shanghaiTime": 0,
            "cancunTime": 0,
            "zeroBaseFee": True,
            "contractSizeLimit": CONTRACT_SIZE_LIMIT,
            "qbft": {
                "blockperiodseconds": block_period,
                "epochlength": EPOCH_LENGTH,
                "requesttimeoutseconds": REQUEST_TIMEOUT,
            },
        },
        "nonce": "0x0",
        "timestamp": hex(int(time.time())),
        "gasLimit": hex(GAS_LIMIT),
        "difficulty": "0x1",
        "mixHash": BFT_MIX_HASH,
        "coinbase": "0x" + "00" * 20,
        "alloc": {},
        "extraData": qbft_extra_data([v.address for v in validators]),
    }


def _toml(value: Any) -> str:
    """A TOML value: JSON's strings, integers, booleans and arrays are TOML's too."""
    return json.dumps(value, ensure_ascii=False)


def node_config(validator: Validator, validators: list[Validator]) -> str:
    """One validator's config.toml, its paths as the compose file mounts them."""
    others = [v.enode for v in validators if v is not validator]
    settings: list[tuple[str, Any]] = [
        ("genesis-file", "/config/genesis.json"),
        ("data-path", "/node/data"),
        ("node-private-key-file", "/node/key"),
        ("sync-mode", "FULL"),
        ("min-gas-price", 0),
        ("p2p-host", validator.host),
        ("p2p-port", P2P_PORT),
        ("bootnodes", others),
        ("permissions-nodes-config-file-enabled", True),
        ("permissions-nodes-config-file", "/node/permissions_config.toml"),
        ("rpc-http-enabled", True),
        ("rpc-http-host", "0.0.0.0"),
        ("rpc-http-port", RPC_PORT),
        ("rpc-http-api", list(RPC_APIS)),
        ("host-allowlist", ["*"]),
        ("revert-reason-enabled", True),
        ("logging", "INFO"),
    ]
    lines = [f"# Besu configuration of {validator.name} ({validator.address})"]
    lines += [f"{key}={_toml(value)}" for key, value in settings]
    return "\n".join(lines) + "\n"


def permissions_config(validators: list[Validator]) -> str:
    """The node allowlist: a validator talks to the consortium's validators and no one else."""
    return f"nodes-allowlist={_toml([v.enode for v in validators])}\n"


def compose_file(validators: list[Validator], *, uid: int, gid: int) -> str:
    """docker-compose.yml: one Besu container per validator on a private bridge network, each
    validator's RPC published on loopback only (validator N on 8545 + N - 1)."""
    lines = ["name: creditchain-besu", "services:"]
    for n, v in enumerate(validators, start=1):
        lines += [
            f"  {v.name}:",
            f"    image: {BESU_IMAGE}",
            f'    user: "{uid}:{gid}"',
            '    command: ["--config-file=/node/config.toml"]',
            "    volumes:",
            "      - ./genesis.json:/config/genesis.json:ro",
            f"      - ./{v.name}:/node",
            "    ports:",
            f'      - "127.0.0.1:{RPC_PORT + n - 1}:{RPC_PORT}"',
            "    networks:",
            "      qbft:",
            f"        ipv4_address: {v.host}",
            "    restart: unless-stopped",
        ]
    lines += [
        "networks:",
        "  qbft:",
        "    driver: bridge",
        "    ipam:",
        "      config:",
        f"        - subnet: {SUBNET}.0/24",
    ]
    return "\n".join(lines) + "\n"


def _new_key() -> PrivateKey:
    while True:
        value = secrets.token_bytes(32)
        if 0 < int.from_bytes(value, "big") < SECP256K1_ORDER:  # a key is in [1, order)
            return PrivateKey(value)


def _check(*, validators: int, chain_id: int, block_period: int) -> None:
    if not 1 <= validators <= MAX_VALIDATORS:
        raise BesuConfigError(f"--validators must be between 1 and {MAX_VALIDATORS}")
    if chain_id < 1:
        raise BesuConfigError("--chain-id must be a positive integer")
    if block_period < 1:
        raise BesuConfigError("--block-period must be at least 1 second")


def write_network(
    root: Path, *, validators: int, chain_id: int = CHAIN_ID, block_period: int = BLOCK_PERIOD,
    force: bool = False,
) -> list[Validator]:  # fmt: skip
    """Write a QBFT network of `validators` Besu nodes into `root`; the validators. A node key
    goes to its validator's directory only (0600) and is never returned or printed."""
    _check(validators=validators, chain_id=chain_id, block_period=block_period)
    if root.exists() and not root.is_dir():
        raise BesuConfigError(f"--dir {root} is a file, not a directory")
    if root.is_dir() and any(root.iterdir()) and not force:
        raise BesuConfigError(
            f"--dir {root} is not empty: choose an empty directory, or pass --force to write "
            "a new network over it (its validator keys are replaced)"
        )
    made: list[tuple[Validator, PrivateKey]] = []
    for n in range(1, validators + 1):
        key = _new_key()
        made.append((Validator(f"validator-{n}", key.public_key.to_checksum_address(),
                               key.public_key.to_bytes(), f"{SUBNET}.{10 + n}"), key))  # fmt: skip
    network = [v for v, _ in made]
    for v, key in made:
        write_atomically(root / v.name / "key", key.to_hex() + "\n", private=True)
        write_atomically(root / v.name / "key.pub", "0x" + v.public_key.hex() + "\n")
        write_atomically(root / v.name / "config.toml", node_config(v, network))
        write_atomically(root / v.name / "permissions_config.toml", permissions_config(network))
        (root / v.name / "data").mkdir(exist_ok=True)
    spec = genesis(network, chain_id=chain_id, block_period=block_period)
    write_atomically(root / "genesis.json", json.dumps(spec, indent=2) + "\n")
    write_atomically(root / "network.json", json.dumps(_public(network, spec), indent=2) + "\n")
    write_atomically(
        root / "docker-compose.yml", compose_file(network, uid=os.getuid(), gid=os.getgid())
    )
    write_atomically(root / "README.md", readme(network, chain_id=chain_id,
                                                block_period=block_period))  # fmt: skip
    return network


def _public(network: list[Validator], spec: dict[str, Any]) -> dict[str, Any]:
    """What every member may know of the network: no key but the public ones."""
    return {
        "chain_id": spec["config"]["chainId"],
        "block_period": spec["config"]["qbft"]["blockperiodseconds"],
        "gas_limit": int(spec["gasLimit"], 16),
        "validators": [
            {"name": v.name, "address": v.address, "public_key": "0x" + v.public_key.hex(),
             "enode": v.enode, "rpc": f"http://127.0.0.1:{RPC_PORT + n}"}
            for n, v in enumerate(network)
        ],
    }  # fmt: skip


def readme(network: list[Validator], *, chain_id: int, block_period: int) -> str:
    """The README written beside the network: what each file is and how to start it."""
    faults = (len(network) - 1) // 3
    rows = "\n".join(f"| {v.name} | {v.address} | {v.host}:{P2P_PORT} | "
                     f"http://127.0.0.1:{RPC_PORT + n} |"
                     for n, v in enumerate(network))  # fmt: skip
    return f"""# A QBFT network of {len(network)} Besu validator(s) for creditchain

Chain id {chain_id}, a block every {block_period} s, {GAS_LIMIT:,} gas per block, gas free
(zero base fee, `min-gas-price=0`). {len(network)} validator(s) tolerate {faults} faulty one(s)
(QBFT needs more than two thirds of them; four is the smallest network that tolerates one).

| validator | address | p2p | JSON-RPC |
| --- | --- | --- | --- |
{rows}

## Files

- `genesis.json`: the QBFT genesis; its `extraData` lists the validators' addresses.
- `validator-N/key`: the validator's node key (0600). It signs blocks and is its identity in
  QBFT; keep it on that validator's machine only, and a copy in your offline backup. Anyone
  who holds it can sign as that validator.
- `validator-N/key.pub`, `network.json`: public keys, addresses and enode URLs.
- `validator-N/config.toml`: the Besu options (p2p, JSON-RPC with {", ".join(RPC_APIS)},
  node permissioning, `min-gas-price=0`).
- `validator-N/permissions_config.toml`: the node allowlist (every validator's enode).
- `docker-compose.yml`: all validators on one machine, on a private bridge network, each
  JSON-RPC published on 127.0.0.1 only.

## Start it

    docker compose up -d
    curl -s -X POST -H 'Content-Type: application/json' http://127.0.0.1:{RPC_PORT} \\
      -d '{{"jsonrpc":"2.0","id":1,"method":"qbft_getValidatorsByBlockNumber","params":["latest"]}}'

To run the validators on separate machines, replace the {SUBNET}.x addresses in every
`config.toml` (`p2p-host`, `bootnodes`) and `permissions_config.toml` with the machines'
addresses, copy `genesis.json` and that validator's directory to each machine, and open
port {P2P_PORT} between them only. JSON-RPC ({RPC_PORT}) answers any host name
(`host-allowlist`) and lets whoever reaches it read the whole chain and send transactions:
let only that member's own node reach it.

## The consortium on it

    creditchain consortium found --rpc http://127.0.0.1:{RPC_PORT} --data DATA
    creditchain run --rpc http://127.0.0.1:{RPC_PORT} --data DATA --confirmations 0 \\
        --batch-interval 60

A QBFT block is final once it is on chain, so the nodes need no confirmations. Each member
points `--rpc` at its own Besu node and joins with `--consortium ADDRESS`. A batch a minute
per member keeps the anchors of hundreds of members to a few percent of the network; at the
default of one second each busy member would anchor in every block.
"""
