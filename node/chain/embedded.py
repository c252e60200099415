"""Embedded, persistent, in-process Ethereum chain (eth-tester on py-evm over SQLite).

``open_embedded_chain(data_dir, funded=[...])`` returns an :class:`EmbeddedChain` whose
``w3`` is a :class:`web3.Web3` over :class:`EthereumTesterProvider`.  Every accepted
transaction is mined into its own block immediately (eth-tester auto-mining), and the
block is committed to ``data_dir/chain.sqlite3`` before ``send_raw_transaction`` returns.

How persistence works
---------------------
* :class:`SQLiteAtomicDB` is a py-evm ``BaseAtomicDB`` (the key/value store under
  ``ChainDB``/``HeaderDB``/``AccountDB``).  All writes -- plain ``db[k] = v`` as well as
  py-evm's ``atomic_batch()`` commits -- go into an in-memory write buffer that reads see
  immediately; :meth:`SQLiteAtomicDB.flush` writes the whole buffer in ONE SQLite
  transaction (WAL journal).  A SIGKILL before that COMMIT loses the buffer; SQLite's
  WAL rolls back any half-written transaction, so the database always holds the state
  as of the last completed flush.
* :class:`PersistentPyEVMBackend` (a ``PyEVMBackend`` subclass) flushes at the end of
  every ``mine_blocks`` call, i.e. once per mined block: the state-trie nodes written
  while applying the transaction, the tx/receipt tries, the header, the canonical head
  pointer and the tx-hash index all land in the same SQLite transaction.  (Even without
  the buffer py-evm writes content-addressed data first and moves the head pointer last,
  so any flush point between its atomic batches is consistent; the buffer just makes a
  whole block the unit.)
* On re-open, instead of ``setup_tester_chain`` (which always runs genesis over a fresh
  ``get_db_backend()`` database) the backend builds the chain class directly over the
  existing database: ``MiningChain(db)`` derives its pending header from the persisted
  canonical head, so the next block has ``number = head + 1`` and ``parent_hash = head
  hash``.  eth-tester keeps nothing else that matters outside the chain DB (filters and
  snapshots are in-memory and do not survive a restart; there are no tester accounts).

Notes / caveats
---------------
* On re-open the persisted genesis wins: ``funded`` (and the genesis timestamp) are
  only used when the database has no chain yet.  A different ``chain_id`` on re-open is
  an error (transactions are signed for one chain id).
* The fork schedule is fixed to Prague from genesis (eth-tester's default); py-evm
  upgrades that change fork rules would need a migration.
* Only one process (and one ``EmbeddedChain``) may open a data dir at a time (an
  ``flock`` on ``data_dir/LOCK``).  Callers must serialise access (one thread at a time);
  the SQLite connection itself may be used from different threads.  A :class:`ChainView`
  in another process reads the same file read-only, without that lock, one committed
  state per use (for calls from strangers, see node/chain/sandbox.py).
* With ``synchronous="FULL"`` (default) a returned transaction is durable even on power
  loss; ``"NORMAL"`` is still safe against process crashes (and never corrupts), but a
  power loss may drop the last few blocks.
* Raw transactions must be signed for ``chain_id`` (unprotected pre-EIP-155 legacy
  transactions are refused); ``eth_chainId``/``net_version`` report ``chain_id``.
  ``eth_accounts`` is empty: sign locally and use ``send_raw_transaction``.
* ``eth_call``/``eth_estimateGas`` without ``from`` or fee fields run at gas price 0.

Usage (web3 v8)::

    chain = open_embedded_chain(data_dir, funded=[acct.address])
    signed = acct.sign_transaction({..., "chainId": chain.chain_id})
    tx_hash = chain.w3.eth.send_raw_transaction(signed.raw_transaction)
    receipt = chain.w3.eth.wait_for_transaction_receipt(tx_hash)  # already mined
    chain.close()
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import pathlib
import sqlite3
from collections.abc import Iterator
from typing import Any

from eth.abc import AtomicWriteBatchAPI
from eth.chains.base import MiningChain
from eth.constants import BLANK_ROOT_HASH
from eth.db.atomic import AtomicDBWriteBatch
from eth.db.backends.base import BaseAtomicDB
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
from eth_utils import encode_hex, to_canonical_address, to_checksum_address
from eth_utils.toolz import assoc
from lru import LRU
from web3 import Web3
from web3.providers.eth_tester import EthereumTesterProvider
from web3.providers.eth_tester.defaults import API_ENDPOINTS

logger = logging.getLogger(__name__)

DEFAULT_CHAIN_ID = 1337
FUNDED_BALANCE = 10**24  # wei (1,000,000 ether) per funded address
DB_FILENAME = "chain.sqlite3"
LOCK_FILENAME = "LOCK"
SCHEMA_VERSION = 1
_FEE_FIELDS = ("gas_price", "max_fee_per_gas", "max_priority_fee_per_gas")
_ZERO_ADDRESS = b"\x00" * 20


class ChainDirLockedError(RuntimeError):
    """The chain data dir is already opened by another process / EmbeddedChain."""


# --------------------------------------------------------------------------------------
# Key/value store
# --------------------------------------------------------------------------------------


class SQLiteAtomicDB(BaseAtomicDB):
    """py-evm key/value database over one SQLite file (WAL), with a write buffer.

    Reads see buffered writes.  Nothing reaches the file until :meth:`flush`, which
    commits the whole buffer atomically.  Not thread-safe: callers serialise access.
    """

    def __init__(
        self,
        path: pathlib.Path,
        *,
        synchronous: str = "FULL",
        cache_size: int = 65536,
        read_only: bool = False,
    ) -> None:
        if synchronous.upper() not in ("FULL", "NORMAL", "EXTRA"):
            raise ValueError(f"unsupported synchronous mode: {synchronous!r}")
        self.path = pathlib.Path(path)
        self._pending: dict[bytes, bytes | None] = {}  # None = pending delete
        if read_only:
            # Another process writes the file: no cache (its values would go stale), and
            # reads go through snapshot().
            self._conn: sqlite3.Connection | None = sqlite3.connect(
                self.path.resolve().as_uri() + "?mode=ro",
                uri=True,
                isolation_level=None,
                check_same_thread=False,
            )
            self._cache: LRU | None = None
            return
        # isolation_level=None: we issue BEGIN/COMMIT ourselves.
        self._conn = sqlite3.connect(str(self.path), isolation_level=None, check_same_thread=False)
        mode = self._conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise RuntimeError(f"could not switch {self.path} to WAL mode (got {mode!r})")
        self._conn.execute(f"PRAGMA synchronous={synchronous.upper()}")
        self._conn.execute(
            "CREATE TABLE IF NOT EXISTS kv (k BLOB PRIMARY KEY, v BLOB NOT NULL) WITHOUT ROWID"
        )
        self._conn.execute("CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT NOT NULL)")
        # Cache of committed values (only this object writes the file, so it stays exact).
        self._cache = LRU(cache_size)

    # -- DatabaseAPI ---------------------------------------------------------------

    def _conn_or_raise(self) -> sqlite3.Connection:
        if self._conn is None:
            raise RuntimeError("the chain database is closed")
        return self._conn

    def _read_committed(self, key: bytes) -> bytes | None:
        if self._cache is not None and key in self._cache:
            return self._cache[key]
        row = self._conn_or_raise().execute("SELECT v FROM kv WHERE k = ?", (key,)).fetchone()
        if row is None:
            return None
        value = bytes(row[0])
        if self._cache is not None:
            self._cache[key] = value
        return value

    def __getitem__(self, key: bytes) -> bytes:
        if key in self._pending:
            value = self._pending[key]
        else:
            value = self._read_committed(key)
        if value is None:
            raise KeyError(key)
        return value

    def __setitem__(self, key: bytes, value: bytes) -> None:
        if not isinstance(key, bytes) or not isinstance(value, bytes):
            raise TypeError("keys and values must be bytes")
        self._pending[key] = value

    def __delitem__(self, key: bytes) -> None:
        if not self._exists(key):
            raise KeyError(key)
        self._pending[key] = None  # pending delete

    def _exists(self, key: bytes) -> bool:
        if key in self._pending:
            return self._pending[key] is not None
        return self._read_committed(key) is not None

    @contextlib.contextmanager
    def atomic_batch(self) -> Iterator[AtomicWriteBatchAPI]:
        # Same semantics as eth.db.atomic.AtomicDB: the batch is applied to this DB
        # (i.e. to the write buffer) only if the block exits without an exception.
        with AtomicDBWriteBatch._commit_unless_raises(self) as readable_batch:
            yield readable_batch

    # -- persistence -----------------------------------------------------------------

    @property
    def has_pending_writes(self) -> bool:
        return bool(self._pending)

    @contextlib.contextmanager
    def snapshot(self) -> Iterator[None]:
        """Reads inside see one committed state of the file, however many blocks its writer
        commits meanwhile (one SQLite read transaction; in WAL mode it never blocks the
        writer). Writes made inside are dropped at the end: for readers of a read-only DB."""
        conn = self._conn_or_raise()
        conn.execute("BEGIN")
        try:
            yield
        finally:
            self._pending.clear()
            conn.execute("ROLLBACK")

    def flush(self, meta: dict[str, str] | None = None) -> None:
        """Commit all buffered writes (and ``meta`` entries) in one SQLite transaction."""
        conn = self._conn_or_raise()
        if not self._pending and not meta:
            return
        if self._cache is None:
            raise RuntimeError("the chain database was opened read-only")
        upserts = [(k, v) for k, v in self._pending.items() if v is not None]
        deletes = [(k,) for k, v in self._pending.items() if v is None]
        conn.execute("BEGIN IMMEDIATE")
        try:
            if upserts:
                conn.executemany("INSERT OR REPLACE INTO kv (k, v) VALUES (?, ?)", upserts)
            if deletes:
                conn.executemany("DELETE FROM kv WHERE k = ?", deletes)
            if meta:
                conn.executemany(
                    "INSERT OR REPLACE INTO meta (k, v) VALUES (?, ?)", list(meta.items())
                )
            conn.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
            raise
        for k, v in self._pending.items():
            if v is None:
                self._cache.pop(k, None)
            else:
                self._cache[k] = v
        self._pending.clear()

    def get_meta(self, key: str) -> str | None:
        row = self._conn_or_raise().execute("SELECT v FROM meta WHERE k = ?", (key,)).fetchone()
        return None if row is None else row[0]

    def close(self, *, flush: bool = True) -> None:
        if self._conn is None:
            return
        try:
            if flush:
                self.flush()
        finally:
            self._pending.clear()
            if self._cache is not None:
                self._cache.clear()
            conn, self._conn = self._conn, None
            conn.close()


# --------------------------------------------------------------------------------------
# Chain class and eth-tester backend
# --------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------


def _with_default_from(delegate: Any) -> Any:
    # eth-tester requires "from" for eth_call/eth_estimateGas; web3 sends "from": None when
    # the provider has no accounts (ours has none: the node signs its own transactions).
    def handler(tester: EthereumTester, params: Any) -> Any:
        if params and isinstance(params[0], dict) and params[0].get("from") is None:
            params = [{**params[0], "from": to_checksum_address(_ZERO_ADDRESS)}, *params[1:]]
        return delegate(tester, params)

    return handler


def _endpoints_for_chain(chain_id: int) -> dict[str, dict[str, Any]]:
    endpoints = {namespace: dict(methods) for namespace, methods in API_ENDPOINTS.items()}
    endpoints["eth"]["chainId"] = lambda _tester, _params: chain_id
    endpoints["eth"]["call"] = _with_default_from(API_ENDPOINTS["eth"]["call"])
    endpoints["eth"]["estimateGas"] = _with_default_from(API_ENDPOINTS["eth"]["estimateGas"])
    endpoints["net"]["version"] = lambda _tester, _params: str(chain_id)
    return endpoints


class EmbeddedChain:
    """A persistent in-process chain.  ``w3`` auto-mines one block per transaction."""

    w3: Web3
    chain_id: int

    def __init__(
        self,
        *,
        data_dir: pathlib.Path,
        db: SQLiteAtomicDB,
        backend: PersistentPyEVMBackend,
        chain_id: int,
        lock_fd: int,
    ) -> None:
        self.data_dir = data_dir
        self.chain_id = chain_id
        self.backend = backend
        self.tester = EthereumTester(backend=backend, auto_mine_transactions=True)
        self.w3 = Web3(
            EthereumTesterProvider(self.tester, api_endpoints=_endpoints_for_chain(chain_id))
        )
        self._db = db
        self._lock_fd: int | None = lock_fd

    @property
    def created(self) -> bool:
        """True if this open created the genesis block."""
        return self.backend.created_genesis

    @property
    def genesis_hash(self) -> bytes:
        return bytes(self.backend.chain.get_canonical_block_hash(0))

    @property
    def closed(self) -> bool:
        return self._lock_fd is None

    def close(self) -> None:
        """Flush and close the database and release the data-dir lock (idempotent)."""
        if self._lock_fd is None:
            return
        try:
            self._db.close(flush=True)
        finally:
            fd, self._lock_fd = self._lock_fd, None
            with contextlib.suppress(OSError):
                fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def __enter__(self) -> EmbeddedChain:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class ChainView:
    """A read-only view of an embedded chain that another process (the node) writes: for
    strangers' calls, run apart from the node. It takes no data-dir lock and never writes;
    each use in :meth:`at_head` reads one committed state, at the head as it is then."""

    def __init__(self, db_path: pathlib.Path, *, gas_cap: int | None = None) -> None:
        self._db = SQLiteAtomicDB(db_path, read_only=True)
        chain_id = int(self._db.get_meta("chain_id") or DEFAULT_CHAIN_ID)
        self._chain_class = make_chain_class(chain_id)
        with self._db.snapshot():
            self.backend = PersistentPyEVMBackend(self._db, self._chain_class)
        self.backend.gas_cap = gas_cap
        tester = EthereumTester(backend=self.backend, auto_mine_transactions=False)
        self.w3 = Web3(EthereumTesterProvider(tester, api_endpoints=_endpoints_for_chain(chain_id)))

    @contextlib.contextmanager
    def at_head(self) -> Iterator[Web3]:
        with self._db.snapshot():
            self.backend.chain = self._chain_class(self._db)
            yield self.w3

    def close(self) -> None:
        self._db.close(flush=False)


def database_of(w3: Web3) -> pathlib.Path:
    """The SQLite file under an embedded chain's ``w3``, for a :class:`ChainView` elsewhere."""
    backend = w3.provider.ethereum_tester.backend
    if not isinstance(backend, PersistentPyEVMBackend):
        raise TypeError("not an embedded chain")
    return backend._db.path


def _lock_data_dir(data_dir: pathlib.Path) -> int:
    fd = os.open(data_dir / LOCK_FILENAME, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise ChainDirLockedError(f"chain data dir {data_dir} is already in use") from None
    return fd


def open_embedded_chain(
    data_dir: pathlib.Path,
    *,
    funded: list[str],
    chain_id: int = DEFAULT_CHAIN_ID,
    synchronous: str = "FULL",
) -> EmbeddedChain:
    """Open (or create) the persistent chain in ``data_dir``.

    First open: genesis gives every address in ``funded`` ``FUNDED_BALANCE`` wei.
    Re-open: continue from the persisted head; the existing genesis wins (``funded``
    is ignored, a mismatch is only logged).  A different ``chain_id`` raises ValueError.
    """
    data_dir = pathlib.Path(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    funded_addresses = sorted({to_checksum_address(a) for a in funded})

    lock_fd = _lock_data_dir(data_dir)
    db: SQLiteAtomicDB | None = None
    try:
        db = SQLiteAtomicDB(data_dir / DB_FILENAME, synchronous=synchronous)
        stored_chain_id = db.get_meta("chain_id")
        if stored_chain_id is not None and int(stored_chain_id) != chain_id:
            raise ValueError(f"chain in {data_dir} has chain id {stored_chain_id}, not {chain_id}")
        genesis_state = {
            to_canonical_address(address): {
                "balance": FUNDED_BALANCE,
                "nonce": 0,
                "code": b"",
                "storage": {},
            }
            for address in funded_addresses
        }
        genesis_meta = {
            "schema_version": str(SCHEMA_VERSION),
            "chain_id": str(chain_id),
            "funded": json.dumps(funded_addresses),
        }
        backend = PersistentPyEVMBackend(
            db,
            make_chain_class(chain_id),
            genesis_params=get_default_genesis_params(),
            genesis_state=genesis_state,
            genesis_meta=genesis_meta,
        )
        if not backend.created_genesis:
            stored_funded = db.get_meta("funded")
            if stored_funded is not None and json.loads(stored_funded) != funded_addresses:
                logger.warning(
                    "funded accounts differ from the persisted genesis in %s; "
                    "the existing genesis is kept",
                    data_dir,
                )
        return EmbeddedChain(
            data_dir=data_dir, db=db, backend=backend, chain_id=chain_id, lock_fd=lock_fd
        )
    except BaseException:
        if db is not None:
            db.close(flush=False)
        with contextlib.suppress(OSError):
            fcntl.flock(lock_fd, fcntl.LOCK_UN)
        os.close(lock_fd)
        raise
