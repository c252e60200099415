"""The embedded chain's key/value store: py-evm's database over one SQLite file (WAL), whose
write buffer is committed once per mined block, so that a killed node keeps every block it
answered for and never half of one. See node/chain/embedded.py for how the parts fit."""

from __future__ import annotations

import contextlib
import pathlib
import sqlite3
from collections.abc import Iterator

from eth.abc import AtomicWriteBatchAPI
from eth.db.atomic import AtomicDBWriteBatch
from eth.db.backends.base import BaseAtomicDB
from lru import LRU


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
