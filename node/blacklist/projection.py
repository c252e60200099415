"""The blacklist's derived table, kept in step with the event index.

The index calls BLACKLIST_PROJECTION inside its own write transaction after every range it
commits and every reorg or rewind it unwinds, so the entries always stand at the index's
block, and say so (blacklist_cursor holds that block and its time, against which expiries
are checked). On an unwind the entries any dropped event touched are derived again from the
events the index still holds; with no cursor row (a store indexed before this table
existed) the whole table is derived from chain_event once.
"""

from sqlalchemy.engine import Connection

from node.blacklist.models import DELIST_REASONS, DELISTED, EXPIRED, LISTED, REASONS
from node.chain.events import COLUMNS, Event, event_from_row
from node.chain.index import Tip

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


def _indexed(conn: Connection, ids: list[int] | None) -> list[Event]:
    """The index's Blacklist events (of entries `ids` only, if given), in chain order."""
    sql = f"SELECT {COLUMNS} FROM chain_event WHERE contract = ?"
    params: list[object] = [CONTRACT]
    if ids is not None:
        sql += f" AND topic1 IN ({', '.join('?' * len(ids))})"
        params += ["0x" + i.to_bytes(32, "big").hex() for i in ids]
    rows = conn.exec_driver_sql(sql + " ORDER BY block_number, log_index", tuple(params))
    return [event_from_row(r) for r in rows]


def _set_cursor(conn: Connection, tip: Tip) -> None:
    if tip.number is None or tip.time is None:
        conn.exec_driver_sql("DELETE FROM blacklist_cursor")
        return
    conn.exec_driver_sql(
        "INSERT INTO blacklist_cursor (id, block_number, block_time) VALUES (1, ?, ?) "
        "ON CONFLICT (id) DO UPDATE SET block_number = excluded.block_number, "
        "block_time = excluded.block_time",
        (tip.number, tip.time),
    )


class BlacklistProjection:
    """The entries of the Blacklist contract, as of the index's block."""

    def apply(self, conn: Connection, events: list[Event], tip: Tip) -> None:
        if conn.exec_driver_sql("SELECT 1 FROM blacklist_cursor").first() is None:
            conn.exec_driver_sql("DELETE FROM blacklist_entry")
            events = _indexed(conn, None)  # these events are in chain_event already
        _fold(conn, events)
        _set_cursor(conn, tip)

    def unwind(self, conn: Connection, tip: Tip) -> None:
        above = -1 if tip.number is None else tip.number
        ids = [r[0] for r in conn.exec_driver_sql(
            "SELECT id FROM blacklist_entry WHERE changed_block > ?", (above,))]  # fmt: skip
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            conn.exec_driver_sql(
                f"DELETE FROM blacklist_entry WHERE id IN ({', '.join('?' * len(chunk))})",
                tuple(chunk),
            )
            _fold(conn, _indexed(conn, chunk))
        _set_cursor(conn, tip)


BLACKLIST_PROJECTION = BlacklistProjection()
