"""Tables of the queries domain: the query log, one row per query this node made or answered.

Each row is anchored as a leaf of kind "query" (node/anchoring); the row keeps the leaf's
preimage (the entry and its salt) so the node can hand out a receipt that a borrower or an
auditor checks against the chain alone.
"""

from sqlalchemy import Column, Index, LargeBinary
from sqlmodel import Field, SQLModel


class QueryLogEntry(SQLModel, table=True):
    """One query, as this node saw it: `side` is "requester" (this node asked `holder`) or
    "holder" (this node answered `requester`). `entry` is the canonical JSON committed to by
    the leaf, sha256(salt || entry); it names the consent, purpose, both members and the time."""

    __tablename__ = "query_log"
    __table_args__ = (Index("ix_query_log_subject", "subject_key", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    query_id: str = Field(index=True)
    side: str  # "requester" | "holder"
    subject_key: str
    consent_id: str
    purpose: str
    requester: str
    holder: str
    at: int  # unix seconds, as committed
    salt: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    entry: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    leaf_id: int = Field(foreign_key="leaf.id", index=True)  # an audit export reads by leaf
