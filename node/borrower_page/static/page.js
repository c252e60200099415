// What every part of the borrower's page shares: its state, the node's API, the status lines,
// the signature (the same key path for consents, logins and report requests) and the words
// for members, times and the chain context the page checks against.
import { hexlify } from "ethers";
import { currentLang, sentence, t } from "./i18n.js";
import * as wallet from "./wallet.js";

export const $ = (id) => document.getElementById(id);
export const state = {
  dir: null, signer: null, binding: null, typed: null, trail: null, marks: new Map(), onChain: new Map(),
  report: null, reportMarks: new Map(),
};

export class NodeError extends Error {
  constructor(body, status) {
    super(body.detail ?? `HTTP ${status}`);
    Object.assign(this, body, { status });
  }
}

export async function api(path, options = {}) {
  let reply;
  try {
    reply = await fetch(path, options);
  } catch (err) {
    throw new NodeError({ error: "network", detail: String(err) }, 0);
  }
  const body = await reply.json().catch(() => ({}));
  if (!reply.ok) throw new NodeError(body, reply.status);
  return body;
}

export const postJson = (path, body) =>
  api(path, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });

export function say(id, text, error = false) {
  const el = $(id);
  el.textContent = text;
  el.classList.toggle("error", error);
}

/** Run a step with its buttons disabled; a failure becomes a sentence in `statusId`. */
export async function step(statusId, buttons, work) {
  for (const b of buttons) b.disabled = true;
  try {
    await work();
  } catch (err) {
    console.error(err);
    say(statusId, sentence(err), true);
  } finally {
    for (const b of buttons) b.disabled = false;
  }
}

export const when = (seconds) => new Date(seconds * 1000).toLocaleString(currentLang(), { hour12: false });
export const memberName = (address) => {
  const m = state.dir.members.find((x) => x.address.toLowerCase() === String(address).toLowerCase());
  return m ? `${m.name} (${m.address.slice(0, 8)}…)` : address;
};
export const purposeWords = (name) => t(`purpose.${name}`);
export const short = (hex) => `${hex.slice(0, 10)}…${hex.slice(-6)}`;

/** The chain id and contracts the page checks against, read through this node's /rpc. */
export const ctx = () => ({
  rpcUrl: "/rpc",
  chainId: state.dir.chain_id,
  recordRegistry: state.dir.contracts.RecordRegistry,
  consentRegistry: state.dir.contracts.ConsentRegistry,
  disputes: state.dir.contracts.Disputes,
});

/** A signature, refused while a key made here has no backup. */
export async function sign(typed) {
  if (state.signer.kind === "local" && !wallet.backedUp(state.signer.address)) {
    throw new NodeError({ error: "backup_first" }, 0);
  }
  return state.signer.sign(typed);
}

/** A fresh 32 random bytes, 0x-hex: a login's or a report request's nonce. */
export function nonce32() {
  return hexlify(crypto.getRandomValues(new Uint8Array(32)));
}

/** How a check's result reads in a mark: {data-mark, text}. */
export function markOf(result) {
  if (!result) return ["checking", t("mark.checking")];
  if (result.ok) return ["verified", t("mark.verified")];
  return result.pending ? ["pending", t("mark.pending", { detail: result.detail })] : ["failed", t("mark.failed", { detail: result.detail })];
}
