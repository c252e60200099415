"""The records domain's services, in one place for routes and tools: taking records in
(intake.py), reading them back (reads.py) and their receipts (receipts.py)."""

from node.records.errors import InvalidSubmission, NotAnchored, RecordNotFound, SubmissionNotFound
from node.records.intake import (
    MAX_RECORDS_PER_SUBMISSION,
    RecordKeys,
    Sealed,
    committed_form,
    parse_submission,
    prepare,
    prepare_submission,
    store_submission,
    submit_records,
)
from node.records.reads import (
    counts,
    get_record,
    get_submission,
)
from node.records.receipts import get_receipt

__all__ = [
    "MAX_RECORDS_PER_SUBMISSION",
    "InvalidSubmission",
    "NotAnchored",
    "RecordKeys",
    "RecordNotFound",
    "Sealed",
    "SubmissionNotFound",
    "committed_form",
    "counts",
    "get_receipt",
    "get_record",
    "get_submission",
    "parse_submission",
    "prepare",
    "prepare_submission",
    "store_submission",
    "submit_records",
]
