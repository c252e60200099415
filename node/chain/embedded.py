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
  state per use (for calls from strangers, see node/chain_api/sandbox.py).
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

Where the parts are
-------------------
* node/chain/kvstore.py: :class:`SQLiteAtomicDB`, the key/value store.
* node/chain/evm_backend.py: the chain class and :class:`PersistentPyEVMBackend`.
* node/chain/view.py: :class:`ChainView`, read-only, for another process.
* here: opening (and locking) a data directory, and :class:`EmbeddedChain`.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import pathlib

from eth_tester import EthereumTester
from eth_tester.backends.pyevm.main import (
    get_default_genesis_params,
)
from eth_utils import to_canonical_address, to_checksum_address
from web3 import Web3
from web3.providers.eth_tester import EthereumTesterProvider

from node.chain.evm_backend import (
    DEFAULT_CHAIN_ID,
    PersistentPyEVMBackend,
    endpoints_for_chain,
    make_chain_class,
)
from node.chain.kvstore import SQLiteAtomicDB

__all__ = ["EmbeddedChain", "open_embedded_chain"]

logger = logging.getLogger(__name__)

FUNDED_BALANCE = 10**24  # wei (1,000,000 ether) per funded address
DB_FILENAME = "chain.sqlite3"
LOCK_FILENAME = "LOCK"
SCHEMA_VERSION = 1


class ChainDirLockedError(RuntimeError):
    """The chain data dir is already opened by another process / EmbeddedChain."""


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
            EthereumTesterProvider(self.tester, api_endpoints=endpoints_for_chain(chain_id))
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
