"""The query-log cross-check: each side of a query anchors its own copy of the log entry
(node/queries/log.py), so two members' bundles must agree. A query one side logged and the
other did not is named: a requester that asked without the holder logging an answer, or a
holder that answered a query the requester does not admit to."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from node.audit.core import Finding, QuerySeen

# Entries this close to the end of the earlier bundle (its last batch's anchoring time on
# chain) are not compared: the other side may have logged its copy after its own bundle's
# last batch was cut, and the members' clocks differ a little.
SETTLING_SECONDS = 120


@dataclass(frozen=True)
class Side:
    """One member's bundle as the cross-check needs it: proven query entries, and when the
    last batch it covers was anchored, as the chain says (None: it covers none)."""

    member: str
    queries: list[QuerySeen]
    through: float | None


def _about(entries: Iterable[QuerySeen], side: str, peer_field: str,
           peer: str) -> dict[str, QuerySeen]:  # fmt: skip
    return {q.query_id: q for q in entries if q.side == side and getattr(q, peer_field) == peer}


def cross_check(a: Side, b: Side) -> tuple[int, list[Finding]]:
    """Compare the queries between members a and b; (entries compared, one-sided ones)."""
    throughs = [t for t in (a.through, b.through) if t is not None]
    cutoff = min(throughs) - SETTLING_SECONDS if throughs else float("-inf")
    compared, found = 0, []
    # a asked b; then b asked a: the requester's copy against the holder's
    for requester, holder in ((a, b), (b, a)):
        asked = _about(requester.queries, "requester", "holder", holder.member.lower())
        answered = _about(holder.queries, "holder", "requester", requester.member.lower())
        for query_id in sorted(asked.keys() ^ answered.keys()):
            q = asked.get(query_id) or answered[query_id]
            if q.at > cutoff:
                continue
            logged, silent = (requester, holder) if query_id in asked else (holder, requester)
            role = "requester" if logged is requester else "holder"
            found.append(Finding(
                "one_sided_query",
                f"query {query_id} (purpose {q.purpose}, at {q.at}) logged by its {role} "
                f"{logged.member} and not by {silent.member}",
                batch=q.batch, leaf=q.leaf, record_id=query_id,
            ))  # fmt: skip
        compared += sum(1 for q in asked.values() if q.at <= cutoff)
        compared += sum(1 for q in answered.values() if q.at <= cutoff)
    return compared, found
