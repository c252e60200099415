"""The query log: every query this node makes or answers, anchored as a leaf of kind "query".

A query answered is logged before its answer leaves the node. Writing one SQLite transaction
per query caps a node at a few hundred queries a second (each commit waits for the disk), so
entries are group-committed: a writer thread takes every entry waiting, and those that come
within a few milliseconds of the first, writes them and their leaves in one transaction, then
wakes their callers. A node killed outright loses no query it
answered: the answer waits for its commit.
"""

import queue
import threading
import time
import weakref
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy.engine import Engine

from node.anchoring.service import append_leaves, receipt_anchor, receipt_fields
from node.crypto.canonical import canonical_json
from node.crypto.commitments import commitment, new_salt, to_hex
from node.db import read_connection, write_transaction

SIDES = ("requester", "holder")
_INSERT = (
    "INSERT INTO query_log (query_id, side, subject_key, consent_id, purpose, requester, "
    "holder, at, salt, entry, leaf_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


@dataclass(frozen=True)
class QueryEntry:
    """What a query log leaf commits to: the consent (its hash), purpose, both members and
    the time; the subject key ties it to the borrower's trail."""

    query_id: str
    side: str
    subject_key: str
    consent_id: str
    purpose: str
    requester: str
    holder: str
    at: int

    def committed(self) -> dict[str, Any]:
        return {"kind": "query", **self.__dict__}


@dataclass
class _Pending:
    entry: QueryEntry
    done: "Future[int]"


class QueryLog:
    """Group commit of query log entries; `log` returns a future of the entry's leaf id.

    The writer thread starts with the first entry and ends after `idle` seconds without one;
    the log holds its store weakly, so a store closed and dropped takes its log with it."""

    def __init__(
        self, engine: Engine, max_batch: int = 512, idle: float = 5.0, linger: float = 0.005
    ) -> None:
        self._engine = weakref.ref(engine)
        self.max_batch, self.idle, self.linger = max_batch, idle, linger
        self._queue: queue.Queue[_Pending] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def log(self, entry: QueryEntry) -> "Future[int]":
        if entry.side not in SIDES:
            raise ValueError(f"side must be one of {SIDES}")
        pending = _Pending(entry, Future())
        with self._lock:  # the writer cannot decide to stop between these two
            self._queue.put(pending)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="query-log", daemon=True)
                self._thread.start()
        return pending.done

    def log_now(self, entry: QueryEntry, timeout: float = 30) -> int:
        """Log and wait for the commit; the leaf id."""
        return self.log(entry).result(timeout)

    def _take(self) -> list[_Pending] | None:
        """The entries waiting (at least one) and those that come within `linger` seconds of
        the first, or None once idle: the thread then ends. Answering a query takes about a
        millisecond of the node's time and a commit about half that, so without the wait
        most commits would hold one or two entries."""
        try:
            batch = [self._queue.get(timeout=self.idle)]
        except queue.Empty:
            with self._lock:
                if self._queue.empty():
                    self._thread = None
                    return None
            return []
        until = time.monotonic() + self.linger
        while len(batch) < self.max_batch:
            try:
                batch.append(self._queue.get(timeout=max(0.0, until - time.monotonic())))
            except queue.Empty:
                break
        return batch

    def _run(self) -> None:
        while (batch := self._take()) is not None:
            if not batch:
                continue
            try:
                engine = self._engine()
                if engine is None:
                    raise RuntimeError("the store of this query log is closed")
                leaves = write_entries(engine, [p.entry for p in batch])
            except Exception as err:  # each caller hears of it; the writer goes on
                for p in batch:
                    p.done.set_exception(err)
                continue
            for p, leaf in zip(batch, leaves, strict=True):
                p.done.set_result(leaf)


def write_entries(engine: Engine, entries: list[QueryEntry]) -> list[int]:
    """Write entries and their leaves in one transaction; their leaf ids, in order."""
    now = time.time()
    salts = [new_salt() for _ in entries]
    bodies = [canonical_json(e.committed()) for e in entries]
    commitments = [commitment(s, b) for s, b in zip(salts, bodies, strict=True)]
    with write_transaction(engine) as conn:
        first = append_leaves(conn, "query", commitments, now)
        conn.exec_driver_sql(
            _INSERT,
            [
                (e.query_id, e.side, e.subject_key, e.consent_id, e.purpose, e.requester,
                 e.holder, e.at, s, b, first + i)
                for i, (e, s, b) in enumerate(zip(entries, salts, bodies, strict=True))
            ],
        )  # fmt: skip
    return [first + i for i in range(len(entries))]


def entries_for_subject(engine: Engine, subject_key: str) -> list[dict[str, Any]]:
    """Every query about the subject this node logged, oldest first, with its leaf id."""
    with read_connection(engine) as conn:
        rows = conn.exec_driver_sql(
            "SELECT entry, salt, leaf_id FROM query_log WHERE subject_key = ? ORDER BY at, id",
            (subject_key,),
        ).all()
    return [{"entry": orjson.loads(r.entry), "salt": r.salt, "leaf_id": r.leaf_id} for r in rows]


def entries_between(
    engine: Engine, *, since: int, until: int, after: int = 0, limit: int = 1000
) -> list[dict[str, Any]]:
    """A page of this node's query log, both sides, logged at `since` <= at < `until`, in
    row order from the row after `after`; each with its row id, salt and leaf id."""
    with read_connection(engine) as conn:
        rows = conn.exec_driver_sql(
            "SELECT id, entry, salt, leaf_id FROM query_log WHERE id > ? AND at >= ? AND at < ? "
            "ORDER BY id LIMIT ?",
            (after, since, until, limit),
        ).all()
    return [
        {"id": r.id, "entry": orjson.loads(r.entry), "salt": bytes(r.salt), "leaf_id": r.leaf_id}
        for r in rows
    ]


def query_receipt(
    engine: Engine,
    *,
    entry: dict[str, Any],
    salt: bytes,
    leaf_id: int,
    chain_id: int,
    registry: str,
) -> dict[str, Any]:
    """A query entry's receipt, in the shape of a record's with `kind` and `entry` for the
    record: node/receipts/verify.py checks it against the chain alone. LeafPending until
    its batch is confirmed."""
    anchor = receipt_anchor(engine, leaf_id)
    return {
        "version": 1,
        "kind": "query",
        "entry": entry,
        "salt": to_hex(salt),
        **receipt_fields(anchor, chain_id=chain_id, registry=registry),
    }


__all__ = ["QueryEntry", "QueryLog", "entries_between", "entries_for_subject", "query_receipt"]
