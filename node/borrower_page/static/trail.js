// The borrower's trail as one list, newest first, and the rule that flags a query in red.
// Pure: the page and the tests under Node run the same functions.

/**
 * Why a query should not have happened, or null: "no_consent" (no consent with its id about
 * this subject), "before_window", "after_window" (outside [validFrom, validUntil)), or
 * "after_revocation" (at or after revokedAt). `consent` holds unix seconds, as the chain's
 * getConsent answers them (revokedAt 0 while the consent stands).
 */
export function queryFlag(query, consent) {
  if (!consent) return "no_consent";
  if (query.at < consent.validFrom) return "before_window";
  if (query.at >= consent.validUntil) return "after_window";
  if (consent.revokedAt && query.at >= consent.revokedAt) return "after_revocation";
  return null;
}

/**
 * Every binding, unbinding, consent, revocation, query, objection and objection outcome of a
 * trail answer
 * (GET /v1/subjects/{key}/trail) as {kind, at, item}, newest first; ties keep chain order
 * reversed, so a revocation stays above the consent it ends.
 */
export function timeline(trail) {
  const events = [];
  for (const b of trail.bindings ?? []) {
    events.push({ kind: "binding", at: b.time, order: [b.block_number, b.log_index], item: b });
    if (b.unbound) {
      events.push({ kind: "unbinding", at: b.unbound.time, order: [b.unbound.block_number, 1e9], item: b });
    }
  }
  for (const c of trail.consents ?? []) {
    events.push({ kind: "consent", at: c.registered_at, order: [c.registered_block, 0], item: c });
    if (c.revoked_at != null) {
      events.push({ kind: "revocation", at: c.revoked_at, order: [c.revoked_block, 1e9], item: c });
    }
  }
  for (const q of trail.queries ?? []) {
    events.push({ kind: "query", at: q.at, order: [q.receipt?.block_number ?? Number.MAX_SAFE_INTEGER, 0], item: q });
  }
  for (const o of trail.objections ?? []) {
    events.push({ kind: "objection", at: o.filed_at, order: [o.block_number, 0], item: o });
    if (o.answer) {
      events.push({ kind: "objection_answer", at: o.answer.at, order: [Number.MAX_SAFE_INTEGER, 0], item: o });
    }
  }
  const byOrder = (a, b) => a.order[0] - b.order[0] || a.order[1] - b.order[1];
  return events.sort((a, b) => b.at - a.at || byOrder(b, a));
}
