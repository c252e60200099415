"""The regulator view's entry points, as the routes and the peer route call them. Each view
is open only while this node's member holds the regulator role on chain, as its event index
has read it; every read comes from that index, except members' query logs, which the chain
holds only as roots (querylog.py), and objections, from the table the index derives from
the Disputes contract's events."""

import time
from typing import Any

import httpx

from node.deps import Node
from node.members.service import Snapshot, list_members
from node.regulator import overview, patterns, querylog
from node.regulator.errors import NodeNotRegulator
from node.regulator.schemas import DAY, PatternRules, QueryLogRequest, check_window


def require_regulator(node: Node) -> None:
    """NodeNotRegulator unless this node's member is active and holds the regulator role."""
    if not querylog.is_regulator(index=node.index, address=node.chain.client.account.address):
        raise NodeNotRegulator()


def members(node: Node) -> Snapshot:
    require_regulator(node)
    return overview.members(index=node.index)


def activity(node: Node, *, gap_hours: float, now: int | None = None) -> Snapshot:
    require_regulator(node)
    return overview.activity(index=node.index, gap_seconds=int(gap_hours * 3600),
                             now=int(time.time()) if now is None else now)  # fmt: skip


def listings(node: Node) -> Snapshot:
    require_regulator(node)
    return overview.listings(index=node.index, engine=node.engine)


def objections(node: Node) -> dict[str, Any]:
    require_regulator(node)
    return overview.objections(index=node.index, engine=node.engine)


def answer_log_request(node: Node, *, caller: str, body: QueryLogRequest) -> dict[str, Any]:
    """A page of this node's query log for the regulator `caller` (NotARegulator otherwise)."""
    return querylog.log_page(
        engine=node.engine, index=node.index, caller=caller,
        holder=node.chain.client.account.address, chain_id=node.chain.chain_id,
        registry=node.chain.addresses["RecordRegistry"], since=body.since, until=body.until,
        after=body.after, limit=body.limit,
    )  # fmt: skip


async def query_patterns(
    node: Node,
    *,
    rules: PatternRules,
    since: int | None,
    until: int | None,
    timeout: float,
    transport: httpx.AsyncBaseTransport | None = None,
) -> dict[str, Any]:
    """Every member's query log in the window (default: the last 30 days), checked against
    the chain, and the abnormal patterns in it. Only verified logs count; the others are
    named with the reason."""
    require_regulator(node)
    until = int(time.time()) + 1 if until is None else until
    since = until - 30 * DAY if since is None else since
    check_window(since, until)
    asked = [m for m in list_members(index=node.index).value
             if m["status"] in ("active", "suspended")]  # fmt: skip
    logs = await querylog.gather(
        engine=node.engine, index=node.index, chain=node.chain, members=asked, since=since,
        until=until, timeout=timeout, transport=transport,
    )  # fmt: skip
    queries = patterns.merge(e for log in logs for e in log["entries"])
    found = patterns.lookups(queries.values())
    names = {m["address"]: m["name"] for m in asked}
    active = {m["address"]: m["name"] for m in asked if m["status"] == "active"}
    return {
        "since": since,
        "until": until,
        "rules": {
            "volume_factor": rules.volume_factor,
            "volume_min_subjects": rules.volume_min_subjects,
            "office_hours": rules.office_hours(), "time_zone": rules.time_zone,
            "off_hours_min": rules.off_hours_min, "stacking_members": rules.stacking_members,
            "stacking_days": rules.stacking_days,
        },
        "members": [{"member": log["member"], "name": log["name"], "status": log["status"],
                     "entries": len(log["entries"]), "pending": log["pending"],
                     "error": log["error"]} for log in logs],
        "queries": len(queries),
        "volume": patterns.volume(found, active, rules),
        "off_hours": patterns.off_hours(found, names, rules),
        "stacking": patterns.stacking(found, rules),
    }  # fmt: skip
