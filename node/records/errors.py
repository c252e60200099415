"""The records domain's refusals, each with its code and HTTP status (node/errors.py)."""

from typing import Any

from node.errors import DomainError


class RecordsError(DomainError):
    """A refusal of the records domain."""


class RecordNotFound(RecordsError):
    """No record with that id (or that version) is held by this node."""

    code, status, detail = "record_not_found", 404, "no such record"


class SubmissionNotFound(RecordsError):
    """No submission with that id."""

    code, status, detail = "submission_not_found", 404, "no such submission"


class InvalidSubmission(RecordsError):
    """The body as a whole is unusable: not JSON, not {"records": [...]}, too many records."""

    code, status = "invalid_body", 422

    def __init__(self, detail: str, field: str | None = None) -> None:
        super().__init__(detail, field, detail=detail, field=field)


class NotAnchored(RecordsError):
    """The record's commitment is not yet confirmed on chain; no receipt exists yet."""

    code, status = "not_anchored", 409

    def __init__(self, state: str) -> None:
        detail = f"record is {state}; its receipt exists once its batch is anchored"
        super().__init__(state, detail=detail)
        self.state = state

    def context(self) -> dict[str, Any]:
        return {"state": self.state}


class RecordErased(RecordsError):
    """The record's data key was destroyed (its retention ended, or it was removed as wrong):
    its commitment stays on chain, its content can never be read again."""

    code, status = "record_erased", 410

    def __init__(self, record_id: str) -> None:
        detail = "the record was erased: its data key is destroyed, only its commitment stays"
        super().__init__(record_id, detail=detail)
