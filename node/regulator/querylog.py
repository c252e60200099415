"""Members' query logs for the regulator. The chain holds each log only as Merkle roots, so
the regulator's node asks every member's node for its entries (POST /v1/peer/query-log, the
request signed with the regulator's member key) and believes none it cannot check: each comes
as a receipt whose commitment and path must lead to a root that member anchored, as the
regulator's own event index holds it.

A member's node answers only a member that is active and holds the regulator role, as its own
event index has read the chain.
"""

import asyncio
from typing import Any

import httpx
import orjson
from sqlalchemy.engine import Engine

from node.anchoring.service import LeafPending
from node.chain.index import EventIndex
from node.chain.setup import Chain
from node.crypto.eip712 import checksum
from node.crypto.hexutil import to_hex
from node.limits import MiB
from node.members.service import fold_members
from node.peers import answers
from node.peers.answers import PEER_ANSWER_LIMIT, AnswerTooLarge
from node.peers.signing import signed_headers
from node.queries.log import entries_between, query_receipt
from node.receipts.verify import Verdict, check_offline
from node.regulator.errors import LogRejected, NotARegulator
from node.regulator.schemas import PAGE, check_window

PEER_PATH = "/v1/peer/query-log"
MAX_LOG_ENTRIES = 1000 * PAGE  # the most entries this node reads of one member's log
MAX_LOG_BYTES = 256 * MiB  # and the most bytes, over all its pages
_MEMBER_EVENTS = ("MemberAdded", "MemberStatusChanged", "RoleGranted", "RoleRevoked")
ENTRY_FIELDS = (
    "query_id",
    "side",
    "subject_key",
    "consent_id",
    "purpose",
    "requester",
    "holder",
    "at",
)


def standing(*, index: EventIndex, address: str) -> dict[str, Any] | None:
    """The member's status and roles as the index has read them; None if never admitted."""
    address = checksum(address)
    snap = index.read("Consortium", *_MEMBER_EVENTS, where={"member": address})
    return fold_members(snap.events).get(address)


def is_regulator(*, index: EventIndex, address: str) -> bool:
    """Whether `address` is an active member holding the regulator role now."""
    member = standing(index=index, address=address)
    return member is not None and member["status"] == "active" and "regulator" in member["roles"]


# -- the member's side ------------------------------------------------------------------------


def log_page(
    *,
    engine: Engine,
    index: EventIndex,
    caller: str,
    holder: str,
    chain_id: int,
    registry: str,
    since: int,
    until: int,
    after: int,
    limit: int,
) -> dict[str, Any]:
    """A page of this node's query log for a regulator: a receipt for each anchored entry,
    the count of those not anchored yet, and where the next page starts."""
    if not is_regulator(index=index, address=caller):
        raise NotARegulator(checksum(caller))
    check_window(since, until)
    as_of = index.indexed_block()
    rows = entries_between(engine, since=since, until=until, after=after, limit=limit)
    receipts, pending = [], 0
    for row in rows:
        try:
            receipts.append(
                query_receipt(
                    engine,
                    entry=row["entry"],
                    salt=row["salt"],
                    leaf_id=row["leaf_id"],
                    chain_id=chain_id,
                    registry=registry,
                )
            )
        except LeafPending:
            pending += 1
    return {
        "member": holder,
        "as_of_block": as_of,
        "receipts": receipts,
        "pending": pending,
        "next": rows[-1]["id"] if len(rows) == limit else None,
    }


# -- the regulator's side ---------------------------------------------------------------------


def anchored_batches(index: EventIndex, member: str) -> dict[int, tuple[str, int]]:
    """The member's batches as the index holds them: batch id -> (root, size)."""
    snap = index.read("RecordRegistry", "BatchAnchored", where={"member": checksum(member)})
    return {e.args["batchId"]: (e.args["root"].lower(), e.args["size"]) for e in snap.events}


def check_entries(
    *,
    member: str,
    receipts: Any,
    batches: dict[int, tuple[str, int]],
    chain_id: int,
    registry: str,
) -> list[dict[str, Any]]:
    """The entries of a member's receipts, each checked: it hashes to its commitment, its
    path leads to the root of a batch this member anchored (with that size), it is a query
    entry in which this member is the side it claims. LogRejected at the first that fails."""
    if not isinstance(receipts, list):
        raise LogRejected(member, "-", "receipts is not a list")
    entries = []
    for receipt in receipts:
        entry = receipt.get("entry") if isinstance(receipt, dict) else None
        query_id = str(entry.get("query_id", "?")) if isinstance(entry, dict) else "?"
        if not isinstance(entry, dict) or receipt.get("kind") != "query":
            raise LogRejected(member, query_id, "not a query log receipt")
        verdict = Verdict()
        root = check_offline(receipt, verdict)
        if root is None:
            why = "; ".join(d for _, ok, d in verdict.checks if not ok) or "not a receipt"
            raise LogRejected(member, query_id, why)
        if receipt["chain_id"] != chain_id or receipt["registry"].lower() != registry.lower():
            raise LogRejected(member, query_id, "the receipt names another chain or registry")
        batch = batches.get(receipt["batch_id"])
        if batch is None:
            raise LogRejected(
                member, query_id, f"batch {receipt['batch_id']} is not one this member anchored"
            )
        if batch != (to_hex(root), receipt["tree_size"]):
            raise LogRejected(
                member,
                query_id,
                f"batch {receipt['batch_id']} on chain has root {batch[0]} and size {batch[1]}",
            )
        if entry.get("kind") != "query" or any(f not in entry for f in ENTRY_FIELDS):
            raise LogRejected(member, query_id, "the entry is not a query log entry")
        side = entry["side"]
        if side not in ("requester", "holder") or str(entry[side]).lower() != member.lower():
            raise LogRejected(member, query_id, f"the entry's {side} is not this member")
        entries.append({f: entry[f] for f in ENTRY_FIELDS})
    return entries


def log_request(chain: Chain, body: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
    """The body and signed headers of one page request from this node's member."""
    raw = orjson.dumps(body)
    headers = signed_headers(
        chain.client.account,
        chain_id=chain.chain_id,
        contract=chain.addresses["Consortium"],
        method="POST",
        path=PEER_PATH,
        body=raw,
    )
    return raw, {**headers, "Content-Type": "application/json"}


def _too_large(result: dict[str, Any]) -> dict[str, Any]:
    detail = (f"the log in the window is more than {MAX_LOG_ENTRIES} entries or "
              f"{MAX_LOG_BYTES // MiB} MiB, the most this node reads of one member's; "
              "ask for a shorter window")  # fmt: skip
    return {**result, "status": "rejected", "receipts": [],
            "error": {"error": "answer_too_large", "detail": detail}}  # fmt: skip


async def fetch_log(
    http: httpx.AsyncClient,
    chain: Chain,
    member: dict[str, Any],
    *,
    since: int,
    until: int,
    timeout: float,
) -> dict[str, Any]:
    """Every page of one member's log in the window, as it came (not yet checked), or why
    there is none: status answered, refused, unreachable or timeout (each page within
    `timeout`), or rejected (answer_too_large: past MAX_LOG_ENTRIES or MAX_LOG_BYTES)."""
    result: dict[str, Any] = {
        "member": member["address"],
        "name": member["name"],
        "receipts": [],
        "pending": 0,
        "error": None,
    }
    if not member["node_url"]:
        return {
            **result,
            "status": "unreachable",
            "error": {"error": "unreachable", "detail": "no node URL on chain"},
        }
    after: int | None = 0
    budget, counted = MAX_LOG_BYTES, 0
    while after is not None:
        raw, headers = log_request(
            chain, {"since": since, "until": until, "after": after, "limit": PAGE}
        )
        try:
            status, page, size = await answers.post(
                http,
                member["node_url"].rstrip("/") + PEER_PATH,
                content=raw,
                headers=headers,
                timeout=timeout,
                limit=min(PEER_ANSWER_LIMIT, budget),
            )
        except (TimeoutError, httpx.TimeoutException):
            return {
                **result,
                "status": "timeout",
                "receipts": [],
                "error": {"error": "timeout", "detail": f"no answer within {timeout:g}s"},
            }
        except AnswerTooLarge:
            return _too_large(result)
        except (httpx.HTTPError, OSError) as err:
            return {
                **result,
                "status": "unreachable",
                "receipts": [],
                "error": {"error": "unreachable", "detail": type(err).__name__},
            }
        if status != 200 or not isinstance(page, dict):
            error = page if isinstance(page, dict) else {"error": f"http_{status}"}
            return {**result, "status": "refused", "receipts": [], "error": error}
        receipts, pending = page.get("receipts", []), page.get("pending", 0)
        if not isinstance(receipts, list) or type(pending) is not int or pending < 0:
            error = {"error": "invalid_page", "detail": "receipts is not a list or pending "
                     "not a count"}  # fmt: skip
            return {**result, "status": "refused", "receipts": [], "error": error}
        budget -= size
        counted += len(receipts) + pending
        if counted > MAX_LOG_ENTRIES:
            return _too_large(result)
        result["receipts"] += receipts
        result["pending"] += pending
        following = page.get("next")
        # a page that moves on: a member sending the same page again would be asked forever
        after = following if isinstance(following, int) and following > after else None
    return {**result, "status": "answered"}


async def gather(
    *,
    engine: Engine,
    index: EventIndex,
    chain: Chain,
    members: list[dict[str, Any]],
    since: int,
    until: int,
    timeout: float,
    transport: httpx.AsyncBaseTransport | None = None,
) -> list[dict[str, Any]]:
    """Every member's log in the window, each checked against the chain as the index holds
    it: status verified (with its entries), rejected (naming the entry), refused,
    unreachable or timeout. This node's own log is read from its store, and checked alike."""
    me = chain.client.account.address
    registry = chain.addresses["RecordRegistry"]

    async def own() -> dict[str, Any]:
        page = await asyncio.to_thread(
            log_page,
            engine=engine,
            index=index,
            caller=me,
            holder=me,
            chain_id=chain.chain_id,
            registry=registry,
            since=since,
            until=until,
            after=0,
            limit=2**62,
        )
        name = next((m["name"] for m in members if m["address"] == me), "")
        return {
            "member": me,
            "name": name,
            "receipts": page["receipts"],
            "pending": page["pending"],
            "error": None,
            "status": "answered",
        }

    async with httpx.AsyncClient(transport=transport) as http:
        results = await asyncio.gather(
            *(
                own()
                if m["address"] == me
                else fetch_log(http, chain, m, since=since, until=until, timeout=timeout)
                for m in members
            )
        )

    def check_all() -> None:
        for r in results:
            receipts = r.pop("receipts")
            r["entries"] = []
            if r["status"] != "answered":
                continue
            try:
                r["entries"] = check_entries(
                    member=r["member"],
                    receipts=receipts,
                    batches=anchored_batches(index, r["member"]),
                    chain_id=chain.chain_id,
                    registry=registry,
                )
                r["status"] = "verified"
            except LogRejected as err:
                r.update(
                    status="rejected",
                    error={"error": err.code, "detail": err.detail, "query_id": err.query_id},
                )

    await asyncio.to_thread(check_all)
    return list(results)
