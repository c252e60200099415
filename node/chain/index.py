"""The node's local index of every event of every project contract, for reads without a
chain round trip.

A follower thread reads the chain in bounded block ranges, `confirmations` blocks behind its
head, and writes a range's events together with "indexed up to block N, hash H" in one
transaction: a crash at any moment leaves the index at the end of a whole range, and the
next start goes on from there. Each write first checks that the index still stands where
the range began, so two writers (the node and `creditchain index rebuild`) never interleave.
When the chain's hash of the last indexed block changes (a reorg), the follower walks back
through the hashes it kept to the common ancestor, drops the events above it and reads on:
a dropped event leaves the index, a re-included one comes back with its new block.

Projections (register_projection) are tables a domain derives from the events for its hot
reads: each is called inside the index's own write transaction, after every committed range
and after every unwind or rewind, so it always stands exactly where the index stands.
"""

import logging
import threading
import time
from collections.abc import Callable
from typing import Any, NamedTuple, Protocol

from sqlalchemy.engine import Connection, Engine

from node.chain.client import ChainError
from node.chain.events import COLUMNS, ChainMoved, ChainReader, Event, EventDecoder, event_from_row
from node.chain.loop import ChainLoop
from node.chain.setup import Chain
from node.db import driver_rows, read_connection, read_snapshot, write_transaction

log = logging.getLogger("creditchain.index")

KEEP_HASHES = 1024  # blocks back whose hashes are kept to find where a reorg forked
POLL_SECONDS = 0.2
REMEMBERED_READS = 4096  # reads about one thing kept per index (see EventIndex._read)
_INSERT_EVENT = f"INSERT INTO chain_event ({COLUMNS}) VALUES ({', '.join(['?'] * 12)})"
_UPSERT_BLOCK = (
    "INSERT INTO chain_block (number, hash) VALUES (?, ?) "
    "ON CONFLICT (number) DO UPDATE SET hash = excluded.hash"
)


class Snapshot(NamedTuple):
    """Events as the index held them at one moment, and the block it had reached then."""

    as_of_block: int | None
    events: list[Event]


class Tip(NamedTuple):
    """The block the index stands at after a write: its number and timestamp (None: before
    block 0, the index is empty)."""

    number: int | None
    time: int | None


class Projection(Protocol):
    """A table derived from indexed events, kept in step inside the index's transactions."""

    def apply(self, conn: Connection, events: list[Event], tip: Tip) -> None:
        """`events` (in chain order, already in chain_event) were committed up to `tip`."""

    def unwind(self, conn: Connection, tip: Tip) -> None:
        """Every event above `tip` was dropped from chain_event (a reorg or a rewind)."""


_PROJECTIONS: list[Projection] = []


def register_projection(projection: Projection) -> None:
    """Have every index keep `projection` in step from now on (once per projection)."""
    if projection not in _PROJECTIONS:
        _PROJECTIONS.append(projection)


class EventIndex(ChainLoop):
    what = "indexing"

    def __init__(
        self,
        *,
        engine: Engine,
        reader: ChainReader,
        confirmations: int = 0,
        blocks_per_query: int = 2000,
        poll: float = POLL_SECONDS,
        projections: list[Projection] | None = None,
    ) -> None:
        super().__init__(log)
        self.engine = engine
        self.reader = reader
        self.confirmations = confirmations
        self.blocks_per_query = blocks_per_query
        self.idle = poll
        self._step_lock = threading.Lock()
        self._projections = _PROJECTIONS if projections is None else projections
        self._remembered: dict[Any, tuple[tuple[int, str] | None, Snapshot]] = {}
        self.head: int | None = None  # the chain's head as the last step saw it (for metrics)

    @classmethod
    def for_chain(cls, chain: Chain, *, engine: Engine, confirmations: int = 0) -> "EventIndex":
        """The index of every contract in the chain's address book, by its name."""
        reader = ChainReader(
            chain.client.w3, EventDecoder(chain.addresses, chain.abis), chain.client.lock
        )
        # eth-tester reads every block of a range under the lock the API's writes wait on
        per_query = 100 if chain.kind == "embedded" else 2000
        return cls(
            engine=engine, reader=reader, confirmations=confirmations, blocks_per_query=per_query
        )

    # -- running ---------------------------------------------------------------------------

    def start(self, first_sync: float = 30) -> None:
        """Catch up (for at most `first_sync` seconds) before the node serves, then follow."""
        try:
            self.catch_up(timeout=first_sync)
        except Exception as err:  # the chain is away: the thread keeps trying
            self.note_error(err)
        self.start_thread("event-index")

    def catch_up(
        self, timeout: float = 60, progress: Callable[[int | None], None] | None = None
    ) -> bool:
        """Index in this thread until level with the chain (less the confirmations); True
        if it got there within `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while self.step():
            if progress:
                progress(self.indexed_block())
            if time.monotonic() > deadline:
                return False
        return True

    # -- following -------------------------------------------------------------------------

    def step(self) -> bool:
        """Undo a reorg or index one range; True if the index moved (or must look again)."""
        with self._step_lock:
            cursor = self._cursor()
            if cursor is not None and self.reader.block_hash(cursor[0]) != cursor[1]:
                self._unwind(cursor)
                return True
            start = cursor[0] + 1 if cursor else 0
            self.head = self.reader.head()
            end = min(self.head - self.confirmations, start + self.blocks_per_query - 1)
            if end < start:
                return False
            try:
                events, end_hash = self.reader.fetch(start, end)
                end_time = self._time_of(end, end_hash)
            except ChainMoved as err:
                log.info("%s; reading the range again", err)
                return True
            self._commit(cursor, events, end, end_hash, end_time)
            return True

    def _cursor(self, conn: Connection | None = None) -> tuple[int, str] | None:
        sql = "SELECT number, hash FROM chain_block ORDER BY number DESC LIMIT 1"
        if conn is not None:
            rows = driver_rows(conn, sql)
        else:
            with read_connection(self.engine) as c:
                rows = driver_rows(c, sql)
        return (rows[0][0], rows[0][1]) if rows else None

    def _time_of(self, number: int, block_hash: str | None) -> int | None:
        """The timestamp of block `number`, if the chain still holds it with `block_hash`
        (projections need it; raises ChainMoved if the block changed)."""
        if self._projections == [] or number < 0:
            return None
        found = self.reader.block(number)
        if found is None or found[0] != block_hash:
            raise ChainMoved(number)
        return found[1]

    def _project(self, conn: Connection, events: list[Event] | None, tip: Tip) -> None:
        for projection in self._projections:
            if events is None:
                projection.unwind(conn, tip)
            else:
                projection.apply(conn, events, tip)

    def _commit(
        self,
        cursor: tuple[int, str] | None,
        events: list[Event],
        end: int,
        end_hash: str,
        end_time: int | None = None,
    ) -> None:
        blocks = {e.block_number: e.block_hash for e in events}
        blocks[end] = end_hash
        with write_transaction(self.engine) as conn:
            if self._cursor(conn) != cursor:
                return  # another writer moved the index meanwhile: read from where it is
            if events:
                conn.exec_driver_sql(_INSERT_EVENT, [e.row() for e in events])
            conn.exec_driver_sql(_UPSERT_BLOCK, list(blocks.items()))
            conn.exec_driver_sql("DELETE FROM chain_block WHERE number < ?", (end - KEEP_HASHES,))
            self._project(conn, events, Tip(end, end_time))

    def _unwind(self, cursor: tuple[int, str]) -> None:
        """The chain no longer holds the last indexed block: back to the newest block whose
        hash still matches, dropping every event above it."""
        with read_connection(self.engine) as conn:
            kept = conn.exec_driver_sql(
                "SELECT number, hash FROM chain_block ORDER BY number DESC"
            ).all()
        ancestor = next((n for n, h in kept if self.reader.block_hash(n) == h), -1)
        try:
            ancestor_time = self._time_of(ancestor, {n: h for n, h in kept}.get(ancestor))
        except ChainMoved:
            return  # the chain moved again: the next step looks afresh
        with write_transaction(self.engine) as conn:
            if self._cursor(conn) != cursor:
                return
            dropped = conn.exec_driver_sql(
                "DELETE FROM chain_event WHERE block_number > ?", (ancestor,)
            ).rowcount
            conn.exec_driver_sql("DELETE FROM chain_block WHERE number > ?", (ancestor,))
            self._project(conn, None, Tip(ancestor if ancestor >= 0 else None, ancestor_time))
        log.warning(
            "chain reorganised under indexed block %d: %d event(s) above block %d dropped, "
            "reading on from there",
            cursor[0], dropped, ancestor,
        )  # fmt: skip

    def rewind(self, from_block: int) -> int:
        """Forget the events of block `from_block` on, so they are read again; the block
        the index now stands before (never past what it had read)."""
        with self._step_lock:
            cursor = self._cursor()
            from_block = max(0, min(from_block, cursor[0] + 1 if cursor else 0))
            below = self.reader.block_hash(from_block - 1) if from_block > 0 else None
            if from_block > 0 and below is None:
                raise ChainError(f"block {from_block - 1} is not on the chain")
            below_time = self._time_of(from_block - 1, below)
            with write_transaction(self.engine) as conn:
                conn.exec_driver_sql(
                    "DELETE FROM chain_event WHERE block_number >= ?", (from_block,)
                )
                conn.exec_driver_sql("DELETE FROM chain_block WHERE number >= ?", (from_block,))
                if below is not None:
                    conn.exec_driver_sql(_UPSERT_BLOCK, (from_block - 1, below))
                tip = Tip(from_block - 1, below_time) if from_block > 0 else Tip(None, None)
                self._project(conn, None, tip)
            return from_block

    # -- reading ---------------------------------------------------------------------------

    def indexed_block(self, conn: Connection | None = None) -> int | None:
        """The block the index has read up to; None before the first."""
        cursor = self._cursor(conn)
        return cursor[0] if cursor else None

    def status(self) -> dict[str, Any]:
        """Where the chain's head is, where the index is, and how far behind (asks the chain)."""
        head = self.reader.head()
        indexed = self.indexed_block()
        return {
            "head": head,
            "indexed_block": indexed,
            "lag": head - (-1 if indexed is None else indexed),
            "confirmations": self.confirmations,
        }

    def read(
        self,
        contract: str,
        *events: str,
        where: dict[str, Any] | None = None,
        conn: Connection | None = None,
    ) -> Snapshot:
        """Events of `contract` (only `events`, if named; only those whose indexed arguments
        equal `where`, if given), in chain order, and the block the index stood at: both
        from one read transaction, so they agree (the caller's, on its `conn`, if given)."""
        key: Any = (contract, events, tuple(sorted(where.items()))) if where else None
        if conn is None:
            with read_snapshot(self.engine) as own:
                return self._read(own, contract, events, where, key)
        return self._read(conn, contract, events, where, key)

    def _read(
        self,
        conn: Connection,
        contract: str,
        events: tuple[str, ...],
        where: dict[str, Any] | None,
        key: Any,
    ) -> Snapshot:
        """A read about one thing (`where` given: a member, a subject) is remembered while the
        index stands at the same block and hash: what the index holds up to a block of one
        chain never changes, so the node asked on every request reads it once per block.
        The remembered snapshot is shared: its readers do not change it."""
        cursor = self._cursor(conn)
        if key is not None:
            kept = self._remembered.get(key)
            if kept is not None and kept[0] == cursor:
                return kept[1]
        clauses, params = [], [contract]
        for name in events:
            topics = self.reader.decoder.topic_filter(contract, name, where or {})
            clauses.append(" AND ".join(["event = ?"] + [f"topic{n} = ?" for n in topics]))
            params += [name, *topics.values()]
        sql = f"SELECT {COLUMNS} FROM chain_event WHERE contract = ?"
        if clauses:
            sql += " AND (" + " OR ".join(f"({c})" for c in clauses) + ")"
        rows = conn.exec_driver_sql(sql + " ORDER BY block_number, log_index", tuple(params)).all()
        snap = Snapshot(cursor[0] if cursor else None, [event_from_row(r) for r in rows])
        if key is not None:
            if len(self._remembered) >= REMEMBERED_READS:
                self._remembered.clear()
            self._remembered[key] = (cursor, snap)
        return snap

    def rows(self) -> list[tuple[Any, ...]]:
        """Every indexed event as stored, in chain order (to compare two indexes)."""
        with read_connection(self.engine) as conn:
            return [
                tuple(r)
                for r in conn.exec_driver_sql(
                    f"SELECT {COLUMNS} FROM chain_event ORDER BY block_number, log_index"
                ).all()
            ]
