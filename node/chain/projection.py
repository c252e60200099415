"""A table derived from one contract's events, one row per on-chain id (the events' first
indexed topic), kept in step with the event index.

The index calls it inside its own write transaction after every range it commits and every
reorg or rewind it unwinds, so the rows always stand at the index's block, and say so (a
one-row cursor table holds that block and its time). On an unwind the rows any dropped event
touched are derived again from the events the index still holds; with no cursor row (a store
indexed before the table existed) the whole table is derived from chain_event once.
"""

from collections.abc import Callable

from sqlalchemy.engine import Connection

from node.chain.events import COLUMNS, Event, event_from_row
from node.chain.index import Tip

Fold = Callable[[Connection, list[Event]], None]  # writes what each event says of its row


class KeyedProjection:
    """`table`'s rows (keyed by `id`, each with the `changed_block` of its latest event),
    folded from `contract`'s events by `fold`; `cursor` the table of the block they stand at."""

    def __init__(self, *, contract: str, table: str, cursor: str, fold: Fold) -> None:
        self.contract, self.table, self.cursor, self.fold = contract, table, cursor, fold

    def indexed(self, conn: Connection, ids: list[int] | None) -> list[Event]:
        """The index's events of the contract (of rows `ids` only, if given), in chain order."""
        sql = f"SELECT {COLUMNS} FROM chain_event WHERE contract = ?"
        params: list[object] = [self.contract]
        if ids is not None:
            sql += f" AND topic1 IN ({', '.join('?' * len(ids))})"
            params += ["0x" + i.to_bytes(32, "big").hex() for i in ids]
        rows = conn.exec_driver_sql(sql + " ORDER BY block_number, log_index", tuple(params))
        return [event_from_row(r) for r in rows]

    def _set_cursor(self, conn: Connection, tip: Tip) -> None:
        if tip.number is None or tip.time is None:
            conn.exec_driver_sql(f"DELETE FROM {self.cursor}")
            return
        conn.exec_driver_sql(
            f"INSERT INTO {self.cursor} (id, block_number, block_time) VALUES (1, ?, ?) "
            "ON CONFLICT (id) DO UPDATE SET block_number = excluded.block_number, "
            "block_time = excluded.block_time",
            (tip.number, tip.time),
        )

    def apply(self, conn: Connection, events: list[Event], tip: Tip) -> None:
        if conn.exec_driver_sql(f"SELECT 1 FROM {self.cursor}").first() is None:
            conn.exec_driver_sql(f"DELETE FROM {self.table}")
            events = self.indexed(conn, None)  # these events are in chain_event already
        self.fold(conn, events)
        self._set_cursor(conn, tip)

    def unwind(self, conn: Connection, tip: Tip) -> None:
        above = -1 if tip.number is None else tip.number
        ids = [r[0] for r in conn.exec_driver_sql(
            f"SELECT id FROM {self.table} WHERE changed_block > ?", (above,))]  # fmt: skip
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            conn.exec_driver_sql(
                f"DELETE FROM {self.table} WHERE id IN ({', '.join('?' * len(chunk))})",
                tuple(chunk),
            )
            self.fold(conn, self.indexed(conn, chunk))
        self._set_cursor(conn, tip)
