// The borrower's trail: every binding, consent, query and objection about them, each checked
// against the chain in this browser, and the one-click withdrawal of a consent.
import { consentAgrees, consentOnChain, verifyBinding, verifyObjection, verifyQueryReceipt } from "./chain.js";
import { t } from "./i18n.js";
import { $, api, ctx, markOf, memberName, nonce32, postJson, purposeWords, say, short, sign, state, step, when } from "./page.js";
import { queryFlag, timeline } from "./trail.js";

async function login() {
  const nonce = nonce32();
  const issuedAt = Math.floor(Date.now() / 1000);
  const query = new URLSearchParams({ subject_key: state.binding.subject_key, issued_at: issuedAt, nonce });
  const typed = await api(`/v1/consents/login-typed-data?${query}`);
  const signature = await sign(typed);
  return { "X-Creditchain-Login": JSON.stringify(typed.message), "X-Creditchain-Login-Signature": signature };
}

export async function loadTrail() {
  say("trail-status", t("trail.loading"));
  const headers = await login();
  state.trail = await api(`/v1/subjects/${state.binding.subject_key}/trail`, { headers });
  state.marks = new Map();
  state.onChain = new Map();
  renderTrail();
  await verifyTrail();
  say("trail-status", t("trail.asOf", { block: state.trail.as_of_block }));
}

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
  const m = add("mark", "");
  [m.dataset.mark, m.textContent] = markOf(state.marks.get(keyOf(e)));
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

export function renderTrail() {
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
