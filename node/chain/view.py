"""A read-only view of the embedded chain, opened by another process than the node's (the
/rpc call sandbox, node/chain_api/sandbox.py) on the same SQLite file."""

from __future__ import annotations

import contextlib
import pathlib
from collections.abc import Iterator

from eth_tester import EthereumTester
from web3 import Web3
from web3.providers.eth_tester import EthereumTesterProvider

from node.chain.evm_backend import (
    DEFAULT_CHAIN_ID,
    PersistentPyEVMBackend,
    endpoints_for_chain,
    make_chain_class,
)
from node.chain.kvstore import SQLiteAtomicDB


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
        self.w3 = Web3(EthereumTesterProvider(tester, api_endpoints=endpoints_for_chain(chain_id)))

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
