"""The blacklist's derived table, kept in step with the event index.

The index calls BLACKLIST_PROJECTION inside its own write transaction after every range it
commits and every reorg or rewind it unwinds, so the entries always stand at the index's
block, and say so (blacklist_cursor holds that block and its time, against which expiries
are checked). How it keeps in step, on an unwind too, is node/chain/projection.py's.
"""

from sqlalchemy.engine import Connection

from node.blacklist.models import DELIST_REASONS, DELISTED, EXPIRED, LISTED, REASONS
from node.chain.events import Event
from node.chain.projection import KeyedProjection

CONTRACT = "Blacklist"
_COLUMNS = (
    "subject_key, member, reason, evidence, listed_at, expires_at, notice_id, status, "
    "disputed, ended_by, end_reason, block_number, changed_block"
)
_INSERT = (
    f"INSERT INTO blacklist_entry (id, {_COLUMNS}) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, FALSE, NULL, NULL, ?, ?) ON CONFLICT (id) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in _COLUMNS.split(", "))
)


def _fold(conn: Connection, events: list[Event]) -> None:
    """Write what each Blacklist event says of its entry, in chain order."""
    for e in events:
        if e.contract != CONTRACT:
            continue
        a = e.args
        if e.event == "Listed":
            conn.exec_driver_sql(_INSERT, (
                a["id"], bytes.fromhex(a["subjectKey"][2:]), a["member"], REASONS[a["reason"]],
                a["evidence"], a["listedAt"], a["expiresAt"], a["noticeId"], LISTED,
                e.block_number, e.block_number,
            ))  # fmt: skip
        elif e.event == "Delisted":
            conn.exec_driver_sql(
                "UPDATE blacklist_entry SET status = ?, ended_by = ?, end_reason = ?, "
                "changed_block = ? WHERE id = ?",
                (DELISTED, a["by"], DELIST_REASONS[a["reason"]], e.block_number, a["id"]),
            )
        elif e.event == "Expired":
            conn.exec_driver_sql(
                "UPDATE blacklist_entry SET status = ?, ended_by = ?, changed_block = ? "
                "WHERE id = ?",
                (EXPIRED, a["by"], e.block_number, a["id"]),
            )
        elif e.event == "DisputedSet":
            conn.exec_driver_sql(
                "UPDATE blacklist_entry SET disputed = ?, changed_block = ? WHERE id = ?",
                (a["disputed"], e.block_number, a["id"]),
            )


# The entries of the Blacklist contract, as of the index's block.
BLACKLIST_PROJECTION = KeyedProjection(
    contract=CONTRACT, table="blacklist_entry", cursor="blacklist_cursor", fold=_fold
)
