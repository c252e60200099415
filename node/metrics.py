"""What the node counts as it works, for Prometheus (GET /metrics, node/monitoring/).

The counters live here, on the lowest floor, so that a domain's route can count what it did
without knowing who reads it. They are made once per process and registered in no registry:
each app's registry (node/monitoring/collector.py) takes them beside the figures it reads
from the store at scrape time. Labels are closed sets (a field name from the record schema,
a refusal code, a route template): never a value a caller sent, so no identity, record id
or subject key can become a label.
"""

from collections import Counter as Tally
from collections.abc import Iterable

from prometheus_client import Counter, Histogram

OTHER = "other"  # the label of a field name outside the closed set

RECORDS_ACCEPTED = Counter(
    "creditchain_records_accepted",
    "records accepted by POST /v1/records (a no-op resubmission counts again)",
    registry=None,
)
RECORDS_REJECTED = Counter(
    "creditchain_records_rejected",
    "records rejected by POST /v1/records, by the field at fault (none: the record as a whole)",
    ["field"],
    registry=None,
)
PEER_QUERIES_SERVED = Counter(
    "creditchain_peer_queries_served",
    "other members' queries answered (POST /v1/peer/queries)",
    registry=None,
)
PEER_QUERIES_REFUSED = Counter(
    "creditchain_peer_queries_refused",
    "other members' queries refused, by the refusal's error code",
    ["reason"],
    registry=None,
)
REQUEST_SECONDS = Histogram(
    "creditchain_http_request_duration_seconds",
    "time to answer an API request, by method, route template and status class",
    ["method", "route", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
    registry=None,
)

INSTRUMENTS = (
    RECORDS_ACCEPTED,
    RECORDS_REJECTED,
    PEER_QUERIES_SERVED,
    PEER_QUERIES_REFUSED,
    REQUEST_SECONDS,
)


def count_records(
    accepted: int, rejected_fields: Iterable[str | None], known: frozenset[str]
) -> None:
    """One submission's outcome: how many accepted, and each rejection by its field, a name
    outside `known` counted as "other"."""
    RECORDS_ACCEPTED.inc(accepted)
    tally = Tally(
        "none" if field is None else field if field in known else OTHER for field in rejected_fields
    )
    for field, n in tally.items():
        RECORDS_REJECTED.labels(field=field).inc(n)
