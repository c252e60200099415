"""Tables of the reports domain: one row per report this node gave a borrower, which is what
the free reports of a year are counted from (per subject, at this member)."""

from sqlmodel import Field, SQLModel


class ReportGiven(SQLModel, table=True):
    """A report this node gave about `subject_key`: to the borrower on this node
    (`gatherer` is this node's own member address) or gathered by another member's node for
    them (`gatherer` is that member). `nonce` is the borrower's signed request's."""

    __tablename__ = "report_given"

    id: int | None = Field(default=None, primary_key=True)
    subject_key: str = Field(index=True)
    gatherer: str
    nonce: str
    given_at: int  # unix seconds
