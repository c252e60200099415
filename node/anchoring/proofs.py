"""Merkle trees of stored batches: hashed once when the batch is built, read by every proof.

A receipt needs the log2(n) sibling hashes of one leaf. Rebuilding a 20,000-leaf tree for
each receipt costs some 40,000 hashes, so the batcher stores the tree in the same transaction
as the batch row, and a proof reads the few chunks its hashes sit in (models.py: BatchTree).
Nothing is kept in memory between requests. A batch built before trees were stored, or whose
stored tree no longer leads to its root, gets its tree rebuilt from its commitments once.
"""

import itertools
import logging

from sqlalchemy.engine import Connection, Engine

from node.crypto.merkle import (
    HASH_BYTES,
    inclusion_proof,
    inclusion_proof_positions,
    root_from_levels,
    tree_levels,
    verify_inclusion,
)
from node.db import read_connection, write_transaction

log = logging.getLogger("creditchain.proofs")

CHUNK_HASHES = 120  # 3,840 bytes: a chunk row fits in one 4 KiB SQLite page
_CHUNK_BYTES = CHUNK_HASHES * HASH_BYTES


def store_tree(conn: Connection, batch_id: int, levels: list[list[bytes]]) -> None:
    """Write a batch's tree inside the caller's write transaction (the one adding the batch)."""
    flat = b"".join(itertools.chain.from_iterable(levels))
    conn.exec_driver_sql(
        "INSERT INTO batch_tree (batch_id, chunk, hashes) VALUES (?, ?, ?)",
        [
            (batch_id, chunk, flat[start : start + _CHUNK_BYTES])
            for chunk, start in enumerate(range(0, len(flat), _CHUNK_BYTES))
        ],
    )


def inclusion_path(
    engine: Engine, *, batch_id: int, size: int, index: int, entry: bytes, root: bytes
) -> list[bytes]:
    """The audit path of leaf `index` (commitment `entry`) of a stored batch with `root`.

    The path is checked against the root before it is handed out; when the stored tree is
    missing or wrong it is rebuilt from the batch's commitments (RuntimeError if those do not
    hash to the root either).
    """
    proof = _read_path(engine, batch_id, size, index)
    if proof is not None and verify_inclusion(entry, index, size, proof, root):
        return proof
    return inclusion_proof(_rebuild(engine, batch_id, root), index)


def _read_path(engine: Engine, batch_id: int, size: int, index: int) -> list[bytes] | None:
    """The path's hashes from the stored chunks; None if any of them is not there."""
    positions = inclusion_proof_positions(size, index)
    chunks = sorted({p // CHUNK_HASHES for p in positions})
    if not chunks:
        return []  # a one-leaf tree: the leaf is the root
    with read_connection(engine) as conn:
        stored: dict[int, bytes] = dict(
            conn.exec_driver_sql(
                "SELECT chunk, hashes FROM batch_tree WHERE batch_id = ? "
                f"AND chunk IN ({', '.join('?' * len(chunks))})",
                (batch_id, *chunks),
            ).all()
        )
    proof = []
    for p in positions:
        start = (p % CHUNK_HASHES) * HASH_BYTES
        found = stored.get(p // CHUNK_HASHES, b"")[start : start + HASH_BYTES]
        if len(found) != HASH_BYTES:
            return None
        proof.append(found)
    return proof


def levels_from_commitments(engine: Engine, batch_id: int, root: bytes) -> list[list[bytes]]:
    """Hash the batch's whole tree from its commitments and check it against the root."""
    with read_connection(engine) as conn:
        commitments = list(
            conn.exec_driver_sql(
                "SELECT l.commitment FROM batch b JOIN leaf l "
                "ON l.id BETWEEN b.first_leaf AND b.last_leaf WHERE b.id = ? ORDER BY l.id",
                (batch_id,),
            ).scalars()
        )
    levels = tree_levels(commitments)
    if root_from_levels(levels) != root:
        raise RuntimeError(f"stored batch {batch_id} does not hash to its root")
    return levels


def _rebuild(engine: Engine, batch_id: int, root: bytes) -> list[list[bytes]]:
    """Hash the batch's tree from its commitments, check it against the root, store it."""
    levels = levels_from_commitments(engine, batch_id, root)
    with write_transaction(engine) as conn:
        conn.exec_driver_sql("DELETE FROM batch_tree WHERE batch_id = ?", (batch_id,))
        store_tree(conn, batch_id, levels)
    log.info("batch %d: Merkle tree rebuilt from its commitments and stored", batch_id)
    return levels
