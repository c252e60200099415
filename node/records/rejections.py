"""How a refused record is answered: naming the field at fault, never quoting the value.

Answers are stored (GET /v1/submissions/{id} gives them again), so whatever the member sent
by mistake where a name belongs, such as an ID number as a field name or as the record_id, is
cut to a few characters before it is echoed.
"""

import re
from typing import Any

from pydantic import ValidationError

from node.crypto.subjects import holds_resident_id
from node.records.schemas import (
    DATE_FIELDS,
    DATE_RULE,
    EARLIEST_DATE,
    INTEGER_RULE,
    TEXT_FIELDS,
    TEXT_RULE,
    RecordIn,
    Subject,
)

_RECORD_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,63}")
_FIELD_NAME = re.compile(r"[a-z][a-z0-9_]{0,39}")
SHOWN = 8  # characters of a doubtful record_id or field name echoed back
# every field a rejection can name that is the schema's own (metrics label by these alone)
FIELD_NAMES = frozenset(RecordIn.model_fields) | {f"subject.{f}" for f in Subject.model_fields}


def _cut(text: str) -> str:
    """The first few characters and an ellipsis: enough to find the mistake, too few to
    carry an identifier sent by mistake into the stored results."""
    return text[:SHOWN] + "…"


def _shown_record_id(raw: Any) -> str | None:
    rid = raw.get("record_id") if isinstance(raw, dict) else None
    if not isinstance(rid, str):
        return None
    if _RECORD_ID.fullmatch(rid) and not holds_resident_id(rid):
        return rid
    return _cut(rid)


def _shown_field_name(name: str) -> str:
    """An unknown field's name in full if it is spelt like a field (a misspelling), else cut
    (an ID number, a name or a value sent as a key)."""
    return name if _FIELD_NAME.fullmatch(name) and not re.search("[0-9]{3}", name) else _cut(name)


def rejection(raw: Any, field: str | None, detail: str) -> dict[str, Any]:
    return {
        "status": "rejected",
        "record_id": _shown_record_id(raw),
        "field": field,
        "detail": detail,
    }


def _plain_detail(name: str, kind: str, msg: str) -> str:
    """pydantic's message, or a plain sentence stating the rule where that says more."""
    if kind == "int_type":
        return INTEGER_RULE
    if name in DATE_FIELDS:
        if kind in ("string_type", "string_pattern_mismatch"):
            return DATE_RULE
        if kind == "greater_than_equal":
            return f"must not be before {EARLIEST_DATE.isoformat()}"
    if name in TEXT_FIELDS and kind == "string_pattern_mismatch":
        return TEXT_RULE
    return msg


def validation_rejection(raw: Any, err: ValidationError) -> dict[str, Any]:
    """The first problem, naming the field; never echoing the submitted value."""
    first = err.errors(include_url=False, include_input=False, include_context=False)[0]
    loc = [str(p) for p in first["loc"]]
    detail = first["msg"]
    if first["type"] == "value_error":  # our own checks say "field: reason"
        detail = detail.removeprefix("Value error, ")
        name, sep, reason = detail.partition(": ")
        if sep and not loc:
            loc, detail = [name], reason
    elif first["type"] == "extra_forbidden":
        loc[-1] = _shown_field_name(loc[-1])
        detail = "unknown field; the record schema has no such field"
    elif loc:
        detail = _plain_detail(loc[-1], first["type"], detail)
    return rejection(raw, ".".join(loc) or None, detail)
