"""What is negative information, when its adverse event ended, and when a record expires.
Pure: dates in, unix seconds out.

- Negative kinds: `overdue`, `default` and `written_off` (node/records/schemas.py), and a
  `settled` record that settles one of them (it is the end of that adverse history).
- When the adverse event ended: an `overdue` record reports a delinquency as of its
  `event_date` (a later month still overdue is a later record), so it ended then. A
  `default` or `written_off` debt is unpaid until it is settled: it ended on the
  `event_date` of the `settled` record that settles it, and until then it does not expire
  (it is `open`). A settling record ended on its own `event_date`, so it expires on the same
  day as what it settles.
- Anything else (applications, loans opened, repayments, guarantees, a settlement of no
  negative record) holds no negative information and is kept `other_years` from its
  `event_date`.
- A record expires at midnight UTC of the day `years` after the day it ended (28 February
  for 29 February).
"""

import datetime as dt
from dataclasses import dataclass

NEGATIVE = frozenset({"overdue", "default", "written_off"})
OPEN_UNTIL_SETTLED = frozenset({"default", "written_off"})


@dataclass(frozen=True)
class Policy:
    """Retention years for negative information (征信业管理条例 Art. 16: 5) and for the rest."""

    negative_years: int = 5
    other_years: int = 5


@dataclass(frozen=True)
class Schedule:
    negative: bool
    ended_on: str | None  # None: open, no expiry yet
    expires_at: int | None


def expiry_of(ended_on: dt.date, years: int) -> int:
    """Midnight (UTC) of the day `years` after `ended_on`, in unix seconds."""
    try:
        day = ended_on.replace(year=ended_on.year + years)
    except ValueError:  # 29 February
        day = ended_on.replace(year=ended_on.year + years, day=28)
    return int(dt.datetime.combine(day, dt.time(), dt.UTC).timestamp())


def schedule(
    policy: Policy, *, kind: str, event_date: str, settles_negative: bool = False,
    settled_on: str | None = None,
) -> Schedule:  # fmt: skip
    """A version's schedule from its kind and event_date; `settles_negative` for a settled
    record that settles a negative one, `settled_on` the day a default was settled."""
    negative = kind in NEGATIVE or (kind == "settled" and settles_negative)
    ended = event_date
    if kind in OPEN_UNTIL_SETTLED:
        if settled_on is None:
            return Schedule(True, None, None)
        ended = max(settled_on, event_date)
    years = policy.negative_years if negative else policy.other_years
    return Schedule(negative, ended, expiry_of(dt.date.fromisoformat(ended), years))
