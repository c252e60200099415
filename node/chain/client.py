"""The node's one way to the chain: reads, and transactions it signs with its own key.

One code path over JSON-RPC semantics for every backend (embedded eth-tester, anvil, Besu).
Calls are serialised by a lock because the embedded chain runs in this process.
"""

import ast
import logging
import threading
import time
from typing import Any

from eth_account.signers.local import LocalAccount
from eth_tester.exceptions import TransactionFailed
from eth_typing import HexStr
from eth_utils import keccak
from web3 import Web3
from web3.contract import Contract
from web3.exceptions import ContractCustomError, TransactionNotFound, Web3RPCError

log = logging.getLogger("creditchain.chain")


class ChainError(RuntimeError):
    """The chain could not be reached or refused a request; worth retrying later."""


class ContractRevert(RuntimeError):
    """A contract refused the call with one of its custom errors."""

    def __init__(self, name: str, data: str) -> None:
        super().__init__(f"contract refused: {name}")
        self.name = name
        self.data = data


def error_selectors(abi: list[dict[str, Any]]) -> dict[str, str]:
    """0x-selector -> custom error name, for every error in an ABI."""
    out = {}
    for item in abi:
        if item.get("type") == "error":
            sig = f"{item['name']}({','.join(i['type'] for i in item['inputs'])})"
            out["0x" + keccak(text=sig)[:4].hex()] = item["name"]
    return out


def revert_data(err: Exception) -> str:
    """The revert's ABI data as 0x-hex, from a JSON-RPC node or the embedded eth-tester
    (which raises TransactionFailed("execution reverted: b'...'") instead)."""
    data = getattr(err, "data", None)
    if isinstance(data, str) and data.startswith("0x"):
        return data
    text = str(err.args[0] if err.args else err)
    _, _, tail = text.partition("execution reverted: ")
    try:
        raw = ast.literal_eval(tail)
    except (ValueError, SyntaxError):
        return "0x"
    return "0x" + raw.hex() if isinstance(raw, bytes) else "0x"


def revert_name(data: str, selectors: dict[str, str]) -> str:
    return selectors.get(data[:10], f"unknown error {data[:10]}")


class ChainClient:
    def __init__(self, w3: Web3, account: LocalAccount) -> None:
        self.w3 = w3
        self.account = account
        self.lock = threading.RLock()
        self._nonce: int | None = None
        self._chain_id: int | None = None

    @property
    def chain_id(self) -> int:
        if self._chain_id is None:
            with self.lock:
                self._chain_id = self.w3.eth.chain_id
        return self._chain_id

    def block_number(self) -> int:
        with self.lock:
            return self.w3.eth.block_number

    def head_hash(self) -> str:
        with self.lock:
            return self.w3.eth.get_block("latest")["hash"].to_0x_hex()

    def block_hash(self, number: int) -> str | None:
        with self.lock:
            try:
                return self.w3.eth.get_block(number)["hash"].to_0x_hex()
            except Exception:  # BlockNotFound and friends: the block is not (any more) there
                return None

    def call(self, fn: Any) -> Any:
        """eth_call a contract function as this member, mapping custom errors."""
        with self.lock:
            try:
                return fn.call({"from": self.account.address})
            except (ContractCustomError, TransactionFailed) as err:
                data = revert_data(err)
                raise ContractRevert(
                    revert_name(data, error_selectors(fn.contract_abi)), data
                ) from None

    def send(self, fn: Any, *, gas: int) -> str:
        """Sign and send a contract transaction; returns its hash. Checks it with eth_call
        first, so a transaction that would revert is refused with the contract's error."""
        with self.lock:
            self.call(fn)
            return self._sign_and_send(fn, gas)

    def _sign_and_send(self, fn: Any, gas: int) -> str:
        """Build, sign and send a call or deployment with this member's next nonce."""
        nonce = self._nonce
        if nonce is None:
            nonce = self.w3.eth.get_transaction_count(self.account.address, "pending")
        tx = fn.build_transaction(
            {
                "from": self.account.address,
                "nonce": nonce,
                "gas": gas,
                "gasPrice": self.w3.eth.gas_price,
                "chainId": self.chain_id,
            }
        )
        signed = self.account.sign_transaction(tx)
        try:
            tx_hash = self.w3.eth.send_raw_transaction(signed.raw_transaction)
        except Web3RPCError as err:
            self._nonce = None  # re-read the nonce from the chain next time
            raise ChainError(f"transaction refused by the chain: {err.message}") from None
        self._nonce = nonce + 1
        return tx_hash.to_0x_hex()

    def reset_nonce(self) -> None:
        self._nonce = None

    def receipt(self, tx_hash: str) -> dict[str, Any] | None:
        with self.lock:
            try:
                return dict(self.w3.eth.get_transaction_receipt(HexStr(tx_hash)))
            except TransactionNotFound:
                return None

    def is_pending(self, tx_hash: str) -> bool:
        """True while the chain still knows the transaction but has not mined it."""
        with self.lock:
            try:
                tx = self.w3.eth.get_transaction(HexStr(tx_hash))
            except TransactionNotFound:
                return False
            return tx.get("blockNumber") is None

    def wait_receipt(self, tx_hash: str, timeout: float = 30.0) -> dict[str, Any] | None:
        """The receipt once mined; None if it neither mined nor stayed pending in time."""
        deadline = time.monotonic() + timeout
        delay = 0.01
        while True:
            rcpt = self.receipt(tx_hash)
            if rcpt is not None:
                return rcpt
            if time.monotonic() > deadline:
                return None
            time.sleep(delay)
            delay = min(delay * 2, 0.5)

    def deploy(self, abi: list, bytecode: str, *args: Any, gas: int = 6_000_000) -> str:
        """Deploy a contract from this member's account; returns its address."""
        with self.lock:
            ctor = self.w3.eth.contract(abi=abi, bytecode=bytecode).constructor(*args)
            tx_hash = self._sign_and_send(ctor, gas)
        rcpt = self.wait_receipt(tx_hash, timeout=120)
        if rcpt is None or rcpt["status"] != 1:
            raise ChainError("contract deployment failed")
        return str(rcpt["contractAddress"])

    def contract(self, address: str, abi: list) -> Contract:
        return self.w3.eth.contract(address=Web3.to_checksum_address(address), abi=abi)
