// Reads from the chain through the node's read-only JSON-RPC (/rpc), and the checks the page
// makes with them: a record's or a query log receipt against RecordRegistry.getBatch (and a
// record's status against statusAt, which folds in an expiry marked in the batch's bitmap),
// a consent against
// ConsentRegistry.getConsent, a binding against ConsentRegistry.bindingOf, an objection
// against Disputes.getObjection.
import { Interface, getAddress, toBeHex } from "ethers";
import { canonicalJson, checkOffline } from "./receipt.js";

const registry = new Interface([
  "function getBatch(uint256 batchId) view returns (address member, bytes32 root, uint64 size, bytes32 prevRoot, uint64 anchoredAt)",
  "function statusAt(bytes32 commitment, uint256 batchId, uint64 leafIndex, bytes32[] proof) view returns (uint8)",
]);
export const RECORD_STATUSES = ["active", "superseded", "disputed", "revoked", "expired"];
const consents = new Interface([
  "function getConsent(bytes32 consentId) view returns (bytes32 subjectKey, address grantee, uint8 purpose, uint64 validFrom, uint64 validUntil, uint64 revokedAt)",
  "function bindingOf(address borrower) view returns (bytes32 subjectKey, address binder)",
]);

const disputes = new Interface([
  "function getObjection(uint256 id) view returns ((bytes32 subjectKey, bytes32 target, bytes32 reasonsHash, address holder, uint64 filedAt, uint8 kind, uint8 state, bool byRegulator, uint64 deadline, uint64 closedAt, uint64 batchId, uint64 leafIndex))",
]);
const OBJECTION_STATES = ["none", "open", "upheld", "rejected", "unresolved"];

let nextId = 1;

export async function rpc(url, method, params) {
  const reply = await fetch(url, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ jsonrpc: "2.0", id: nextId++, method, params }),
  });
  const answer = await reply.json();
  if (answer.error) throw new Error(`${method}: ${answer.error.message}`);
  return answer.result;
}

async function call(url, iface, to, name, args) {
  const data = iface.encodeFunctionData(name, args);
  const result = await rpc(url, "eth_call", [{ to, data }, "latest"]);
  return iface.decodeFunctionResult(name, result);
}

/**
 * Check a query log receipt: offline (commitment, proof), then the chain id, the registry the
 * page trusts, and the batch on chain: same root, same size, anchored by the member whose log
 * it is. {ok, detail}.
 */
export async function verifyQueryReceipt(query, ctx) {
  const receipt = query.receipt;
  if (!receipt) return { ok: false, pending: true, detail: query.receipt_state ?? "pending" };
  const same = ["query_id", "side", "subject_key", "consent_id", "purpose", "requester", "holder", "at"]
    .every((k) => receipt.entry?.[k] === query[k]);
  if (!same) return { ok: false, detail: "the receipt commits to another entry" };
  const logger = query.side === "holder" ? query.holder : query.requester;
  return receiptOnChain(receipt, logger, ctx);
}

/**
 * A receipt's checks against the chain: offline (commitment, proof), then the chain id, the
 * registry the page trusts, and the batch on chain: same root, same size, anchored by
 * `anchoredBy`. {ok, detail}.
 */
async function receiptOnChain(receipt, anchoredBy, ctx) {
  const offline = checkOffline(receipt);
  if (!offline.ok) return { ok: false, detail: `${offline.check}: ${offline.detail}` };
  if (receipt.chain_id !== ctx.chainId) return { ok: false, detail: `chain ${receipt.chain_id}` };
  if (getAddress(receipt.registry) !== getAddress(ctx.recordRegistry)) {
    return { ok: false, detail: `registry ${receipt.registry}` };
  }
  let batch;
  try {
    batch = await call(ctx.rpcUrl, registry, ctx.recordRegistry, "getBatch", [receipt.batch_id]);
  } catch (err) {
    return { ok: false, detail: `batch ${receipt.batch_id} not on chain (${err.message})` };
  }
  if (batch.root !== offline.root) return { ok: false, detail: `batch root on chain is ${batch.root}` };
  if (Number(batch.size) !== receipt.tree_size) return { ok: false, detail: `batch size on chain is ${batch.size}` };
  if (getAddress(batch.member) !== getAddress(anchoredBy)) {
    return { ok: false, detail: `batch anchored by ${batch.member}` };
  }
  return { ok: true, detail: `batch ${receipt.batch_id}, block ${receipt.block_number}` };
}

/**
 * Check one record of a report's member section ({record, chain_status, receipt}): the record
 * shown is the one its receipt commits to, about this subject; the receipt holds on chain,
 * anchored by that member; and `statusAt` (by the receipt's batch, leaf index and proof) says
 * the status shown. {ok, detail}.
 */
export async function verifyRecord(item, { member, subjectKey }, ctx) {
  const receipt = item.receipt;
  if (!receipt?.record || canonicalJson(item.record) !== canonicalJson(receipt.record)) {
    return { ok: false, detail: "the record shown is not the one its receipt commits to" };
  }
  if (String(receipt.record.subject_key).toLowerCase() !== subjectKey.toLowerCase()) {
    return { ok: false, detail: "the record is about another subject" };
  }
  const held = await receiptOnChain(receipt, member, ctx);
  if (!held.ok) return held;
  const at = [receipt.commitment, receipt.batch_id, receipt.leaf_index, receipt.proof];
  const status = RECORD_STATUSES[Number(await call(ctx.rpcUrl, registry, ctx.recordRegistry, "statusAt", at))];
  if (status !== item.chain_status) return { ok: false, detail: `status on chain is ${status}` };
  return held;
}

/** The consent as the chain keeps it (unix seconds), or null if the chain has none. */
export async function consentOnChain(consentId, ctx) {
  const c = await call(ctx.rpcUrl, consents, ctx.consentRegistry, "getConsent", [consentId]);
  if (/^0x0+$/.test(c.subjectKey)) return null;
  return {
    subjectKey: c.subjectKey,
    grantee: getAddress(c.grantee),
    purpose: Number(c.purpose),
    validFrom: Number(c.validFrom),
    validUntil: Number(c.validUntil),
    revokedAt: Number(c.revokedAt),
  };
}

/** Whether the node's account of a consent is what the chain holds. {ok, detail}. */
export function consentAgrees(consent, onChain, purposeNumber) {
  if (!onChain) return { ok: false, detail: "not on chain" };
  const checks = [
    [onChain.subjectKey === consent.subject_key.toLowerCase(), "subject"],
    [onChain.grantee === getAddress(consent.grantee), "member"],
    [onChain.purpose === purposeNumber, "purpose"],
    [onChain.validFrom === consent.valid_from && onChain.validUntil === consent.valid_until, "window"],
    [onChain.revokedAt === (consent.revoked_at ?? 0), "revocation"],
  ];
  const failed = checks.filter(([ok]) => !ok).map(([, what]) => what);
  return failed.length ? { ok: false, detail: `differs on chain: ${failed.join(", ")}` } : { ok: true, detail: "" };
}

/** Whether the chain's bindingOf agrees with a binding the node lists. {ok, detail}. */
export async function verifyBinding(binding, ctx) {
  const b = await call(ctx.rpcUrl, consents, ctx.consentRegistry, "bindingOf", [binding.address]);
  const bound = b.subjectKey === binding.subject_key.toLowerCase();
  if (binding.unbound) {
    return bound ? { ok: false, detail: "still bound on chain" } : { ok: true, detail: "" };
  }
  if (!bound) return { ok: false, detail: "not bound on chain" };
  if (getAddress(b.binder) !== getAddress(binding.member)) return { ok: false, detail: `bound by ${b.binder}` };
  return { ok: true, detail: "" };
}

/** Whether the chain's getObjection agrees with an objection the node lists: the subject,
 * the target, the holder, the deadline, the state and when it was answered. {ok, detail}. */
export async function verifyObjection(objection, ctx) {
  if (!ctx.disputes) return { ok: false, detail: "the consortium has no Disputes contract" };
  const [o] = await call(ctx.rpcUrl, disputes, ctx.disputes, "getObjection", [objection.objection_id]);
  const target = objection.kind === "record" ? String(objection.target).toLowerCase() : toBeHex(BigInt(objection.target), 32);
  const checks = [
    [o.subjectKey === objection.subject_key.toLowerCase(), "subject"],
    [o.target === target, "target"],
    [getAddress(o.holder) === getAddress(objection.holder), "holder"],
    [Number(o.deadline) === objection.deadline, "deadline"],
    [OBJECTION_STATES[Number(o.state)] === objection.state, "state"],
    [Number(o.closedAt) === (objection.answer?.at ?? 0), "answer"],
  ];
  const failed = checks.filter(([ok]) => !ok).map(([, what]) => what);
  return failed.length ? { ok: false, detail: `differs on chain: ${failed.join(", ")}` } : { ok: true, detail: "" };
}
