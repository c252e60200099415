"""The embedded chain's py-evm chain class and eth-tester backend: re-opened at its persisted
head, one block per transaction, flushed to the key/value store after each block, and calls
that need no balance (as geth runs them). See node/chain/embedded.py for how the parts fit."""

from __future__ import annotations

import contextlib
from typing import Any

from eth.chains.base import MiningChain
from eth.constants import BLANK_ROOT_HASH
from eth.db.chain import ChainDB
from eth.exceptions import CanonicalHeadNotFound
from eth.exceptions import TransactionNotFound as EVMTransactionNotFound
from eth.vm.forks import PragueVM
from eth.vm.spoof import SpoofTransaction
from eth_abi import abi
from eth_abi.exceptions import DecodingError
from eth_tester import EthereumTester
from eth_tester.backends.pyevm.main import (
    PyEVMBackend,
    _get_block_by_number,
    get_default_genesis_params,
)
from eth_tester.backends.pyevm.serializers import (
    serialize_transaction,
    serialize_transaction_receipt,
)
from eth_tester.constants import BLOB_TX_TYPE
from eth_tester.exceptions import TransactionFailed, TransactionNotFound, ValidationError
from eth_utils import encode_hex, to_checksum_address
from eth_utils.toolz import assoc
from web3.providers.eth_tester.defaults import API_ENDPOINTS

from node.chain.kvstore import SQLiteAtomicDB

DEFAULT_CHAIN_ID = 1337
_FEE_FIELDS = ("gas_price", "max_fee_per_gas", "max_priority_fee_per_gas")
_ZERO_ADDRESS = b"\x00" * 20


def _with_priority_fee(transaction: dict[str, Any]) -> dict[str, Any]:
    # eth-tester cannot build an unsigned tx from max_fee_per_gas alone (TypeError).
    if "max_fee_per_gas" in transaction and "max_priority_fee_per_gas" not in transaction:
        fee = transaction["max_fee_per_gas"]
        return {**transaction, "max_priority_fee_per_gas": min(fee, 10**9)}
    return transaction


class _EmbeddedMiningChain(MiningChain):
    """Equivalent of eth-tester's ``MainnetTesterPosChain`` with our own chain id."""

    vm_configuration = ((0, PragueVM),)
    chain_id = DEFAULT_CHAIN_ID

    def create_header_from_parent(self, parent_header, **header_params):  # type: ignore[override]
        # Keep the gas limit constant (as eth-tester does).
        return super().create_header_from_parent(
            parent_header, **assoc(header_params, "gas_limit", parent_header.gas_limit)
        )

    def get_transaction_builder(self):
        return super().get_vm().get_transaction_builder()


def make_chain_class(chain_id: int) -> type[_EmbeddedMiningChain]:
    return _EmbeddedMiningChain.configure(__name__=f"EmbeddedChain{chain_id}", chain_id=chain_id)


class PersistentPyEVMBackend(PyEVMBackend):
    """``PyEVMBackend`` over a :class:`SQLiteAtomicDB`, re-opened at its persisted head.

    Overrides (vs. eth-tester):
    * ``__init__``/``reset_to_genesis``: no implicit genesis over a fresh in-memory DB.
    * ``mine_blocks`` / ``revert_to_snapshot``: commit the DB buffer afterwards.
    * transaction/receipt lookup by the chain's tx-hash index instead of a linear scan
      of all blocks (eth-tester's scan is O(chain length) per lookup).
    * ``send_*``: the first tx of a new pending block refreshes the pending header's
      timestamp (eth-tester stamps it when the *previous* block was mined).
    * ``call``/``estimate_gas``: ``from`` defaults to the zero address and a call without
      fee fields runs with gas price 0 / base fee 0 (like geth), so no balance is needed;
      with ``gas_cap`` set (for strangers' calls) no call uses more gas.
    """

    gas_cap: int | None = None

    def _capped(self, gas: int) -> int:
        return gas if self.gas_cap is None else min(gas, self.gas_cap)

    def __init__(
        self,
        db: SQLiteAtomicDB,
        chain_class: type[_EmbeddedMiningChain],
        genesis_params: dict[str, Any] | None = None,
        genesis_state: dict[bytes, dict[str, Any]] | None = None,
        genesis_meta: dict[str, str] | None = None,
    ) -> None:
        # Deliberately no super().__init__(): that would run genesis on a new database.
        self._db = db
        self.account_keys = ()
        self.created_genesis = False
        try:
            ChainDB(db).get_canonical_head()
        except CanonicalHeadNotFound:
            if genesis_params is None:
                genesis_params = get_default_genesis_params()
            self.chain = chain_class.from_genesis(db, genesis_params, genesis_state or {})
            db.flush(meta=genesis_meta)
            self.created_genesis = True
        else:
            if db.has_pending_writes:  # pragma: no cover - defensive
                raise RuntimeError("unexpected buffered writes while opening the chain")
            self.chain = chain_class(db)

    # -- lifecycle ---------------------------------------------------------------------

    def reset_to_genesis(self, *args: Any, **kwargs: Any) -> None:
        raise NotImplementedError("reset_to_genesis would discard the persistent chain")

    def flush(self) -> None:
        self._db.flush()

    def mine_blocks(self, num_blocks: int = 1, coinbase: bytes = _ZERO_ADDRESS):
        try:
            return super().mine_blocks(num_blocks, coinbase)
        finally:
            # Everything written so far is consistent at batch granularity (py-evm
            # writes data before the head pointer), so commit even after an error.
            self._db.flush()

    def revert_to_snapshot(self, snapshot: bytes) -> None:
        try:
            super().revert_to_snapshot(snapshot)
        finally:
            self._db.flush()

    # -- pending block timestamp -------------------------------------------------------

    def _refresh_pending_header(self) -> None:
        header = self.chain.header
        if header.transaction_root == BLANK_ROOT_HASH and header.gas_used == 0:
            parent = self.chain.get_block_header_by_hash(header.parent_hash)
            # timestamp = max(now, parent.timestamp + 1)
            self.chain.header = self.chain.create_header_from_parent(parent)

    def send_raw_transaction(self, raw_transaction: bytes) -> bytes:
        self._refresh_pending_header()
        if raw_transaction[:1] == bytes([BLOB_TX_TYPE]):
            return super().send_raw_transaction(raw_transaction)
        evm_transaction = self.chain.get_vm().get_transaction_builder().decode(raw_transaction)
        # py-evm does not check the signed chain id; refuse replays from other chains and
        # unprotected (pre-EIP-155) legacy transactions.
        if evm_transaction.chain_id != self.chain.chain_id:
            raise ValidationError(
                f"transaction chain id {evm_transaction.chain_id} does not match the "
                f"chain id {self.chain.chain_id}"
            )
        self.chain.apply_transaction(evm_transaction)
        return evm_transaction.hash

    def send_signed_transaction(self, signed_transaction, block_number="latest"):
        self._refresh_pending_header()
        return super().send_signed_transaction(signed_transaction, block_number)

    def send_transaction(self, transaction):
        self._refresh_pending_header()
        return super().send_transaction(transaction)

    # -- indexed transaction lookup -----------------------------------------------------

    def _find_transaction(self, transaction_hash: bytes):
        pending_block = self.chain.get_block()
        for index, transaction in enumerate(pending_block.transactions):
            if transaction.hash == transaction_hash:
                return pending_block, transaction, index
        try:
            block_number, index = self.chain.chaindb.get_transaction_index(transaction_hash)
        except EVMTransactionNotFound:
            raise TransactionNotFound(
                f"No transaction found for transaction hash: {encode_hex(transaction_hash)}"
            ) from None
        block = self.chain.get_canonical_block_by_number(block_number)
        if index >= len(block.transactions) or block.transactions[index].hash != transaction_hash:
            raise TransactionNotFound(
                f"Transaction index for {encode_hex(transaction_hash)} is stale"
            )
        return block, block.transactions[index], index

    def get_transaction_by_hash(self, transaction_hash: bytes):
        block, transaction, index = self._find_transaction(transaction_hash)
        is_pending = block.number == self.chain.get_block().number
        return serialize_transaction(block, transaction, index, is_pending)

    def get_transaction_receipt(self, transaction_hash: bytes):
        block, transaction, index = self._find_transaction(transaction_hash)
        is_pending = block.number == self.chain.get_block().number
        receipts = block.get_receipts(self.chain.chaindb)
        return serialize_transaction_receipt(
            block, receipts, transaction, index, is_pending, self.chain.get_vm()
        )

    # -- calls ---------------------------------------------------------------------------

    def call(self, transaction, block_number="latest"):
        transaction = dict(transaction)
        transaction.setdefault("from", _ZERO_ADDRESS)
        if any(field in transaction for field in _FEE_FIELDS):
            if self.gas_cap is not None:
                transaction["gas"] = self._capped(transaction.get("gas", self.gas_cap))
            return super().call(_with_priority_fee(transaction), block_number)

        # Free call: execute on the requested block's state with base fee 0, gas price 0.
        block = _get_block_by_number(self.chain, block_number)
        header = block.header
        if getattr(header, "base_fee_per_gas", None):
            header = header.copy(base_fee_per_gas=0)
        transaction["gas"] = self._capped(transaction.get("gas", header.gas_limit))
        transaction["max_fee_per_gas"] = 0
        transaction["max_priority_fee_per_gas"] = 0
        unsigned = self._get_normalized_and_unsigned_evm_transaction(transaction, block_number)
        spoofed = SpoofTransaction(unsigned, from_=transaction["from"])
        state = self.chain.get_vm(at_header=header).state
        snapshot = state.snapshot()
        try:
            computation = state.apply_transaction(spoofed)
        finally:
            state.revert(snapshot)
        if computation.is_error:
            # Same error reporting as PyEVMBackend.call.
            msg = str(computation._error)
            if self.is_eip838_error(computation._error):
                with contextlib.suppress(DecodingError):
                    msg = abi.decode(["string"], computation._error.args[0][4:])[0]
            raise TransactionFailed(msg)
        return computation.output

    def estimate_gas(self, transaction, block_number="latest"):
        transaction = dict(transaction)
        transaction.setdefault("from", _ZERO_ADDRESS)
        if not any(field in transaction for field in _FEE_FIELDS):
            # py-evm estimates in a state with base fee 0; price 0 needs no balance.
            transaction["max_fee_per_gas"] = 0
            transaction["max_priority_fee_per_gas"] = 0
        return super().estimate_gas(_with_priority_fee(transaction), block_number)


def _with_default_from(delegate: Any) -> Any:
    # eth-tester requires "from" for eth_call/eth_estimateGas; web3 sends "from": None when
    # the provider has no accounts (ours has none: the node signs its own transactions).
    def handler(tester: EthereumTester, params: Any) -> Any:
        if params and isinstance(params[0], dict) and params[0].get("from") is None:
            params = [{**params[0], "from": to_checksum_address(_ZERO_ADDRESS)}, *params[1:]]
        return delegate(tester, params)

    return handler


def endpoints_for_chain(chain_id: int) -> dict[str, dict[str, Any]]:
    endpoints = {namespace: dict(methods) for namespace, methods in API_ENDPOINTS.items()}
    endpoints["eth"]["chainId"] = lambda _tester, _params: chain_id
    endpoints["eth"]["call"] = _with_default_from(API_ENDPOINTS["eth"]["call"])
    endpoints["eth"]["estimateGas"] = _with_default_from(API_ENDPOINTS["eth"]["estimateGas"])
    endpoints["net"]["version"] = lambda _tester, _params: str(chain_id)
    return endpoints
