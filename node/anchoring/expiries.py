"""Expiries marked in batches' bitmaps, read from chain events.

RecordRegistry.expireLeaves sets one bit a leaf, keyed by (chain batch id, leaf index), and
emits LeavesExpired(batchId, member, word, bits) with the fresh bits of each word; no
RecordStatusChanged is emitted and `statusOf` does not change. Whoever tells a commitment's
status from events therefore folds these in: a leaf whose bit is set is Expired if its
commitment's own status was Active or Disputed then (Superseded and Revoked are final).
The node places its own leaves by its `leaf`/`batch` tables; an outside auditor by the
bundle's batch id and leaf index.
"""

from collections.abc import Iterable
from typing import Any

from sqlalchemy.engine import Connection

from node.anchoring.service import CHAIN_STATUSES
from node.chain.events import Event
from node.chain.index import EventIndex

FINAL = ("superseded", "revoked", "expired")

Place = tuple[int, int]  # (chain batch id, leaf index)


def leaf_indexes(word: int, bits: int) -> list[int]:
    """The leaf indexes bitmap word `word`'s `bits` name (bit i is leaf word * 256 + i)."""
    return [word * 256 + i for i in range(256) if bits >> i & 1]


def expiry_events(events: Iterable[Event]) -> dict[Place, Event]:
    """The LeavesExpired event that set each leaf's bit, by (chain batch id, leaf index)."""
    marked: dict[Place, Event] = {}
    for e in events:
        if e.event != "LeavesExpired":
            continue
        batch_id = int(e.args["batchId"])
        for index in leaf_indexes(int(e.args["word"]), int(e.args["bits"])):
            marked.setdefault((batch_id, index), e)
    return marked


def folded_status(changes: Iterable[Event], expiry: Event | None) -> tuple[str, Event | None]:
    """A commitment's status from its RecordStatusChanged events and the LeavesExpired event
    that set its leaf's bit (if any), as the registry's `statusAt` folds them, and the event
    that set it (None while active)."""
    timeline = sorted(
        [*changes, *([expiry] if expiry is not None else [])],
        key=lambda e: (e.block_number, e.log_index),
    )
    status, last = "active", None
    for e in timeline:
        if e.event == "LeavesExpired":
            if status in ("active", "disputed"):
                status, last = "expired", e
        elif status not in FINAL:
            status, last = CHAIN_STATUSES[int(e.args["status"])], e
    return status, last


def status_from_index(
    index: EventIndex, commitment: str, place: Place | None, conn: Connection | None = None
) -> tuple[str, Event | None]:
    """`commitment`'s status on chain as the event index has read it, its leaf at `place`
    (None: not known to be on chain, no expiry bit to fold in), and the event that set it."""
    key = {"commitment": bytes.fromhex(commitment[2:])}
    changes = index.read("RecordRegistry", "RecordStatusChanged", where=key, conn=conn).events
    expiry = None
    if place is not None:
        marks = index.read("RecordRegistry", "LeavesExpired", where={"batchId": place[0]},
                           conn=conn).events  # fmt: skip
        expiry = expiry_events(marks).get(place)
    return folded_status(changes, expiry)


def places_of(conn: Connection, leaf_ids: list[int]) -> dict[int, Place]:
    """Where this node's leaves `leaf_ids` sit on chain: (chain batch id, leaf index), for
    those in a batch that has landed."""
    out: dict[int, Place] = {}
    for start in range(0, len(leaf_ids), 500):
        chunk = leaf_ids[start : start + 500]
        marks = ",".join("?" * len(chunk))
        rows = conn.exec_driver_sql(
            f"SELECT l.id, b.chain_batch_id, l.id - b.first_leaf FROM leaf l "
            f"JOIN batch b ON l.id BETWEEN b.first_leaf AND b.last_leaf "
            f"WHERE l.id IN ({marks}) AND b.chain_batch_id IS NOT NULL",
            tuple(chunk),
        ).all()
        out.update({int(r[0]): (int(r[1]), int(r[2])) for r in rows})
    return out


def chain_mark(event: Event | None, status: str) -> dict[str, Any] | None:
    """The event that gave a commitment its final status, as the API shows it."""
    if event is None or status not in FINAL:
        return None
    return {
        "status": status,
        "block": event.block_number,
        "time": event.block_time,
        "tx_hash": event.tx_hash,
        "by": event.args.get("by", event.args.get("member")),
    }
