// Runs the borrower page's pure modules (node/borrower_page/static) under Node, on cases the
// Python test sends as one JSON object on stdin; writes one JSON object of answers on stdout.
//   {"roots": [[entry hex, ...], ...]}                      -> "roots": [root hex, ...]
//   {"proofs": [{index, size, leaf, proof, root}, ...]}    -> "proofs": [{root, verified} or {error}]
//   {"inclusions": [{entry, index, size, proof, root}]}    -> "inclusions": [true|false, ...]
//   {"receipts": [receipt, ...]}                           -> "receipts": [checkOffline(receipt)]
//   {"canonical": [value, ...]}                            -> "canonical": [string, ...]
//   {"flags": [{query, consent}, ...]}                     -> "flags": [queryFlag(...)]
//   {"timeline": trail}                                    -> "timeline": [[kind, at], ...]
import { getBytes, hexlify } from "ethers";
import { leafHash, merkleRoot, rootFromInclusionProof, verifyInclusion } from "../../node/borrower_page/static/merkle.js";
import { canonicalJson, checkOffline } from "../../node/borrower_page/static/receipt.js";
import { queryFlag, timeline } from "../../node/borrower_page/static/trail.js";

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const input = JSON.parse(Buffer.concat(chunks).toString("utf8"));
const out = {};

out.roots = (input.roots ?? []).map((entries) => hexlify(merkleRoot(entries.map((e) => getBytes(e)))));
out.leaves = (input.leaves ?? []).map((e) => hexlify(leafHash(getBytes(e))));
out.proofs = (input.proofs ?? []).map(({ index, size, leaf, proof }) => {
  try {
    return { root: hexlify(rootFromInclusionProof(index, size, getBytes(leaf), proof.map((p) => getBytes(p)))) };
  } catch (err) {
    return { error: err.message };
  }
});
out.inclusions = (input.inclusions ?? []).map(({ entry, index, size, proof, root }) =>
  verifyInclusion(getBytes(entry), index, size, proof.map((p) => getBytes(p)), getBytes(root)),
);
out.receipts = (input.receipts ?? []).map(checkOffline);
out.canonical = (input.canonical ?? []).map(canonicalJson);
out.flags = (input.flags ?? []).map(({ query, consent }) => queryFlag(query, consent));
if (input.timeline) out.timeline = timeline(input.timeline).map((e) => [e.kind, e.at]);
process.stdout.write(JSON.stringify(out));
