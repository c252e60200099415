"""Query parameters more than one room takes, each as strict as its documentation."""

import re
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from pydantic import BeforeValidator, Field

# RFC 3339 date-time, the zone optional (a time without one is UTC, as the node shows times).
RFC3339 = (
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?"
    r"([Zz]|[+-][0-9]{2}:[0-9]{2})?$"
)
_RFC3339 = re.compile(RFC3339)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def _text_only(value: Any) -> Any:
    """Pydantic reads a bare number as seconds since 1970; a query time must be written out."""
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not _RFC3339.match(value):
        raise ValueError("expected a date and time as in 2026-11-24T09:30:00Z")
    return value


Timestamp = Annotated[
    datetime,
    BeforeValidator(_text_only),
    Field(json_schema_extra={"pattern": RFC3339}),
]


def microseconds(when: datetime | None) -> int | None:
    """Whole microseconds since 1970, exactly; a time without a zone is taken as UTC."""
    if when is None:
        return None
    return ((when if when.tzinfo else when.replace(tzinfo=UTC)) - _EPOCH) // _MICROSECOND


def iso(ts: float | None) -> str | None:
    return None if ts is None else datetime.fromtimestamp(ts, UTC).isoformat()
