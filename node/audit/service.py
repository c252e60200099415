"""The audit of one or more bundles against the chain alone: each bundle's lines checked by
the core (node/audit/core.py) against its member's batches and statuses read in bulk
(node/audit/chainview.py), its signature and completeness, then the query logs of every two
bundles against each other. The outcome is one report (a plain dict), written as JSON and
HTML by node/audit/report.py."""

from __future__ import annotations

import itertools
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from node.audit.bundle import BundleReader
from node.audit.chainview import ChainFacts
from node.audit.core import FINDING_KINDS, Finding, LineChecker, QuerySeen, check_batch_chain
from node.audit.objections import overdue_objections
from node.audit.querylog import Side, cross_check

PROGRESS_EVERY = 20_000  # lines between two progress reports

FactsFor = Callable[[dict[str, Any]], ChainFacts]  # a bundle's header -> the chain's facts
Progress = Callable[[str, int, int], None]  # (bundle, bytes read, bytes in all)


@dataclass
class BundleAudit:
    """What the audit of one bundle found."""

    path: str
    header: dict[str, Any]
    chain: dict[str, Any]
    findings: list[Finding]
    counts: Counter[str]
    lines: int = 0
    proven: int = 0
    erased: int = 0
    withheld: int = 0
    batches_covered: int = 0
    batches_after: int = 0
    through: int | None = None  # when the last batch the bundle covers was anchored
    queries: list[QuerySeen] = field(default_factory=list)
    objections: int | None = None  # against the member, as read; None: none could be read

    def summary(self) -> dict[str, Any]:
        return {
            "bundle": self.path,
            "member": self.header.get("member"),
            "as_of_block": self.header.get("as_of_block"),
            "created_at": self.header.get("created_at"),
            "lines": self.lines,
            "proven": self.proven,
            "erased": self.erased,
            "withheld": self.withheld,
            "batches_covered": self.batches_covered,
            "batches_after_bundle": self.batches_after,
            "chain": self.chain,
            "findings": dict(self.counts),
        }


def audit_bundle(
    path: Path, facts_for: FactsFor, progress: Progress | None = None, *, share_nodes: bool = True
) -> BundleAudit:
    """Check one bundle line by line; raises BundleError if it is not a bundle at all.
    `share_nodes=False` walks every path to the root (see core.proves), for comparison."""
    size = path.stat().st_size
    with path.open("rb") as stream:
        reader = BundleReader(stream)
        header = reader.header
        facts = facts_for(header)
        audit = BundleAudit(str(path), header, facts.summary(), [], Counter())
        mismatch = _mismatch(header, facts)
        checker = LineChecker(batches=facts.batches, statuses=facts.statuses,
                              expired=facts.expired, share_nodes=share_nodes)  # fmt: skip
        for line_no, raw in reader.leaf_lines():
            checker.check(line_no, raw)
            if progress and line_no % PROGRESS_EVERY == 0:
                progress(str(path), reader.bytes_read, size)
        if progress:
            progress(str(path), reader.bytes_read, size)
    as_of = header.get("as_of_block")
    as_of = as_of if isinstance(as_of, int) else -1  # a bundle of nothing claims no block
    made_at = header.get("created_at")
    checker.finish(as_of_block=as_of, made_at=made_at if isinstance(made_at, int) else None)
    for problem in mismatch + reader.problems():
        checker.findings.add(Finding("bundle", problem))
    for finding in check_batch_chain(list(facts.batches.values())):
        checker.findings.add(finding)
    if facts.objections is not None:
        objections, at = facts.objections
        audit.objections = len(objections)
        for finding in overdue_objections(objections, member=facts.member, now=at):
            checker.findings.add(finding)
    audit.findings, audit.counts = checker.findings.named, checker.findings.counts
    audit.lines, audit.proven, audit.erased = reader.lines, checker.records, checker.erased
    audit.withheld = checker.withheld
    audit.batches_covered = sum(1 for b in facts.batches.values() if b.block_number <= as_of)
    # the rest were anchored after the bundle's block (and, unless named missing, too late
    # to be settled in it)
    audit.batches_after = len(facts.batches) - audit.batches_covered
    covered = [b.anchored_at for b in facts.batches.values() if b.block_number <= as_of]
    audit.through = max(covered, default=None)
    audit.queries = checker.queries
    return audit


def _mismatch(header: dict[str, Any], facts: ChainFacts) -> list[str]:
    found = []
    if header.get("chain_id") != facts.chain_id:
        found.append(f"the bundle is for chain {header.get('chain_id')}, the audit reads chain "
                     f"{facts.chain_id}")  # fmt: skip
    if str(header.get("registry", "")).lower() != facts.registry.lower():
        found.append(f"the bundle names registry {header.get('registry')}, the audit reads "
                     f"{facts.registry}")  # fmt: skip
    as_of = header.get("as_of_block")
    if as_of is not None and (not isinstance(as_of, int) or as_of > facts.head):
        found.append(f"the bundle claims block {as_of}, past the chain's head {facts.head}")
    return found


def audit(
    paths: list[Path],
    facts_for: FactsFor,
    *,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Audit every bundle, cross-check the query logs of every two; the report."""
    started = time.time()
    audits = [audit_bundle(p, facts_for, progress) for p in paths]
    findings: list[dict[str, Any]] = []
    for a in audits:
        findings += [{"member": a.header.get("member"), "bundle": a.path, **f.as_dict()}
                     for f in a.findings]  # fmt: skip
    pairs = []
    for a, b in itertools.combinations(audits, 2):
        compared, one_sided = cross_check(_side(a), _side(b))
        pairs.append({"members": [a.header.get("member"), b.header.get("member")],
                      "compared": compared, "one_sided": len(one_sided)})  # fmt: skip
        findings += [{"member": None, **f.as_dict()} for f in one_sided]
    unread = [str(a.header.get("member")) for a in audits if a.objections is None]
    objection_part: dict[str, Any] = {
        "checked": not unread,
        "objections": sum(a.objections or 0 for a in audits),
        "detail": "objections answered inside their deadlines, judged at the chain's head: "
        f"{sum(a.objections or 0 for a in audits):,} against the audited members"
        if not unread
        else "not checked for " + ", ".join(unread) + ": the chain read holds no Disputes "
        "contract's events",
    }
    totals: Counter[str] = Counter(f["kind"] for f in findings)
    for a in audits:  # beyond MAX_NAMED a kind is counted, not named
        totals.update(a.counts - Counter(f.kind for f in a.findings))
    return {
        "ok": not totals,
        "audited_at": int(started),
        "seconds": round(time.time() - started, 3),
        "bundles": [a.summary() for a in audits],
        "summary": {kind: totals[kind] for kind in FINDING_KINDS if totals[kind]},
        "findings": findings,
        "query_cross_check": {"checked": len(audits) > 1, "pairs": pairs},
        "objections": objection_part,
        "kinds": FINDING_KINDS,
    }


def _side(a: BundleAudit) -> Side:
    return Side(str(a.header.get("member")), a.queries, a.through)


__all__ = ["audit", "audit_bundle"]
