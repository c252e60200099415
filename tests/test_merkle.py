"""Merkle trees and inclusion proofs against RFC 9162 §2.1, its reference recursion, CT vectors."""

import pytest

from node.crypto.merkle import (
    HASH_BYTES,
    inclusion_proof,
    inclusion_proof_positions,
    leaf_hash,
    level_sizes,
    merkle_root,
    node_hash,
    root_from_inclusion_proof,
    root_from_levels,
    tree_levels,
    verify_inclusion,
)
from tests.conftest import _sha256, _split, ref_mth, ref_path

MAX_SIZE = 70


def ref_sides(m: int, n: int) -> list[str]:
    """Which side each sibling of PATH(m, D[n]) sits on: the shape of the climb to the root."""
    if n == 1:
        return []
    k = _split(n)
    if m < k:
        return ref_sides(m, k) + ["right"]
    return ref_sides(m - k, n - k) + ["left"]


ENTRIES = [_sha256(i.to_bytes(4, "big")) for i in range(MAX_SIZE)]  # stand-in commitments

# Certificate Transparency's reference inputs and tree heads (RFC 6962 test data, as in
# transparency-dev/merkle testonly and certificate-transparency merkle_tree_test).
CT_ENTRIES = [
    bytes.fromhex(h)
    for h in ["", "00", "10", "2021", "3031", "40414243", "5051525354555657",
              "606162636465666768696a6b6c6d6e6f"]
]  # fmt: skip
CT_ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
CT_INCLUSION = [  # (leaf index, tree size, path)
    (0, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (5, 8, ["bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (1, 5, ["6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
    (0, 1, []),
]  # fmt: skip


def _flip(b: bytes) -> bytes:
    return bytes([b[0] ^ 1]) + b[1:]


# --- hashing ------------------------------------------------------------------------------


def test_leaf_and_node_hashes_are_domain_separated() -> None:
    a, b = ENTRIES[0], ENTRIES[1]
    assert leaf_hash(a) == _sha256(b"\x00" + a)
    assert node_hash(a, b) == _sha256(b"\x01" + a + b)
    assert leaf_hash(a + b) != node_hash(a, b)


def test_roots_match_certificate_transparency_vectors() -> None:
    for size in range(1, len(CT_ENTRIES) + 1):
        assert merkle_root(CT_ENTRIES[:size]).hex() == CT_ROOTS[size - 1], size


@pytest.mark.parametrize(("index", "size", "path"), CT_INCLUSION)
def test_inclusion_proofs_match_certificate_transparency_vectors(
    index: int, size: int, path: list[str]
) -> None:
    proof = inclusion_proof(tree_levels(CT_ENTRIES[:size]), index)
    assert [p.hex() for p in proof] == path
    root = bytes.fromhex(CT_ROOTS[size - 1])
    assert verify_inclusion(CT_ENTRIES[index], index, size, proof, root)


def test_pinned_root_of_a_thousand_commitments() -> None:
    entries = [_sha256(b"commitment %d" % i) for i in range(1000)]
    assert merkle_root(entries) == ref_mth(entries)
    assert merkle_root(entries).hex() == (
        "eb7a7520c4ce72ddc9ab554c29638214bc790af9dfe3a67409be3b16d6596a68"
    )


# --- the tree agrees with the RFC's recursive definition -----------------------------------


@pytest.mark.parametrize("size", range(1, MAX_SIZE + 1))
def test_tree_root_and_every_path_equal_the_rfc_recursion(size: int) -> None:
    entries = ENTRIES[:size]
    levels = tree_levels(entries)
    assert root_from_levels(levels) == ref_mth(entries) == merkle_root(entries)
    assert levels[0] == [leaf_hash(e) for e in entries]
    for index in range(size):
        assert inclusion_proof(levels, index) == ref_path(index, entries)


def test_levels_halve_up_to_a_single_root() -> None:
    levels = tree_levels(ENTRIES[:13])
    assert [len(level) for level in levels] == [13, 7, 4, 2, 1]


def test_empty_batch_is_rejected() -> None:
    with pytest.raises(ValueError):
        tree_levels([])
    with pytest.raises(ValueError):
        merkle_root([])
    with pytest.raises(ValueError):
        root_from_levels([])


def test_proof_for_index_outside_the_tree_is_refused() -> None:
    levels = tree_levels(ENTRIES[:5])
    for index in (-1, 5, 6):
        with pytest.raises(ValueError):
            inclusion_proof(levels, index)


# --- the flat layout a batch's tree is stored in ----------------------------------------------


@pytest.mark.parametrize("size", range(1, MAX_SIZE + 1))
def test_every_path_read_from_the_flat_layout_equals_the_proof_from_the_levels(size: int) -> None:
    entries = ENTRIES[:size]
    levels = tree_levels(entries)
    flat = b"".join(h for level in levels for h in level)
    assert level_sizes(size) == [len(level) for level in levels]
    assert len(flat) == sum(level_sizes(size)) * HASH_BYTES
    assert flat[-HASH_BYTES:] == ref_mth(entries)  # the root is the last position
    for index in range(size):
        positions = inclusion_proof_positions(size, index)
        read = [flat[p * HASH_BYTES : (p + 1) * HASH_BYTES] for p in positions]
        assert read == inclusion_proof(levels, index) == ref_path(index, entries)


def test_flat_positions_of_a_full_size_batch() -> None:
    entries = [_sha256(i.to_bytes(4, "big")) for i in range(20_000)]
    levels = tree_levels(entries)
    flat = b"".join(h for level in levels for h in level)
    assert level_sizes(20_000)[:4] == [20_000, 10_000, 5_000, 2_500]
    for index in (0, 1, 9_999, 16_383, 16_384, 19_998, 19_999):
        positions = inclusion_proof_positions(20_000, index)
        read = [flat[p * HASH_BYTES : (p + 1) * HASH_BYTES] for p in positions]
        assert read == inclusion_proof(levels, index)
    # the last leaf climbs alone through 6 of the 15 levels below the root (625, 313, ... nodes)
    assert len(inclusion_proof_positions(20_000, 19_999)) == 15 - 6


def test_flat_positions_outside_the_tree_are_refused() -> None:
    for size, index in ((5, -1), (5, 5), (1, 1)):
        with pytest.raises(ValueError):
            inclusion_proof_positions(size, index)
    with pytest.raises(ValueError):
        level_sizes(0)


# --- verification (RFC 9162 §2.1.3.2) --------------------------------------------------------


@pytest.mark.parametrize("size", range(1, MAX_SIZE + 1))
def test_every_proof_verifies_and_every_tampering_fails(size: int) -> None:
    entries = ENTRIES[:size]
    levels = tree_levels(entries)
    root = root_from_levels(levels)
    for index in range(size):
        entry, proof = entries[index], inclusion_proof(levels, index)
        assert verify_inclusion(entry, index, size, proof, root)
        assert root_from_inclusion_proof(index, size, leaf_hash(entry), proof) == root

        assert not verify_inclusion(_flip(entry), index, size, proof, root)
        assert not verify_inclusion(entry, index, size, proof, _flip(root))
        for i in range(len(proof)):
            tampered = proof[:i] + [_flip(proof[i])] + proof[i + 1 :]
            assert not verify_inclusion(entry, index, size, tampered, root)
        for wrong_index in {index - 1, index + 1, index ^ 1, size, -1} - {index}:
            assert not verify_inclusion(entry, wrong_index, size, proof, root)
        for wrong_size in {size - 1, size + 1, size // 2, 2 * size, 0} - {size}:
            # A proof binds the size only as far as the path's shape: leaf 0 of 3 and of 4
            # climb the same way. That is sound, since the root is anchored with its size.
            same_shape = index < wrong_size and ref_sides(index, wrong_size) == ref_sides(
                index, size
            )
            assert verify_inclusion(entry, index, wrong_size, proof, root) == same_shape
        if proof:
            assert not verify_inclusion(entry, index, size, proof[:-1], root)
            assert not verify_inclusion(entry, index, size, proof[::-1], root) or len(proof) == 1
        assert not verify_inclusion(entry, index, size, proof + [root], root)
        assert not verify_inclusion(entry, index, size, proof + [ENTRIES[0]], root)


def test_another_entry_cannot_use_a_leaf_proof() -> None:
    levels = tree_levels(ENTRIES[:9])
    root = root_from_levels(levels)
    proof = inclusion_proof(levels, 3)
    assert not verify_inclusion(ENTRIES[4], 3, 9, proof, root)


def test_an_interior_node_cannot_pass_as_an_entry() -> None:
    # Second-preimage attack: present a level-1 node as a leaf of a smaller tree.
    levels = tree_levels(ENTRIES[:8])
    root = root_from_levels(levels)
    inner_proof = inclusion_proof(levels, 0)[1:]
    assert not verify_inclusion(levels[1][0], 0, 4, inner_proof, root)


def test_malformed_proofs_raise_from_the_low_level_walk() -> None:
    levels = tree_levels(ENTRIES[:6])
    proof = inclusion_proof(levels, 2)
    leaf = leaf_hash(ENTRIES[2])
    bad_cases = [
        (6, 6, leaf, proof),  # index == size
        (-1, 6, leaf, proof),
        (0, 0, leaf, []),
        (2, 6, leaf, proof[:-1]),  # too short: sn is not 0 at the end
        (2, 6, leaf, proof + [proof[0]]),  # too long: sn reaches 0 early
        (2, 6, leaf[:31], proof),
        (2, 6, leaf, [proof[0][:31]] + proof[1:]),
    ]
    for index, size, lf, pr in bad_cases:
        with pytest.raises(ValueError):
            root_from_inclusion_proof(index, size, lf, pr)


def test_ten_thousand_leaves_match_the_reference() -> None:
    entries = [_sha256(i.to_bytes(4, "big")) for i in range(10_000)]
    levels = tree_levels(entries)
    root = root_from_levels(levels)
    assert root == ref_mth(entries)
    for index in (0, 1, 4095, 8191, 8192, 9998, 9999):
        proof = inclusion_proof(levels, index)
        assert len(proof) == len(ref_path(index, entries)) <= 14
        assert verify_inclusion(entries[index], index, 10_000, proof, root)
