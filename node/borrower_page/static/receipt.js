// A receipt checked without the chain (steps 1 and 2 of node/receipts/verify.py): the committed
// object and salt hash to the commitment, and the inclusion proof leads to the root. Pure.
import { getBytes, hexlify, sha256 } from "ethers";
import { leafHash, rootFromInclusionProof } from "./merkle.js";

/**
 * RFC 8785 (JCS) canonical JSON: object keys sorted by UTF-16 code units (JavaScript's own
 * string order), no whitespace, strings and numbers as ECMAScript's JSON.stringify writes
 * them, which is what JCS prescribes.
 */
export function canonicalJson(value) {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const keys = Object.keys(value).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(value[k])}`).join(",")}}`;
  }
  if (typeof value === "number" && !Number.isFinite(value)) throw new Error("not a JSON number");
  return JSON.stringify(value);
}

/** sha256(salt || canonical JSON of `object`), 0x-hex. */
export function commitmentOf(salt, object) {
  const body = new TextEncoder().encode(canonicalJson(object));
  const saltBytes = getBytes(salt);
  const both = new Uint8Array(saltBytes.length + body.length);
  both.set(saltBytes);
  both.set(body, saltBytes.length);
  return sha256(both);
}

/** The committed object: `record` in a record's receipt, `entry` in any other kind's. */
export function committedField(receipt) {
  return (receipt.kind ?? "record") === "record" ? "record" : "entry";
}

/**
 * {ok: true, root} when the object hashes to the commitment and the proof leads to the
 * receipt's root; {ok: false, check, detail} naming the first check that fails.
 */
export function checkOffline(receipt) {
  try {
    const computed = commitmentOf(receipt.salt, receipt[committedField(receipt)]);
    if (computed !== receipt.commitment.toLowerCase()) {
      return { ok: false, check: "commitment", detail: `hashes to ${computed}` };
    }
    const root = rootFromInclusionProof(
      receipt.leaf_index,
      receipt.tree_size,
      leafHash(getBytes(computed)),
      receipt.proof.map((h) => getBytes(h)),
    );
    if (hexlify(root) !== receipt.root.toLowerCase()) {
      return { ok: false, check: "path", detail: `the proof leads to ${hexlify(root)}` };
    }
    return { ok: true, root: hexlify(root) };
  } catch (err) {
    return { ok: false, check: "receipt", detail: String(err.message ?? err) };
  }
}
