"""Abnormal query patterns, computed over subject keys only (never an identity): pure
functions over the queries the members' logs hold.

A query is one member asking another about one subject; both sides log it under one
query_id, so it is counted once whoever logged it. A lookup is what a lender did once: the
subject looked up by one member at one second, however many holders it asked.
"""

import datetime as dt
import statistics
from collections import defaultdict
from collections.abc import Iterable
from typing import Any, NamedTuple

from node.regulator.schemas import DAY, PatternRules

EXAMPLES = 20  # off-hours lookups named per member


class Lookup(NamedTuple):
    requester: str
    subject_key: str
    at: int


def merge(entries: Iterable[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Queries by query_id from log entries of both sides; a query keeps the requester's
    time when it logged one, and `sides` says who logged it."""
    queries: dict[str, dict[str, Any]] = {}
    for e in entries:
        q = queries.setdefault(e["query_id"], {
            "query_id": e["query_id"], "requester": e["requester"], "holder": e["holder"],
            "subject_key": e["subject_key"].lower(), "at": e["at"], "sides": set(),
        })  # fmt: skip
        if e["side"] == "requester":
            q["at"] = e["at"]
        q["sides"].add(e["side"])
    return queries


def lookups(queries: Iterable[dict[str, Any]]) -> list[Lookup]:
    """The distinct lookups, oldest first."""
    found = {Lookup(q["requester"], q["subject_key"], q["at"]) for q in queries}
    return sorted(found, key=lambda lk: (lk.at, lk.requester, lk.subject_key))


def volume(
    found: list[Lookup], members: dict[str, str], rules: PatternRules
) -> list[dict[str, Any]]:
    """Each member's distinct subjects against the median of its peers' (every other member
    in `members`, address -> name, a member that looked up nobody counting 0); flagged above
    volume_factor times that median and at least volume_min_subjects."""
    subjects: dict[str, set[str]] = {m: set() for m in members}
    counts: dict[str, int] = defaultdict(int)
    for lk in found:
        subjects.setdefault(lk.requester, set()).add(lk.subject_key)
        counts[lk.requester] += 1
    rows = []
    for member, keys in subjects.items():
        peers = [len(v) for m, v in subjects.items() if m != member]
        median = statistics.median(peers) if peers else 0
        ratio = len(keys) / median if median else None
        flagged = len(keys) >= rules.volume_min_subjects and (
            median == 0 or len(keys) > rules.volume_factor * median
        )
        rows.append({
            "member": member, "name": members.get(member, ""), "subjects": len(keys),
            "lookups": counts[member], "peer_median": median,
            "ratio": None if ratio is None else round(ratio, 2), "flagged": flagged,
        })  # fmt: skip
    return sorted(rows, key=lambda r: (-r["subjects"], r["member"]))


def outside_office(at: int, rules: PatternRules) -> bool:
    local = dt.datetime.fromtimestamp(at, rules.zone).time()
    start, end = rules.office_start, rules.office_end
    inside = start <= local < end if start < end else (local >= start or local < end)
    return not inside


def off_hours(
    found: list[Lookup], members: dict[str, str], rules: PatternRules
) -> list[dict[str, Any]]:
    """Each member that looked anyone up: how many lookups fell outside office hours in the
    rules' time zone, the first few of them, and whether that is at least off_hours_min."""
    by_member: dict[str, list[Lookup]] = defaultdict(list)
    outside: dict[str, list[Lookup]] = defaultdict(list)
    for lk in found:
        by_member[lk.requester].append(lk)
        if outside_office(lk.at, rules):
            outside[lk.requester].append(lk)
    zone = rules.zone
    return sorted(
        (
            {
                "member": member,
                "name": members.get(member, ""),
                "lookups": len(all_),
                "off_hours": len(outside[member]),
                "flagged": len(outside[member]) >= rules.off_hours_min,
                "examples": [
                    {
                        "subject_key": lk.subject_key,
                        "at": lk.at,
                        "local_time": dt.datetime.fromtimestamp(lk.at, zone).isoformat(),
                    }
                    for lk in outside[member][:EXAMPLES]
                ],
            }  # fmt: skip
            for member, all_ in by_member.items()
        ),
        key=lambda r: (-r["off_hours"], r["member"]),
    )


def stacking(found: list[Lookup], rules: PatternRules) -> list[dict[str, Any]]:
    """Subjects looked up by at least stacking_members members within stacking_days days
    (多头借贷): for each, the widest such window's members and its first and last lookup."""
    window = int(rules.stacking_days * DAY)
    by_subject: dict[str, list[Lookup]] = defaultdict(list)
    for lk in found:  # oldest first
        by_subject[lk.subject_key].append(lk)
    flagged = []
    for subject, seen in by_subject.items():
        best: tuple[int, int, int] | None = None  # (members, first, last index)
        start = 0
        for end in range(len(seen)):
            while seen[end].at - seen[start].at > window:
                start += 1
            count = len({lk.requester for lk in seen[start : end + 1]})
            if best is None or count > best[0]:
                best = (count, start, end)
        if best is not None and best[0] >= rules.stacking_members:
            _, first, last = best
            span = seen[first : last + 1]
            flagged.append({
                "subject_key": subject, "members": sorted({lk.requester for lk in span}),
                "lookups": len(span), "first_at": span[0].at, "last_at": span[-1].at,
            })  # fmt: skip
    return sorted(flagged, key=lambda r: (-len(r["members"]), r["first_at"]))
