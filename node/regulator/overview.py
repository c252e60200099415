"""The consortium as the node's event index holds it: members, their anchoring activity and
their blacklist listings. One read of the store per view, no chain round trip."""

from collections import Counter, defaultdict
from typing import Any

from sqlalchemy.engine import Engine

from node.anchoring.service import CHAIN_STATUSES
from node.blacklist.models import REASONS
from node.blacklist.service import listing_counts
from node.chain.index import EventIndex
from node.disputes import reads as disputes
from node.members.service import Snapshot, list_members

LISTING_STATUSES = ("active", "lapsed", "delisted", "expired")


def members(*, index: EventIndex) -> Snapshot:
    """Every member ever admitted, with its status and roles on chain."""
    snap = list_members(index=index)
    keys = ("address", "name", "node_url", "status", "roles", "joined_at")
    return Snapshot([{k: m[k] for k in keys} for m in snap.value], snap.as_of_block)


def _gaps(times: list[int], joined: int | None, now: int, least: int) -> list[dict[str, Any]]:
    """Silences longer than `least` seconds: from joining to the first anchor, between
    anchors, and from the last anchor to `now` (still open)."""
    marks = ([joined] if joined is not None else []) + times
    gaps: list[dict[str, Any]] = [{"start": a, "end": b, "seconds": b - a}
            for a, b in zip(marks, marks[1:], strict=False) if b - a > least]  # fmt: skip
    if marks and now - marks[-1] > least:
        gaps.append({"start": marks[-1], "end": None, "seconds": now - marks[-1]})
    return gaps


def activity(*, index: EventIndex, gap_seconds: int, now: int) -> Snapshot:
    """Per member: batches anchored, commitments in them, first and last anchor time, status
    changes of its commitments (expiries counted by the leaves its LeavesExpired events
    marked), and its silences longer than `gap_seconds` up to `now`."""
    found = list_members(index=index)
    snap = index.read("RecordRegistry", "BatchAnchored", "RecordStatusChanged", "LeavesExpired")
    anchors: dict[str, list[tuple[int, int]]] = defaultdict(list)  # member -> (time, size)
    changes: dict[str, Counter[str]] = defaultdict(Counter)
    for e in snap.events:
        if e.event == "BatchAnchored":
            anchors[e.args["member"]].append((e.block_time or 0, e.args["size"]))
        elif e.event == "LeavesExpired":  # leaves marked in a batch's expiry bitmap
            changes[e.args["member"]]["expired"] += int(e.args["bits"]).bit_count()
        else:
            changes[e.args["member"]][CHAIN_STATUSES[e.args["status"]]] += 1
    rows = []
    for m in found.value:
        times = [t for t, _ in anchors[m["address"]]]
        gaps = _gaps(times, m["joined_at"], now, gap_seconds)
        longest = max((b - a for a, b in zip(times, times[1:], strict=False)), default=None)
        rows.append({
            "address": m["address"], "name": m["name"], "status": m["status"],
            "batches": len(times), "leaves_anchored": sum(s for _, s in anchors[m["address"]]),
            "first_anchor_at": times[0] if times else None,
            "last_anchor_at": times[-1] if times else None,
            "status_changes": dict(sorted(changes[m["address"]].items())),
            "longest_gap_s": longest, "gaps": gaps,
        })  # fmt: skip
    return Snapshot(rows, snap.as_of_block)


def _no_listings(address: str, name: str) -> dict[str, Any]:
    return {"address": address, "name": name, "total": 0,
            "by_status": dict.fromkeys(LISTING_STATUSES, 0), "by_reason": dict.fromkeys(REASONS, 0),
            "active_by_reason": dict.fromkeys(REASONS, 0), "disputed": 0}  # fmt: skip


def listings(*, index: EventIndex, engine: Engine) -> Snapshot:
    """Per member: its blacklist entries counted by status and by reason, and how many are
    disputed; a member that never listed anyone shows zeros."""
    views = {m["address"]: _no_listings(m["address"], m["name"])
             for m in list_members(index=index).value}  # fmt: skip
    rows, block = listing_counts(engine=engine)
    for member, reason, status, disputed, count in rows:
        v = views.setdefault(member, _no_listings(member, ""))
        shown = "active" if status == "listed" else status
        v["total"] += count
        v["by_status"][shown] = v["by_status"].get(shown, 0) + count
        v["by_reason"][reason] = v["by_reason"].get(reason, 0) + count
        if shown == "active":
            v["active_by_reason"][reason] = v["active_by_reason"].get(reason, 0) + count
        v["disputed"] += count if disputed else 0
    return Snapshot(list(views.values()), block)


def objections(*, index: EventIndex, engine: Engine) -> dict[str, Any]:
    """Per member (every one ever admitted, none left out for having no objections): the
    objections against it open, answered in time and overdue, judged at the block the
    objections stand at; and every objection open past its deadline, oldest first."""
    names = disputes.member_names(index)
    sla = disputes.sla_and_overdue(engine=engine, names=names)
    counted = {m["member"]: m for m in sla["members"]}
    zero = {"total": 0, "open": 0, "answered_in_time": 0, "overdue": 0, "overdue_open": 0,
            "ruled": 0}  # fmt: skip
    members = [counted.get(a) or {"member": a, "name": n, **zero} for a, n in names.items()]
    members += [m for a, m in counted.items() if a not in names]
    return {"as_of_block": sla["as_of_block"], "block_time": sla["block_time"],
            "members": members, "overdue": sla["overdue"]}  # fmt: skip
