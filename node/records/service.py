"""The records domain's services, in one place for routes and tools: taking records in
(intake.py), reading them back (reads.py) and their receipts (receipts.py)."""

from node.records.intake import (
    MAX_RECORDS_PER_SUBMISSION,
    InvalidSubmission,
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
    RecordNotFound,
    SubmissionNotFound,
    counts,
    get_record,
    get_submission,
)
from node.records.receipts import NotAnchored, get_receipt

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
