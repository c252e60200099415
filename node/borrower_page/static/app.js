// The borrower's page: a key and consents here; the trail (trail_view.js) and the report
// (report.js) in their own modules, over what page.js shares.
import { getAddress, hexlify } from "ethers";
import { applyLang, sentence, t, toggleLang } from "./i18n.js";
import { $, api, memberName, postJson, purposeWords, say, sign, state, step, when } from "./page.js";
import { renderReport, wireReport } from "./report.js";
import { loadTrail, renderTrail } from "./trail_view.js";
import * as wallet from "./wallet.js";

const DAY = 86_400;

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
  $("report").hidden = !bound;
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

// -- start -----------------------------------------------------------------------------------

async function start() {
  $("boot").hidden = true;
  applyLang();
  $("lang").addEventListener("click", () => {
    toggleLang();
    if (state.dir) fillConsentForm();
    renderTrail();
    renderReport();
  });
  wireKey();
  wireConsent();
  $("load-trail").addEventListener("click", () => step("trail-status", [$("load-trail")], loadTrail));
  wireReport();
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
