"""The consents' derived tables (consent_binding, consent), kept in step with the event index.

The index calls CONSENTS_PROJECTION inside its own write transaction after every range it
commits and every reorg or rewind it unwinds (node/chain/index.py, register_projection). Each
row and each mark on a row (unbound, revoked) carries the block of the event that made it, so
an unwind to block N removes exactly what the events above N did.
"""

from sqlalchemy.engine import Connection

from node.chain.events import Event
from node.chain.index import Tip

CONTRACT = "ConsentRegistry"


def _fold(conn: Connection, e: Event) -> None:
    a = e.args
    if e.event == "Bound":
        conn.exec_driver_sql(
            "INSERT INTO consent_binding (block_number, log_index, subject_key, "
            "borrower, member, tx_hash, block_time) VALUES (?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (block_number, log_index) DO UPDATE SET "
            "subject_key = excluded.subject_key, borrower = excluded.borrower, "
            "member = excluded.member, tx_hash = excluded.tx_hash, "
            "block_time = excluded.block_time, unbound_block = NULL, unbound_log_index = NULL, "
            "unbound_tx_hash = NULL, unbound_time = NULL, unbound_by = NULL",
            (e.block_number, e.log_index, a["subjectKey"], a["borrower"], a["member"],
             e.tx_hash, e.block_time),
        )  # fmt: skip
    elif e.event == "Unbound":
        conn.exec_driver_sql(
            "UPDATE consent_binding SET unbound_block = ?, unbound_log_index = ?, "
            "unbound_tx_hash = ?, unbound_time = ?, unbound_by = ? "
            "WHERE borrower = ? AND subject_key = ? AND unbound_block IS NULL",
            (e.block_number, e.log_index, e.tx_hash, e.block_time, a["member"],
             a["borrower"], a["subjectKey"]),
        )  # fmt: skip
    elif e.event == "ConsentRegistered":
        conn.exec_driver_sql(
            "INSERT INTO consent (consent_id, subject_key, grantee, block_number, "
            "log_index) VALUES (?, ?, ?, ?, ?) ON CONFLICT (consent_id) DO UPDATE SET "
            "subject_key = excluded.subject_key, grantee = excluded.grantee, "
            "block_number = excluded.block_number, log_index = excluded.log_index, "
            "revoked_block = NULL, revoked_log_index = NULL, revoked_at = NULL, "
            "revoked_tx_hash = NULL",
            (a["consentId"], a["subjectKey"], a["grantee"], e.block_number, e.log_index),
        )
    elif e.event == "ConsentRevoked":
        conn.exec_driver_sql(
            "UPDATE consent SET revoked_block = ?, revoked_log_index = ?, revoked_at = ?, "
            "revoked_tx_hash = ? WHERE consent_id = ?",
            (e.block_number, e.log_index, e.block_time, e.tx_hash, a["consentId"]),
        )


class ConsentsProjection:
    """Bindings and consents of the ConsentRegistry, as of the index's block."""

    def apply(self, conn: Connection, events: list[Event], tip: Tip) -> None:
        for e in events:
            if e.contract == CONTRACT:
                _fold(conn, e)

    def unwind(self, conn: Connection, tip: Tip) -> None:
        above = (-1 if tip.number is None else tip.number,)
        conn.exec_driver_sql("DELETE FROM consent_binding WHERE block_number > ?", above)
        conn.exec_driver_sql(
            "UPDATE consent_binding SET unbound_block = NULL, unbound_log_index = NULL, "
            "unbound_tx_hash = NULL, unbound_time = NULL, unbound_by = NULL "
            "WHERE unbound_block > ?",
            above,
        )
        conn.exec_driver_sql("DELETE FROM consent WHERE block_number > ?", above)
        conn.exec_driver_sql(
            "UPDATE consent SET revoked_block = NULL, revoked_log_index = NULL, "
            "revoked_at = NULL, revoked_tx_hash = NULL WHERE revoked_block > ?",
            above,
        )


CONSENTS_PROJECTION = ConsentsProjection()
