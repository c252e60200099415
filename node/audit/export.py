"""The member's side: write an audit bundle (node/audit/bundle.py) of every leaf this node
anchored, batch by batch, straight from its store.

One batch at a time is in memory (its rows and its Merkle tree, for the proofs), never the
whole log. A record is written in its committed form (subject key, never the identifier) with
its salt; a record whose data key was destroyed (erased) is written as its commitment alone.
The status written is the one this node last marked on chain: the auditor compares it with
the chain's.
"""

from __future__ import annotations

import contextlib
import io
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from queue import Full, Queue
from typing import IO, Any

import orjson
from eth_account.signers.local import LocalAccount
from sqlalchemy.engine import Engine

from node.audit.bundle import BundleWriter
from node.audit.errors import ExportFailed
from node.crypto.merkle import inclusion_proof, root_from_levels, tree_levels
from node.db import read_snapshot
from node.records.intake import RecordKeys

_BATCHES = (
    "SELECT id, chain_batch_id, root, size, first_leaf, last_leaf, block_number, anchored_at "
    "FROM batch WHERE state = 'confirmed' ORDER BY id"
)
_LEAVES = (
    "SELECT l.id, l.kind, l.commitment, l.created_at, r.wrapped_key, r.ciphertext, "
    "q.salt, q.entry FROM leaf l LEFT JOIN record r ON r.leaf_id = l.id "
    "LEFT JOIN query_log q ON q.leaf_id = l.id WHERE l.id BETWEEN ? AND ? ORDER BY l.id"
)
_STATUSES = (
    "SELECT leaf_id, status FROM status_change WHERE state = 'done' "
    "AND leaf_id BETWEEN ? AND ? ORDER BY id"
)


@dataclass
class Exported:
    batches: int
    leaves: int
    erased: int
    sha256: str


def _hex(b: bytes) -> str:
    return "0x" + bytes(b).hex()


def _header(batches: Sequence[Any], chain_id: int, registry: str,
            withheld: bool) -> dict[str, Any]:  # fmt: skip
    last = batches[-1] if batches else None
    return {
        "chain_id": chain_id,
        "registry": registry,
        "as_of_block": last.block_number if last else None,
        "created_at": int(time.time()),
        "batches": len(batches),
        "leaves": sum(b.size for b in batches),
        "withheld": ["record"] if withheld else [],
    }


def _lines(
    conn: Any, keys: RecordKeys, batch: Any, withhold_records: bool
) -> Iterator[dict[str, Any]]:
    rows = conn.exec_driver_sql(_LEAVES, (batch.first_leaf, batch.last_leaf)).all()
    statuses = dict(conn.exec_driver_sql(_STATUSES, (batch.first_leaf, batch.last_leaf)).all())
    if len(rows) != batch.size:
        raise ExportFailed(detail=f"batch {batch.chain_batch_id}: the store holds {len(rows)} "
                           f"of its {batch.size} leaves")  # fmt: skip
    levels = tree_levels([bytes(r.commitment) for r in rows])
    if root_from_levels(levels) != bytes(batch.root):
        raise ExportFailed(detail=f"batch {batch.chain_batch_id}: the stored leaves do not hash "
                           "to its root")  # fmt: skip
    for index, row in enumerate(rows):
        line: dict[str, Any] = {"batch": batch.chain_batch_id, "leaf": index, "kind": row.kind}
        commitment = bytes(row.commitment)
        if row.kind == "record" and withhold_records:
            line["withheld"] = True
        elif row.kind == "record" and row.wrapped_key is not None and row.ciphertext is not None:
            sealed = orjson.loads(keys.sealer.open(row.wrapped_key, row.ciphertext, commitment))
            line["record"] = orjson.loads(sealed["c"])  # the committed form: no identity
            line["salt"] = "0x" + sealed["s"]
        elif row.kind == "query" and row.entry is not None:
            line["entry"] = orjson.loads(row.entry)
            line["salt"] = _hex(row.salt)
        else:
            line["erased"] = True
        line["commitment"] = _hex(commitment)
        line["status"] = statuses.get(row.id, "active")
        line["proof"] = _hex(b"".join(inclusion_proof(levels, index)))
        yield line


def export_bundle(
    *,
    engine: Engine,
    keys: RecordKeys,
    account: LocalAccount,
    chain_id: int,
    registry: str,
    out: IO[bytes],
    progress: Callable[[int, int], None] | None = None,
    queries_only: bool = False,
) -> Exported:
    """Write the bundle of every leaf in a confirmed batch to `out`, signed with the member
    key; `progress(leaves written, leaves in all)` after each batch. `queries_only`: the
    query log for a cross-check, each record withheld (its commitment alone, still proven
    leaf by leaf, so the log is shown complete without a record's content)."""
    with read_snapshot(engine) as conn:  # one consistent view of the log, however long
        batches = conn.exec_driver_sql(_BATCHES).all()
        writer = BundleWriter(out, account, _header(batches, chain_id, registry,
                                                       queries_only))  # fmt: skip
        total = sum(b.size for b in batches)
        written = erased = 0
        for batch in batches:
            for line in _lines(conn, keys, batch, queries_only):
                erased += "erased" in line
                writer.write(line)
            written += batch.size
            if progress:
                progress(written, total)
    return Exported(len(batches), written, erased, writer.close())


class _Pipe(io.RawIOBase):
    """A writable stream handing 64 KiB chunks to a queue; it raises once the reader is gone."""

    def __init__(self, chunks: Queue[Any], gone: threading.Event) -> None:
        self.chunks, self.gone, self.buf = chunks, gone, bytearray()

    def writable(self) -> bool:
        return True

    def write(self, b: Any) -> int:
        self.buf += b
        if len(self.buf) >= 1 << 16:
            self.flush()
        return len(b)

    def flush(self) -> None:
        if self.buf:
            self.put(bytes(self.buf))
            self.buf.clear()

    def put(self, item: Any) -> None:
        while not self.gone.is_set():
            try:
                self.chunks.put(item, timeout=0.5)
                return
            except Full:
                continue
        raise ExportFailed(detail="the reader of the export went away")


def bundle_chunks(**kw: Any) -> Iterator[bytes]:
    """The bundle as chunks of bytes for an HTTP answer (export_bundle's arguments but `out`),
    written by a thread as they are read: the answer starts at once, whatever the size."""
    chunks: Queue[Any] = Queue(maxsize=16)
    gone = threading.Event()
    pipe = _Pipe(chunks, gone)

    def run() -> None:
        try:
            export_bundle(out=pipe, **kw)  # type: ignore[arg-type]
            pipe.flush()
            pipe.put(None)
        except Exception as err:  # handed to the reader, who raises it (if still there)
            with contextlib.suppress(ExportFailed):
                pipe.put(err)

    threading.Thread(target=run, name="audit-export", daemon=True).start()
    try:
        while (chunk := chunks.get()) is not None:
            if isinstance(chunk, BaseException):
                raise chunk
            yield chunk
    finally:
        gone.set()
