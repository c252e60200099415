"""Tables of the records domain. What the API returns lives in schemas.py, never these rows."""

from sqlalchemy import Column, Index, LargeBinary, text
from sqlmodel import Field, SQLModel


class Record(SQLModel, table=True):
    """One version of a credit record, encrypted at rest with its own data key. Its commitment
    is anchored as leaf `leaf_id` of anchoring's log, which alone knows its batch and status."""

    __table_args__ = (
        Index("ix_record_version", "record_id", "version", unique=True),
        Index(
            "ix_record_current",
            "record_id",
            unique=True,
            sqlite_where=text("is_current = 1"),
            postgresql_where=text("is_current"),
        ),
        Index("ix_record_subject", "subject_key"),  # a member answering a query reads by subject
        Index("ix_record_commitment", "commitment"),  # a settlement names what it settles
    )

    id: int | None = Field(default=None, primary_key=True)
    record_id: str
    version: int
    is_current: bool = True
    subject_key: str
    kind: str
    event_date: str
    commitment: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    content_mac: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    wrapped_key: bytes | None = Field(default=None, sa_column=Column(LargeBinary))
    ciphertext: bytes | None = Field(default=None, sa_column=Column(LargeBinary))
    settles: bytes | None = Field(default=None, sa_column=Column(LargeBinary))  # a commitment
    leaf_id: int = Field(foreign_key="leaf.id", index=True)  # an audit export reads by leaf
    submission_id: str
    created_at: float


class Submission(SQLModel, table=True):
    """One POST /v1/records: its per-record results, kept so staff can fix the rejected ones."""

    id: str = Field(primary_key=True)
    created_at: float
    accepted: int
    rejected: int
    results: bytes = Field(sa_column=Column(LargeBinary, nullable=False))  # zlib'd JSON
