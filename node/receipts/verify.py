"""Check a receipt against the chain alone. The algorithm, in full:

1. commitment = sha256(salt || canonical_json(record))           must equal receipt.commitment
   (a receipt of another kind of leaf, e.g. "kind": "query", holds `entry` for `record`)
2. walk proof from leaf_hash(commitment) at leaf_index in a tree of tree_size (RFC 9162)
                                                                   must give receipt.root
3. registry.getBatch(batch_id) on chain chain_id         must exist, with that root and size
4. registry.statusAt(commitment, batch_id, leaf_index, proof)       active, superseded, ...
   (statusOf(commitment) alone does not know an expiry marked in the batch's bitmap)
5. tx_hash's receipt on chain                                      must have anchored batch_id
"""

from dataclasses import dataclass, field
from typing import Any

from web3 import Web3
from web3.exceptions import ContractLogicError, TransactionNotFound

from node.crypto.canonical import canonical_json
from node.crypto.commitments import commitment, from_hex, to_hex
from node.crypto.merkle import leaf_hash, root_from_inclusion_proof

STATUSES = ["active", "superseded", "disputed", "revoked", "expired"]
REGISTRY_ABI: list[dict[str, Any]] = [
    {
        "type": "function",
        "name": "getBatch",
        "stateMutability": "view",
        "inputs": [{"name": "batchId", "type": "uint256"}],
        "outputs": [
            {"name": "member", "type": "address"},
            {"name": "root", "type": "bytes32"},
            {"name": "size", "type": "uint64"},
            {"name": "prevRoot", "type": "bytes32"},
            {"name": "anchoredAt", "type": "uint64"},
        ],
    },
    {
        "type": "function",
        "name": "statusAt",
        "stateMutability": "view",
        "inputs": [
            {"name": "commitment", "type": "bytes32"},
            {"name": "batchId", "type": "uint256"},
            {"name": "leafIndex", "type": "uint64"},
            {"name": "proof", "type": "bytes32[]"},
        ],
        "outputs": [{"name": "", "type": "uint8"}],
    },
]
BATCH_ANCHORED_TOPIC = Web3.keccak(text="BatchAnchored(uint256,address,bytes32,uint64,bytes32)")
FIELDS = (
    "salt",
    "commitment",
    "batch_id",
    "leaf_index",
    "tree_size",
    "proof",
    "root",
    "chain_id",
    "registry",
    "tx_hash",
    "block_number",
)
INTEGERS = ("batch_id", "leaf_index", "tree_size", "chain_id", "block_number")
HEX_BYTES = {"salt": 32, "commitment": 32, "root": 32, "tx_hash": 32, "registry": 20}


@dataclass
class Verdict:
    checks: list[tuple[str, bool, str]] = field(default_factory=list)
    status: str | None = None

    @property
    def ok(self) -> bool:
        return bool(self.checks) and all(ok for _, ok, _ in self.checks)

    def add(self, name: str, ok: bool, detail: str) -> bool:
        self.checks.append((name, ok, detail))
        return ok


def committed_field(receipt: dict[str, Any]) -> str:
    """Where the committed object sits: `record` in a record's receipt, `entry` in a receipt
    of any other kind of leaf (a query log entry, ...)."""
    return "record" if receipt.get("kind", "record") == "record" else "entry"


def shape_error(receipt: dict[str, Any]) -> str | None:
    """The first field of the wrong type or length, so that a malformed receipt is said to be
    one here, and is never mistaken later for a chain that did not answer."""
    body = committed_field(receipt)
    if not isinstance(receipt[body], dict):
        return f"{body} is not a JSON object"
    for name in INTEGERS:
        value = receipt[name]
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            return f"{name} is not a whole number"
    hexes = {name: (receipt[name], size) for name, size in HEX_BYTES.items()}
    proof = receipt["proof"]
    if not isinstance(proof, list):
        return "proof is not a list"
    hexes.update({f"proof[{i}]": (p, 32) for i, p in enumerate(proof)})
    for name, (value, size) in hexes.items():
        try:
            from_hex(value, size=size)
        except ValueError:
            return f"{name} is not {size} bytes of hex"
    return None


def check_offline(receipt: dict[str, Any], v: Verdict) -> bytes | None:
    """Steps 1 and 2: the record hashes to its commitment, the path leads to the root."""
    missing = [f for f in (committed_field(receipt), *FIELDS) if f not in receipt]
    if not v.add(
        "receipt",
        not missing and receipt.get("version") == 1,
        f"missing fields: {', '.join(missing)}" if missing else "version 1, complete",
    ):
        return None
    malformed = shape_error(receipt)
    if malformed:
        v.add("receipt", False, f"malformed: {malformed}")
        return None
    try:
        salt, claimed = from_hex(receipt["salt"]), from_hex(receipt["commitment"])
        proof = [from_hex(h) for h in receipt["proof"]]
        computed = commitment(salt, canonical_json(receipt[committed_field(receipt)]))
    except (ValueError, TypeError) as err:
        v.add("receipt", False, f"malformed: {err}")
        return None
    if not v.add(
        "commitment",
        computed == claimed,
        "sha256(salt || canonical record) matches"
        if computed == claimed
        else f"{committed_field(receipt)} and salt hash to {to_hex(computed)}, "
        "not the receipt's commitment",
    ):
        return None
    try:
        root = root_from_inclusion_proof(
            receipt["leaf_index"], receipt["tree_size"], leaf_hash(computed), proof
        )
    except ValueError as err:
        v.add("path", False, f"proof is malformed: {err}")
        return None
    if not v.add(
        "path",
        to_hex(root) == receipt["root"].lower(),
        "inclusion proof leads to the root"
        if to_hex(root) == receipt["root"].lower()
        else f"inclusion proof leads to {to_hex(root)}, not the receipt's root",
    ):
        return None
    return root


def verify_receipt(receipt: dict[str, Any], w3: Web3) -> Verdict:
    """All five steps; each check says what held or what failed."""
    v = Verdict()
    root = check_offline(receipt, v)
    if root is None:
        return v
    chain_id = w3.eth.chain_id
    if not v.add(
        "chain",
        chain_id == receipt["chain_id"],
        f"chain id {chain_id}"
        + (
            ""
            if chain_id == receipt["chain_id"]
            else f", but the receipt is for {receipt['chain_id']}"
        ),
    ):
        return v
    address = Web3.to_checksum_address(receipt["registry"])
    if not v.add("registry", bool(w3.eth.get_code(address)), f"contract at {address}"):
        return v
    registry = w3.eth.contract(address=address, abi=REGISTRY_ABI)
    try:
        member, on_chain_root, size, _prev, _at = registry.functions.getBatch(
            receipt["batch_id"]
        ).call()
    except ContractLogicError:
        v.add("batch", False, f"batch {receipt['batch_id']} missing from the registry")
        return v
    same = on_chain_root == root and size == receipt["tree_size"]
    v.add(
        "root",
        same,
        f"batch {receipt['batch_id']} by {member} has this root and size"
        if same
        else f"batch {receipt['batch_id']} on chain has root {to_hex(on_chain_root)} "
        f"and size {size}",
    )
    v.status = STATUSES[registry.functions.statusAt(*status_at_args(receipt)).call()]
    v.add("status", True, v.status)
    try:
        tx = w3.eth.get_transaction_receipt(receipt["tx_hash"])
        anchored = any(
            log["address"] == address
            and log["topics"][0] == BATCH_ANCHORED_TOPIC
            and int.from_bytes(log["topics"][1], "big") == receipt["batch_id"]
            for log in tx["logs"]
        )
        v.add(
            "transaction",
            anchored and tx["blockNumber"] == receipt["block_number"],
            f"anchored in block {tx['blockNumber']}"
            if anchored
            else "transaction did not anchor this batch",
        )
    except TransactionNotFound:
        v.add("transaction", False, f"transaction {receipt['tx_hash']} is not on the chain")
    return v


def status_at_args(receipt: dict[str, Any]) -> tuple[bytes, int, int, list[bytes]]:
    """The registry's statusAt arguments from a receipt: its commitment, batch id, leaf
    index and proof (the bit of an expiry marked in the batch's bitmap is found by them)."""
    proof = [from_hex(h) for h in receipt["proof"]]
    return (from_hex(receipt["commitment"]), receipt["batch_id"], receipt["leaf_index"], proof)
