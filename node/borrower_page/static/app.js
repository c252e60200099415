// The borrower's page: a key, consents, and the trail checked against the chain.
import { getAddress, hexlify } from "ethers";
import { consentAgrees, consentOnChain, verifyBinding, verifyObjection, verifyQueryReceipt } from "./chain.js";
import { applyLang, currentLang, sentence, t, toggleLang } from "./i18n.js";
import { queryFlag, timeline } from "./trail.js";
import * as wallet from "./wallet.js";

const $ = (id) => document.getElementById(id);
const DAY = 86_400;
const state = { dir: null, signer: null, binding: null, typed: null, trail: null, marks: new Map(), onChain: new Map() };

class NodeError extends Error {
  constructor(body, status) {
    super(body.detail ?? `HTTP ${status}`);
    Object.assign(this, body, { status });
  }
}

async function api(path, options = {}) {
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

const postJson = (path, body) =>
  api(path, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });

function say(id, text, error = false) {
  const el = $(id);
  el.textContent = text;
  el.classList.toggle("error", error);
}

/** Run a step with its buttons disabled; a failure becomes a sentence in `statusId`. */
async function step(statusId, buttons, work) {
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

const when = (seconds) => new Date(seconds * 1000).toLocaleString(currentLang(), { hour12: false });
const memberName = (address) => {
  const m = state.dir.members.find((x) => x.address.toLowerCase() === String(address).toLowerCase());
  return m ? `${m.name} (${m.address.slice(0, 8)}…)` : address;
};
const purposeWords = (name) => t(`purpose.${name}`);
const short = (hex) => `${hex.slice(0, 10)}…${hex.slice(-6)}`;

// -- the key ---------------------------------------------------------------------------------

function renderKey() {
  const signer = state.signer;
  const stored = wallet.storedAddress();
  $("key-choose").hidden = !!signer || !!stored;
  $("wallet-box").hidden = !wallet.hasInjected();
  $("unlock-form").hidden = !!signer || !stored;
  $("stored-address").textContent = stored ?? "";
  const needsBackup = signer?.kind === "local" && !wallet.backedUp(signer.address);
  $("backup-box").hidden = !needsBackup;
  $("key-ready").hidden = !signer || needsBackup;
  $("address").textContent = signer?.address ?? "";
  const bound = !!state.binding;
  $("bind-help").hidden = bound;
  $("consent").hidden = !bound;
  $("trail").hidden = !bound;
}

async function useSigner(signer) {
  state.signer = signer;
  state.binding = null;
  say("key-status", "");
  renderKey();
  if (signer.kind !== "local" || wallet.backedUp(signer.address)) await checkBinding();
}

async function checkBinding() {
  const address = state.signer.address;
  try {
    state.binding = await api(`/v1/bindings?address=${address}`);
    say("binding-status", t("key.bound", { member: memberName(state.binding.member), block: state.binding.block_number }));
  } catch (err) {
    state.binding = null;
    if (err.error !== "not_bound") throw err;
    say("binding-status", t("key.notBound"));
  }
  renderKey();
}

function wireKey() {
  $("create-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const [p1, p2] = [$("new-password").value, $("new-password2").value];
    if (p1.length < 8) return say("key-status", t("key.passwordShort"), true);
    if (p1 !== p2) return say("key-status", t("key.passwordMismatch"), true);
    return step("key-status", [$("create-key")], async () => {
      say("key-status", t("key.creating"));
      const signer = await wallet.createKey(p1);
      $("new-password").value = $("new-password2").value = "";
      await useSigner(signer);
      $("download-backup").focus();
    });
  });
  $("unlock-form").addEventListener("submit", (e) => {
    e.preventDefault();
    step("key-status", [$("unlock")], async () => {
      say("key-status", t("key.unlocking"));
      const signer = await wallet.unlock($("password").value);
      $("password").value = "";
      await useSigner(signer);
    });
  });
  $("restore-form").addEventListener("submit", (e) => {
    e.preventDefault();
    step("key-status", [$("restore-key")], async () => {
      const file = $("restore-file").files[0];
      if (!file) return;
      say("key-status", t("key.unlocking"));
      await useSigner(await wallet.restoreKey(await file.text(), $("restore-password").value));
    });
  });
  $("forget").addEventListener("click", () => {
    wallet.forgetKey();
    renderKey();
  });
  $("use-wallet").addEventListener("click", () => step("key-status", [$("use-wallet")], async () => useSigner(await wallet.connectInjected())));
  $("download-backup").addEventListener("click", () =>
    step("key-status", [$("download-backup")], async () => {
      wallet.downloadBackup(state.signer.address);
      renderKey();
      await checkBinding();
      $("check-binding").focus();
    }),
  );
  $("check-binding").addEventListener("click", () => step("key-status", [$("check-binding")], checkBinding));
}

/** A signature, refused while a key made here has no backup. */
async function sign(typed) {
  if (state.signer.kind === "local" && !wallet.backedUp(state.signer.address)) {
    throw new NodeError({ error: "backup_first" }, 0);
  }
  return state.signer.sign(typed);
}

// -- consent ---------------------------------------------------------------------------------

function fillConsentForm() {
  const member = $("member");
  member.replaceChildren(
    ...state.dir.members.map((m) => {
      const option = new Option(`${m.name}${m.status === "active" ? "" : t("consent.suspended")}`, m.address);
      option.disabled = m.status !== "active";
      return option;
    }),
  );
  const purpose = $("purpose");
  const chosen = purpose.value;
  purpose.replaceChildren(...state.dir.purposes.map((p) => new Option(purposeWords(p.name), p.name)));
  if (chosen) purpose.value = chosen;
}

function randomNonce() {
  const bytes = crypto.getRandomValues(new Uint8Array(6)); // below 2**53: a plain JSON number
  return BigInt(hexlify(bytes)).toString();
}

function wireConsent() {
  const stale = () => {
    state.typed = null;
    $("preview-box").hidden = true;
  };
  for (const id of ["member", "purpose", "days"]) $(id).addEventListener("change", stale);
  $("consent-form").addEventListener("submit", (e) => {
    e.preventDefault();
    step("consent-status", [$("preview")], async () => {
      say("consent-status", "");
      const from = Math.floor(Date.now() / 1000);
      const until = from + Number($("days").value) * DAY;
      const query = new URLSearchParams({
        subject_key: state.binding.subject_key,
        grantee: $("member").value,
        purpose: $("purpose").value,
        valid_from: from,
        valid_until: until,
        nonce: randomNonce(),
      });
      state.typed = await api(`/v1/consents/typed-data?${query}`);
      $("consent-summary").textContent = t("consent.summary", {
        member: memberName($("member").value),
        purpose: purposeWords($("purpose").value),
        from: when(from),
        until: when(until),
      });
      $("typed-data").textContent = JSON.stringify(state.typed, null, 2);
      $("preview-box").hidden = false;
      $("sign-consent").focus();
    });
  });
  $("sign-consent").addEventListener("click", () =>
    step("consent-status", [$("sign-consent")], async () => {
      const typed = state.typed;
      const signature = await sign(typed);
      const done = await postJson("/v1/consents", { message: typed.message, signature, borrower: state.signer.address });
      state.typed = null;
      $("preview-box").hidden = true;
      say("consent-status", t("consent.done", { block: done.block_number }));
      if (state.trail) await loadTrail();
    }),
  );
}

// -- the trail -------------------------------------------------------------------------------

async function login() {
  const nonce = hexlify(crypto.getRandomValues(new Uint8Array(32)));
  const issuedAt = Math.floor(Date.now() / 1000);
  const query = new URLSearchParams({ subject_key: state.binding.subject_key, issued_at: issuedAt, nonce });
  const typed = await api(`/v1/consents/login-typed-data?${query}`);
  const signature = await sign(typed);
  return { "X-Creditchain-Login": JSON.stringify(typed.message), "X-Creditchain-Login-Signature": signature };
}

async function loadTrail() {
  say("trail-status", t("trail.loading"));
  const headers = await login();
  state.trail = await api(`/v1/subjects/${state.binding.subject_key}/trail`, { headers });
  state.marks = new Map();
  state.onChain = new Map();
  renderTrail();
  await verifyTrail();
  say("trail-status", t("trail.asOf", { block: state.trail.as_of_block }));
}

const ctx = () => ({
  rpcUrl: "/rpc",
  chainId: state.dir.chain_id,
  recordRegistry: state.dir.contracts.RecordRegistry,
  consentRegistry: state.dir.contracts.ConsentRegistry,
  disputes: state.dir.contracts.Disputes,
});
const keyOf = (e) =>
  e.kind === "query" ? `query:${e.item.query_id}:${e.item.side}` :
  e.kind === "binding" || e.kind === "unbinding" ? `binding:${e.item.block_number}:${e.item.log_index}` :
  e.kind === "objection" || e.kind === "objection_answer" ? `objection:${e.item.objection_id}` :
  `consent:${e.item.consent_id}`;

async function mark(key, work) {
  try {
    state.marks.set(key, await work());
  } catch (err) {
    state.marks.set(key, { ok: false, detail: String(err.message ?? err) });
  }
}

/** Every entry checked against the chain in this browser; the consents first, whose window
 * and revocation (as the chain keeps them) decide whether a query is flagged. */
async function verifyTrail() {
  const trail = state.trail;
  const ids = new Set([...trail.consents.map((c) => c.consent_id), ...trail.queries.map((q) => q.consent_id)]);
  await Promise.all(
    [...ids].map(async (id) => {
      try {
        state.onChain.set(id, await consentOnChain(id, ctx()));
      } catch {
        state.onChain.set(id, undefined);
      }
    }),
  );
  const number = (name) => state.dir.purposes.find((p) => p.name === name)?.number;
  await Promise.all([
    ...trail.consents.map((c) =>
      mark(`consent:${c.consent_id}`, async () => consentAgrees(c, state.onChain.get(c.consent_id), number(c.purpose))),
    ),
    ...trail.bindings.map((b) => mark(`binding:${b.block_number}:${b.log_index}`, () => verifyBinding(b, ctx()))),
    ...trail.queries.map((q) => mark(`query:${q.query_id}:${q.side}`, () => verifyQueryReceipt(q, ctx()))),
    ...(trail.objections ?? []).map((o) => mark(`objection:${o.objection_id}`, () => verifyObjection(o, ctx()))),
  ]);
  renderTrail();
}

function consentOfQuery(q) {
  const c = state.onChain.get(q.consent_id);
  return c && c.subjectKey === state.trail.subject_key.toLowerCase() ? c : null;
}

function entryText(e) {
  const i = e.item;
  switch (e.kind) {
    case "binding":
      return t("trail.binding", { address: i.address, member: memberName(i.member) });
    case "unbinding":
      return t("trail.unbinding", { address: i.address });
    case "consent":
      return t("trail.consent", { member: memberName(i.grantee), purpose: purposeWords(i.purpose), from: when(i.valid_from), until: when(i.valid_until) });
    case "revocation":
      return t("trail.revocation", { member: memberName(i.grantee), purpose: purposeWords(i.purpose) });
    case "objection":
      return t("trail.objection", { holder: memberName(i.holder), target: t(`trail.target.${i.kind}`), deadline: when(i.deadline) });
    case "objection_answer":
      return t("trail.objectionAnswer", {
        outcome: t(`trail.outcome.${i.state}`),
        by: i.answer.by_regulator ? t("trail.byRegulator") : memberName(i.answer.by),
      });
    default:
      return t("trail.query", { requester: memberName(i.requester), purpose: purposeWords(i.purpose), side: t(`trail.side.${i.side}`) });
  }
}

function renderEntry(e) {
  const li = document.createElement("li");
  li.className = "entry";
  li.dataset.kind = e.kind;
  const add = (cls, text) => {
    const el = document.createElement(cls === "what" ? "span" : "span");
    el.className = cls;
    el.textContent = text;
    li.append(el);
    return el;
  };
  add("when", when(e.at));
  add("what", entryText(e));
  if (e.kind === "query" || e.kind === "consent" || e.kind === "revocation") {
    add("ref", e.kind === "query" ? t("trail.underConsent", { consent: short(e.item.consent_id) }) : e.item.consent_id);
  }
  const result = state.marks.get(keyOf(e));
  const m = add("mark", "");
  if (!result) {
    m.dataset.mark = "checking";
    m.textContent = t("mark.checking");
  } else if (result.ok) {
    m.dataset.mark = "verified";
    m.textContent = t("mark.verified");
  } else {
    m.dataset.mark = result.pending ? "pending" : "failed";
    m.textContent = t(result.pending ? "mark.pending" : "mark.failed", { detail: result.detail });
  }
  if (e.kind === "query" && state.onChain.has(e.item.consent_id)) {
    const flag = queryFlag(e.item, consentOfQuery(e.item));
    if (flag) {
      li.classList.add("flagged");
      li.dataset.flag = flag;
      add("flag", t(`flag.${flag}`));
    }
  }
  if (e.kind === "objection") {
    li.dataset.state = e.item.state;
    add("state", t(`trail.outcome.${e.item.state}`));
    if (e.item.overdue) {
      li.classList.add("flagged");
      li.dataset.flag = "overdue";
      add("flag", t("flag.overdue"));
    }
  }
  if (e.kind === "consent") {
    const c = e.item;
    const now = Date.now() / 1000;
    const status = c.revoked_at != null ? "revoked" : now >= c.valid_until ? "expired" : "active";
    li.dataset.status = status;
    add("state", t(`trail.${status}`));
    if (status === "active") {
      const button = document.createElement("button");
      button.type = "button";
      button.className = "revoke quiet";
      button.textContent = t("trail.revoke");
      button.addEventListener("click", () => revoke(c.consent_id, button));
      li.append(button);
    }
  }
  return li;
}

function renderTrail() {
  const list = $("trail-list");
  if (!state.trail) return;
  const events = timeline(state.trail);
  list.replaceChildren(...events.map(renderEntry));
  if (!events.length) list.append(Object.assign(document.createElement("li"), { textContent: t("trail.empty") }));
}

function revoke(consentId, button) {
  return step("trail-status", [button], async () => {
    const typed = await api(`/v1/consents/revocation-typed-data?consent_id=${consentId}`);
    const signature = await sign(typed);
    const done = await postJson(`/v1/consents/${consentId}/revoke`, { signature, borrower: state.signer.address });
    await loadTrail();
    say("trail-status", t("trail.revokeDone", { block: done.block_number }));
  });
}

// -- start -----------------------------------------------------------------------------------

async function start() {
  $("boot").hidden = true;
  applyLang();
  $("lang").addEventListener("click", () => {
    toggleLang();
    if (state.dir) fillConsentForm();
    renderTrail();
  });
  wireKey();
  wireConsent();
  $("load-trail").addEventListener("click", () => step("trail-status", [$("load-trail")], loadTrail));
  $("key").hidden = false;
  renderKey();
  try {
    state.dir = await api("/v1/borrower/directory");
    state.dir.members = state.dir.members.map((m) => ({ ...m, address: getAddress(m.address) }));
    fillConsentForm();
  } catch (err) {
    say("key-status", sentence(err), true);
  }
}

start();
