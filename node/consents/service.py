"""Bindings and consents, read from the tables the event index derives (models.py): a consent
check is one indexed lookup, with no chain round trip, as of the block the index has read.

Writes (binding, relaying a borrower's signed consent or revocation) are in relay.py.
"""

import json
from dataclasses import dataclass
from typing import Any

from eth_utils import to_checksum_address
from sqlalchemy.engine import Connection, Engine

from node.chain.index import EventIndex
from node.consents import errors
from node.consents.purposes import PURPOSES, purpose_index
from node.crypto.eip712 import checksum
from node.db import driver_rows, read_connection

Source = Engine | EventIndex  # where the derived tables are: a store, or its event index


@dataclass(frozen=True)
class Consent:
    """A registered consent as the index holds it; times are unix seconds."""

    consent_id: str  # 0x-hex, the EIP-712 digest of the signed message
    subject_key: str  # 0x-hex
    grantee: str  # checksummed
    borrower: str  # checksummed: the bound address that signed it
    purpose: str  # a name of PURPOSES
    valid_from: int
    valid_until: int  # exclusive
    nonce: int
    registered_block: int
    registered_at: int
    revoked_at: int | None
    revoked_block: int | None
    tx_hash: str = ""
    revoked_tx_hash: str | None = None

    def public(self) -> dict[str, Any]:
        """As the API answers it (the nonce as a decimal string: it may exceed 2**53)."""
        out = self.__dict__.copy()
        out["nonce"] = str(self.nonce)
        return out


def engine_of(source: Source) -> Engine:
    return source.engine if isinstance(source, EventIndex) else source


def _hex(value: str) -> str:
    return value.lower()


_CONSENT_SQL = (
    "SELECT c.consent_id, c.subject_key, c.grantee, e.args, e.block_number, e.block_time, "
    "e.tx_hash, c.revoked_at, c.revoked_block, c.revoked_tx_hash FROM consent c "
    "JOIN chain_event e ON e.block_number = c.block_number AND e.log_index = c.log_index "
)


def _consent(row: Any) -> Consent:
    consent_id, subject, grantee, args, block, time, tx, revoked_at, revoked_block, rtx = row
    a = json.loads(args)
    return Consent(
        consent_id=consent_id,
        subject_key=subject,
        grantee=grantee,
        borrower=a["borrower"],
        purpose=PURPOSES[a["purpose"]] if a["purpose"] < len(PURPOSES) else str(a["purpose"]),
        valid_from=int(a["validFrom"]),
        valid_until=int(a["validUntil"]),
        nonce=int(a["nonce"]),
        registered_block=block,
        registered_at=time,
        revoked_at=revoked_at,
        revoked_block=revoked_block,
        tx_hash=tx,
        revoked_tx_hash=rtx,
    )


def find_consent(conn: Connection, consent_id: str) -> Consent | None:
    """The consent with this id, or None; on a connection the caller holds."""
    rows = driver_rows(conn, _CONSENT_SQL + "WHERE c.consent_id = ?", (_hex(consent_id),))
    return _consent(rows[0]) if rows else None


def get_consent(source: Source, *, consent_id: str) -> Consent | None:
    """The consent with this id, or None if the index holds none."""
    with read_connection(engine_of(source)) as conn:
        return find_consent(conn, consent_id)


def check_consent(
    source: Source,
    *,
    consent_id: str,
    subject_key: str,
    grantee: str,
    purpose: str | int,
    at: int,
    conn: Connection | None = None,
) -> Consent:
    """The consent, if it lets `grantee` query `subject_key` for `purpose` at time `at`;
    else the ConsentRefused that says why (403, one code per reason). Read on `conn` if given
    (a caller's read transaction), else on a connection of its own."""
    if conn is not None:
        consent = find_consent(conn, consent_id)
    else:
        consent = get_consent(source, consent_id=consent_id)
    if consent is None:
        raise errors.ConsentNotFound(consent_id)
    if consent.subject_key != _hex(subject_key):
        raise errors.ConsentOtherSubject(consent_id)
    try:
        same_member = consent.grantee == checksum(grantee)
    except ValueError:
        same_member = False
    if not same_member:
        raise errors.ConsentOtherMember(consent_id)
    try:
        wanted = purpose_index(purpose)
    except ValueError:
        raise errors.ConsentOtherPurpose(consent_id) from None
    if consent.purpose != PURPOSES[wanted]:
        raise errors.ConsentOtherPurpose(consent_id)
    if at < consent.valid_from:
        raise errors.ConsentNotYetValid(consent_id)
    if at >= consent.valid_until:
        raise errors.ConsentExpired(consent_id)
    if consent.revoked_at is not None and at >= consent.revoked_at:
        raise errors.ConsentRevoked(consent_id)
    return consent


def consents_of(source: Source, *, subject_key: str) -> list[Consent]:
    """Every consent about the subject, in the order they were registered."""
    with read_connection(engine_of(source)) as conn:
        rows = conn.exec_driver_sql(
            _CONSENT_SQL + "WHERE c.subject_key = ? ORDER BY c.block_number, c.log_index",
            (_hex(subject_key),),
        ).all()
    return [_consent(r) for r in rows]


def _binding(row: Any) -> dict[str, Any]:
    block, log_index, subject, borrower, member, tx, time, ub, _, utx, utime, uby = row
    return {
        "subject_key": subject,
        "address": borrower,
        "member": member,
        "block_number": block,
        "log_index": log_index,
        "tx_hash": tx,
        "time": time,
        "unbound": None
        if ub is None
        else {"block_number": ub, "tx_hash": utx, "time": utime, "member": uby},
    }


_BINDING_SQL = (
    "SELECT block_number, log_index, subject_key, borrower, member, tx_hash, block_time, "
    "unbound_block, unbound_log_index, unbound_tx_hash, unbound_time, unbound_by "
    "FROM consent_binding "
)


def bindings_of(source: Source, *, subject_key: str) -> list[dict[str, Any]]:
    """Every binding of the subject, current or ended, in chain order; each with its block,
    transaction and time (its on-chain receipt), and how it ended, if it did."""
    with read_connection(engine_of(source)) as conn:
        rows = conn.exec_driver_sql(
            _BINDING_SQL + "WHERE subject_key = ? ORDER BY block_number, log_index",
            (_hex(subject_key),),
        ).all()
    return [_binding(r) for r in rows]


def current_binding(conn: Connection, address: str) -> dict[str, Any] | None:
    """The binding `address` holds now, or None; on a connection the caller holds."""
    row = conn.exec_driver_sql(
        _BINDING_SQL + "WHERE borrower = ? AND unbound_block IS NULL "
        "ORDER BY block_number DESC, log_index DESC LIMIT 1",
        (to_checksum_address(address),),
    ).first()
    return _binding(row) if row else None


def subject_of_address(source: Source, *, address: str) -> str | None:
    """The subject key `address` is bound to now, or None."""
    with read_connection(engine_of(source)) as conn:
        binding = current_binding(conn, address)
    return binding["subject_key"] if binding else None
