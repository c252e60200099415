"""Tables of the consents domain, derived from the event index: one row per binding and per
consent, so a consent check is one indexed lookup and no chain round trip.

Only the consents' projection (projection.py) writes these rows, inside the event index's
own transactions, whoever writes the index (the node's follower, `creditchain index
rebuild`), and it undoes them when a reorg or a rewind drops their events. So they always say
exactly what the indexed events say.
"""

from sqlmodel import Field, SQLModel


class Binding(SQLModel, table=True):
    """A Bound event, and the Unbound event that ended it, if any."""

    __tablename__ = "consent_binding"

    block_number: int = Field(primary_key=True)
    log_index: int = Field(primary_key=True)
    subject_key: str = Field(index=True)  # 0x-hex, lower case
    borrower: str = Field(index=True)  # checksummed
    member: str
    tx_hash: str
    block_time: int
    unbound_block: int | None = None
    unbound_log_index: int | None = None
    unbound_tx_hash: str | None = None
    unbound_time: int | None = None
    unbound_by: str | None = None


class ConsentRow(SQLModel, table=True):
    """A ConsentRegistered event, and the ConsentRevoked event that ended it, if any. The
    exact nonce and window (uint256, uint64) are read from the event's arguments."""

    __tablename__ = "consent"

    consent_id: str = Field(primary_key=True)  # 0x-hex, lower case
    subject_key: str = Field(index=True)
    grantee: str
    block_number: int
    log_index: int
    revoked_block: int | None = None
    revoked_log_index: int | None = None
    revoked_at: int | None = None
    revoked_tx_hash: str | None = None


class LoginNonce(SQLModel, table=True):
    """A borrower's login nonce once used, so the same signed login is never taken twice."""

    __tablename__ = "login_nonce"

    nonce: str = Field(primary_key=True)  # 0x-hex bytes32, lower case
    subject_key: str
    used_at: float = Field(index=True)
