// Merkle trees and inclusion proofs of RFC 9162 §2.1, as node/crypto/merkle.py: the same
// functions under the same names, pure, over Uint8Array. A leaf hash is SHA-256(0x00 || entry),
// an interior node SHA-256(0x01 || left || right); the proof is walked as RFC 9162 §2.1.3.2
// says, step by step. Indices are JavaScript numbers (exact below 2**53), so no bit operators.
import { getBytes, sha256 } from "ethers";

export const HASH_BYTES = 32;

function concat(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function digest(bytes) {
  return getBytes(sha256(bytes));
}

export function equalBytes(a, b) {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

/** RFC 9162 leaf hash: SHA-256(0x00 || entry); our entries are 32-byte commitments. */
export function leafHash(entry) {
  return digest(concat(Uint8Array.of(0), entry));
}

/** RFC 9162 interior node hash: SHA-256(0x01 || left || right). */
export function nodeHash(left, right) {
  return digest(concat(Uint8Array.of(1), left, right));
}

/** Every level of the tree, leaf hashes first; a lone last node moves up unchanged. */
export function treeLevels(entries) {
  if (entries.length === 0) throw new Error("a Merkle tree needs at least one entry");
  let level = entries.map(leafHash);
  const levels = [level];
  while (level.length > 1) {
    const parents = [];
    for (let i = 0; i + 1 < level.length; i += 2) parents.push(nodeHash(level[i], level[i + 1]));
    if (level.length % 2 === 1) parents.push(level[level.length - 1]);
    levels.push(parents);
    level = parents;
  }
  return levels;
}

/** The RFC 9162 Merkle tree hash of a non-empty list of entries. */
export function merkleRoot(entries) {
  const levels = treeLevels(entries);
  return levels[levels.length - 1][0];
}

/**
 * Walk an audit path from the leaf hash `leaf` to the root it implies (RFC 9162 §2.1.3.2).
 * Throws when the proof cannot belong to a tree of `size` leaves: an index outside the tree,
 * a proof too long or too short, a hash that is not 32 bytes.
 */
export function rootFromInclusionProof(index, size, leaf, proof) {
  if (!(Number.isSafeInteger(index) && Number.isSafeInteger(size) && index >= 0 && index < size)) {
    throw new Error("leaf index must be below the tree size");
  }
  if (leaf.length !== HASH_BYTES) throw new Error("leaf hash must be 32 bytes");
  let fn = index;
  let sn = size - 1;
  let r = leaf;
  for (const p of proof) {
    if (p.length !== HASH_BYTES) throw new Error("proof hashes must be 32 bytes");
    if (sn === 0) throw new Error("proof is longer than the path to the root");
    if (fn % 2 === 1 || fn === sn) {
      r = nodeHash(p, r);
      if (fn % 2 === 0) {
        // a last node without a right sibling: climb to where it becomes a right child
        while (fn % 2 === 0 && fn !== 0) {
          fn = Math.floor(fn / 2);
          sn = Math.floor(sn / 2);
        }
      }
    } else {
      r = nodeHash(r, p);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  if (sn !== 0) throw new Error("proof is shorter than the path to the root");
  return r;
}

/** Whether `entry` (a commitment) is leaf `index` of the tree of `size` with `root`. */
export function verifyInclusion(entry, index, size, proof, root) {
  try {
    return equalBytes(rootFromInclusionProof(index, size, leafHash(entry), proof), root);
  } catch {
    return false;
  }
}
