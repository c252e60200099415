// The borrower's own credit report (征信业管理条例 Art. 17): one signed ReportRequest to this
// node, which gathers every active member's section; each record shown is checked against the
// chain in this browser. A member that gave no section is named with the reason in words.
import { verifyRecord } from "./chain.js";
import { currentLang, has, sentence, t } from "./i18n.js";
import { $, api, ctx, markOf, memberName, nonce32, postJson, say, sign, state, step, when } from "./page.js";

const el = (tag, cls, text) => Object.assign(document.createElement(tag), cls ? { className: cls } : {}, text == null ? {} : { textContent: text });
const markKey = (section, item) => `${section.member}:${item.receipt?.commitment}`;

/** A date as the borrower reads it, in China Standard Time (the count's own calendar). */
function day(iso) {
  const at = new Date(iso);
  if (Number.isNaN(at.getTime())) return String(iso);
  return at.toLocaleDateString(currentLang(), { year: "numeric", month: "long", day: "numeric", timeZone: "Asia/Shanghai" });
}

function money(cents, currency) {
  try {
    return new Intl.NumberFormat(currentLang(), { style: "currency", currency: currency || "CNY" }).format(cents / 100);
  } catch {
    return `${(cents / 100).toFixed(2)} ${currency ?? ""}`;
  }
}

/** The rule, the count and the next free date of a free_reports_used refusal. */
export function ruleSentence(error, name) {
  return t("report.used", {
    perYear: error.free_per_year ?? 2,
    member: name ?? (error.member ? memberName(error.member) : ""),
    date: day(error.next_free_at),
  });
}

/** Why a member's section is missing, in words. */
function whyMissing(section) {
  const error = section.error ?? {};
  if (section.status === "refused" && error.error === "free_reports_used") return ruleSentence(error, section.name);
  if (section.status === "timeout") return t("report.timeout", { member: section.name });
  if (section.status === "unreachable") return t("report.unreachable", { member: section.name });
  if (section.status === "rejected") return t("report.rejected", { member: section.name, record: error.record_id ?? "-" });
  return t("report.refused", { member: section.name, why: sentence(error) });
}

function recordLine(record) {
  const parts = [t(`report.kind.${record.kind}`), t("report.account", { account: record.account_id }), record.event_date];
  if (record.amount_cents != null) parts.push(t("report.amount", { amount: money(record.amount_cents, record.currency) }));
  if (record.days_past_due) parts.push(t("report.daysPastDue", { days: record.days_past_due }));
  return parts.join(t("report.sep"));
}

function recordDetails(record, section) {
  const lines = [];
  if (record.credit_limit_cents != null) lines.push(t("report.creditLimit", { amount: money(record.credit_limit_cents, record.currency) }));
  if (record.balance_cents != null) lines.push(t("report.balance", { amount: money(record.balance_cents, record.currency) }));
  if (record.date_of_first_delinquency) lines.push(t("report.firstDelinquency", { date: record.date_of_first_delinquency }));
  if (record.notice_date) lines.push(t("report.noticeDate", { date: record.notice_date }));
  if (record.payment_history_24m) lines.push(t("report.history", { history: record.payment_history_24m }));
  if (record.settles) {
    const settled = section.records.find((r) => r.receipt?.commitment?.toLowerCase() === record.settles.toLowerCase());
    lines.push(t("report.settles", { record: settled?.record.record_id ?? `${record.settles.slice(0, 10)}…` }));
  }
  return lines;
}

function renderRecord(item, section) {
  const li = el("li", "record");
  li.dataset.kind = item.record.kind;
  li.dataset.status = item.chain_status;
  li.dataset.recordId = item.record.record_id;
  li.append(el("span", "what", recordLine(item.record)));
  for (const line of recordDetails(item.record, section)) li.append(el("span", "detail", line));
  li.append(el("span", "state", t(`report.status.${item.chain_status}`)));
  if (item.statement_hash) li.append(el("span", "statement", t("report.statement", { hash: item.statement_hash })));
  const mark = el("span", "mark");
  [mark.dataset.mark, mark.textContent] = markOf(state.reportMarks.get(markKey(section, item)));
  li.append(mark);
  return li;
}

function renderSection(section) {
  const box = el("article", "member-section");
  box.dataset.member = section.member;
  box.dataset.status = section.status;
  const own = section.member.toLowerCase() === state.dir.node.toLowerCase();
  box.append(el("h3", null, own ? t("report.ownMember", { member: section.name }) : section.name));
  if (section.status !== "answered") {
    box.append(el("p", "why", whyMissing(section)));
    return box;
  }
  const free = section.free_reports;
  if (free) box.append(el("p", "free", t("report.free", { left: free.left, perYear: free.per_year, date: day(free.counted_until) })));
  const list = el("ul", "records");
  list.append(...section.records.map((item) => renderRecord(item, section)));
  if (!section.records.length) list.append(el("li", "none", t("report.noRecords")));
  box.append(list);
  if (section.pending) box.append(el("p", "note", t("report.pending", { n: section.pending })));
  if (section.erased?.length) box.append(el("p", "note", t("report.erased", { n: section.erased.length })));
  box.append(el("p", "note", t("report.queries", { n: section.queries?.length ?? 0 })));
  return box;
}

function renderBlacklist(entries) {
  if (!entries.length) return el("p", "note", t("report.blacklistNone"));
  const box = el("div", "blacklist");
  box.append(el("h3", null, t("report.blacklist")));
  const list = el("ul", "records");
  for (const e of entries) {
    const li = el("li", "record");
    li.dataset.status = e.status;
    li.append(el("span", "what", t("report.blacklistEntry", { member: memberName(e.member), from: when(e.listed_at), until: when(e.expires_at) })));
    const status = t(`report.blacklistStatus.${e.status}`);
    li.append(el("span", "state", e.disputed ? `${status}${t("report.sep")}${t("report.status.disputed")}` : status));
    list.append(li);
  }
  box.append(list);
  return box;
}

export function renderReport() {
  const report = state.report;
  const view = $("report-view");
  if (!report) return view.replaceChildren();
  view.replaceChildren(...report.members.map(renderSection), renderBlacklist(report.blacklist?.entries ?? []));
  say("report-status", ...summary(report));
}

/** The report's one-line summary and whether it reads as an error. */
function summary(report) {
  const answered = report.members.filter((s) => s.status === "answered");
  if (!answered.length) {
    const used = report.members.find((s) => s.error?.error === "free_reports_used");
    return [used ? ruleSentence(used.error, t("report.everyMember")) : t("report.noneAnswered"), true];
  }
  const records = answered.reduce((n, s) => n + s.records.length, 0);
  const done = t("report.asOf", { members: answered.length, records, block: report.as_of_block });
  return report.partial ? [`${done} ${t("report.partial", { members: report.missing.join(t("report.listSep")) })}`, false] : [done, false];
}

async function verifyReport() {
  const subjectKey = state.report.subject_key;
  await Promise.all(
    state.report.members.flatMap((section) =>
      section.records.map(async (item) => {
        let result;
        try {
          result = await verifyRecord(item, { member: section.member, subjectKey }, ctx());
        } catch (err) {
          result = { ok: false, detail: String(err.message ?? err) };
        }
        state.reportMarks.set(markKey(section, item), result);
      }),
    ),
  );
}

async function loadReport() {
  say("report-status", t("report.loading"));
  const key = state.binding.subject_key;
  const query = new URLSearchParams({ issued_at: Math.floor(Date.now() / 1000), nonce: nonce32() });
  const typed = await api(`/v1/subjects/${key}/report/typed-data?${query}`);
  const signature = await sign(typed);
  state.report = null;
  renderReport();
  let report;
  try {
    report = await postJson(`/v1/subjects/${key}/report`, { request: typed.message, signature, scope: "consortium" });
  } catch (err) {
    if (err.error === "free_reports_used") return say("report-status", ruleSentence(err), true);
    if (has(`report.error.${err.error}`)) return say("report-status", t(`report.error.${err.error}`), true);
    throw err;
  }
  state.report = report;
  state.reportMarks = new Map();
  renderReport();
  await verifyReport();
  renderReport();
}

export function wireReport() {
  $("load-report").addEventListener("click", () => step("report-status", [$("load-report")], loadReport));
}
