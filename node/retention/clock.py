"""The chain's time as retention reads it: the block the event index stands at, and its
timestamp, kept in step by the index (a projection, node/chain/index.py) inside its own
write transactions. Moving the chain's time (a later block) moves retention's; the node's
own clock never does."""

from sqlalchemy.engine import Connection

from node.chain.events import Event
from node.chain.index import Tip


class RetentionClock:
    """Projection: retention_clock holds the index's tip (block number and time)."""

    def apply(self, conn: Connection, events: list[Event], tip: Tip) -> None:
        _set(conn, tip)

    def unwind(self, conn: Connection, tip: Tip) -> None:
        _set(conn, tip)


def _set(conn: Connection, tip: Tip) -> None:
    if tip.number is None or tip.time is None:
        conn.exec_driver_sql("DELETE FROM retention_clock")
        return
    conn.exec_driver_sql(
        "INSERT INTO retention_clock (id, block_number, block_time) VALUES (1, ?, ?) "
        "ON CONFLICT (id) DO UPDATE SET block_number = excluded.block_number, "
        "block_time = excluded.block_time",
        (tip.number, tip.time),
    )


def chain_now(conn: Connection) -> tuple[int, int] | None:
    """(block, time) the index stands at; None before it has read a block."""
    row = conn.exec_driver_sql(
        "SELECT block_number, block_time FROM retention_clock WHERE id = 1"
    ).first()
    return (row[0], row[1]) if row else None


RETENTION_CLOCK = RetentionClock()
