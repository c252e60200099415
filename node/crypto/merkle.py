"""Merkle trees and inclusion proofs of RFC 9162 §2.1 (Certificate Transparency v2).

One anchored batch is one tree over record commitments. The hashing is domain-separated
(0x00 for leaves, 0x01 for interior nodes) so a leaf can never pass for a node. Verification
follows RFC 9162 §2.1.3.2 step by step, so a stranger can check it against the RFC.

The tree is built bottom-up: each level hashes adjacent pairs and promotes a lone last node
unchanged. That gives the same root as the RFC's recursive definition, which splits n leaves
at the largest power of two below n (tests/test_merkle.py checks this on every size up to 70).
"""

from __future__ import annotations

import hashlib

__all__ = [
    "HASH_BYTES",
    "inclusion_proof",
    "inclusion_proof_positions",
    "leaf_hash",
    "level_sizes",
    "merkle_root",
    "node_hash",
    "root_from_inclusion_proof",
    "root_from_levels",
    "tree_levels",
    "verify_inclusion",
]

HASH_BYTES = 32

_sha256 = hashlib.sha256


def leaf_hash(entry: bytes) -> bytes:
    """RFC 9162 leaf hash: SHA-256(0x00 || entry); our entries are 32-byte commitments."""
    return _sha256(b"\x00" + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """RFC 9162 interior node hash: SHA-256(0x01 || left || right)."""
    return _sha256(b"\x01" + left + right).digest()


def tree_levels(entries: list[bytes]) -> list[list[bytes]]:
    """Return every level of the tree: leaf hashes first, the one-element root level last.

    Batches are never empty, so an empty list is a caller's bug and raises ValueError.
    """
    if not entries:
        raise ValueError("a Merkle tree needs at least one entry")
    sha256 = _sha256
    level = [sha256(b"\x00" + e).digest() for e in entries]
    levels = [level]
    while len(level) > 1:
        parents = [
            sha256(b"\x01" + a + b).digest() for a, b in zip(level[::2], level[1::2], strict=False)
        ]
        if len(level) & 1:
            parents.append(level[-1])  # a lone last node moves up unchanged
        levels.append(parents)
        level = parents
    return levels


def root_from_levels(levels: list[list[bytes]]) -> bytes:
    """Return the root (tree head) of levels built by `tree_levels`."""
    if not levels or len(levels[-1]) != 1:
        raise ValueError("not a complete set of tree levels")
    return levels[-1][0]


def merkle_root(entries: list[bytes]) -> bytes:
    """Return the RFC 9162 Merkle tree hash of a non-empty list of entries."""
    return root_from_levels(tree_levels(entries))


def inclusion_proof(levels: list[list[bytes]], index: int) -> list[bytes]:
    """Return the audit path of leaf `index`: sibling hashes from the leaf up (RFC 9162 PATH).

    A level where the node has no sibling (it is promoted) contributes nothing.
    """
    if not levels or not 0 <= index < len(levels[0]):
        raise ValueError("leaf index is outside the tree")
    proof = []
    for level in levels[:-1]:
        sibling = index ^ 1
        if sibling < len(level):
            proof.append(level[sibling])
        index >>= 1
    return proof


def level_sizes(size: int) -> list[int]:
    """How many hashes each level of `tree_levels` holds for `size` leaves, leaves first:
    level k has ceil(size / 2**k), down to the one-hash root level."""
    if size < 1:
        raise ValueError("a Merkle tree needs at least one entry")
    sizes = [size]
    while size > 1:
        size = (size + 1) // 2
        sizes.append(size)
    return sizes


def inclusion_proof_positions(size: int, index: int) -> list[int]:
    """Where the audit path of leaf `index` sits when the levels are laid end to end, leaves
    first (the flat layout a batch's tree is stored in): hash positions, times HASH_BYTES
    for byte offsets. The root is the last position. Same path as `inclusion_proof`."""
    if not 0 <= index < size:
        raise ValueError("leaf index is outside the tree")
    positions = []
    start = 0
    for count in level_sizes(size)[:-1]:
        sibling = index ^ 1
        if sibling < count:
            positions.append(start + sibling)
        start += count
        index >>= 1
    return positions


def root_from_inclusion_proof(index: int, size: int, leaf: bytes, proof: list[bytes]) -> bytes:
    """Walk an audit path from the leaf hash `leaf` to the root it implies (RFC 9162 §2.1.3.2).

    Raises ValueError when the proof cannot belong to a tree of `size` leaves: an index
    outside the tree, a proof too long or too short, a hash that is not 32 bytes.
    """
    if not 0 <= index < size:
        raise ValueError("leaf index must be below the tree size")
    if len(leaf) != HASH_BYTES:
        raise ValueError("leaf hash must be 32 bytes")
    fn, sn = index, size - 1
    r = leaf
    sha256 = _sha256  # node_hash, inlined: an audit walks millions of these paths
    for p in proof:
        if len(p) != HASH_BYTES:
            raise ValueError("proof hashes must be 32 bytes")
        if sn == 0:
            raise ValueError("proof is longer than the path to the root")
        if fn & 1 or fn == sn:
            r = sha256(b"\x01" + p + r).digest()
            if not fn & 1:
                # A last node without a right sibling: climb to where it becomes a right child.
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = sha256(b"\x01" + r + p).digest()
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ValueError("proof is shorter than the path to the root")
    return r


def verify_inclusion(entry: bytes, index: int, size: int, proof: list[bytes], root: bytes) -> bool:
    """Say whether `entry` (a commitment) is leaf `index` of the tree of `size` with `root`."""
    try:
        return root_from_inclusion_proof(index, size, leaf_hash(entry), proof) == root
    except ValueError:
        return False
