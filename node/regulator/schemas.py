"""What the regulator's view takes and answers, and the rules its pattern checks follow."""

import re
from dataclasses import dataclass
from datetime import time as clock
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from pydantic import BaseModel, ConfigDict, Field

from node.disputes.schemas import MemberSla, ObjectionOut
from node.regulator.errors import InvalidRule

DAY = 86_400
MAX_WINDOW_DAYS = 366
PAGE = 1000  # query log entries a member sends in one answer
OFFICE_HOURS = r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-3]):([0-5]\d)$"
TIME_ZONES = sorted(available_timezones())  # IANA names, from tzdata where the system has none


@dataclass(frozen=True)
class PatternRules:
    """When a query pattern is abnormal. volume: a member querying more than `volume_factor`
    times the median number of subjects its peers query, and at least `volume_min_subjects`;
    off hours: at least `off_hours_min` lookups outside `office_start`..`office_end` in
    `time_zone`; stacking (多头借贷): one subject looked up by at least `stacking_members`
    members within `stacking_days` days."""

    volume_factor: float = 3.0
    volume_min_subjects: int = 10
    office_start: clock = clock(9, 0)
    office_end: clock = clock(18, 0)
    time_zone: str = "Asia/Shanghai"
    off_hours_min: int = 1
    stacking_members: int = 3
    stacking_days: float = 7.0

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)

    def office_hours(self) -> str:
        return f"{self.office_start:%H:%M}-{self.office_end:%H:%M}"


def parse_rules(
    *,
    volume_factor: float = 3.0,
    volume_min_subjects: int = 10,
    office_hours: str = "09:00-18:00",
    time_zone: str = "Asia/Shanghai",
    off_hours_min: int = 1,
    stacking_members: int = 3,
    stacking_days: float = 7.0,
) -> PatternRules:
    """The rules, each checked; InvalidRule naming the first that cannot be used."""
    if not volume_factor > 1:
        raise InvalidRule(field="volume_factor", detail="volume_factor must be more than 1")
    for name, value, least in (
        ("volume_min_subjects", volume_min_subjects, 1),
        ("off_hours_min", off_hours_min, 1),
        ("stacking_members", stacking_members, 2),
    ):
        if value < least:
            raise InvalidRule(field=name, detail=f"{name} must be at least {least}")
    if not 0 < stacking_days <= MAX_WINDOW_DAYS:
        raise InvalidRule(
            field="stacking_days",
            detail=f"stacking_days must be more than 0, at most {MAX_WINDOW_DAYS}",
        )
    hours = re.fullmatch(OFFICE_HOURS, office_hours)
    if hours is None or hours.group(1, 2) == hours.group(3, 4):
        raise InvalidRule(
            field="office_hours", detail="office_hours must be HH:MM-HH:MM, two different times"
        )
    try:
        ZoneInfo(time_zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidRule(
            field="time_zone", detail="time_zone must be an IANA time zone, e.g. Asia/Shanghai"
        ) from None
    return PatternRules(
        volume_factor=volume_factor,
        volume_min_subjects=volume_min_subjects,
        office_start=clock(int(hours[1]), int(hours[2])),
        office_end=clock(int(hours[3]), int(hours[4])),
        time_zone=time_zone,
        off_hours_min=off_hours_min,
        stacking_members=stacking_members,
        stacking_days=stacking_days,
    )


def check_window(since: int, until: int) -> None:
    """A window of query log times: since before until, at most MAX_WINDOW_DAYS long."""
    if since < 0 or until <= since:
        raise InvalidRule(field="since", detail="since must be before until (unix seconds)")
    if until - since > MAX_WINDOW_DAYS * DAY:
        raise InvalidRule(field="since", detail=f"the window is at most {MAX_WINDOW_DAYS} days")


class QueryLogRequest(BaseModel):
    """A regulator's node asking a member's node for a page of its query log."""

    model_config = ConfigDict(extra="forbid")

    since: int = Field(ge=0, le=2**53 - 1, description="first second logged (unix)")
    until: int = Field(ge=0, le=2**53 - 1, description="the second after the last (unix)")
    after: int = Field(0, ge=0, le=2**53 - 1, description="`next` of the previous page; 0 first")
    limit: int = Field(PAGE, ge=1, le=PAGE, description="most entries in this page")


class QueryLogPage(BaseModel):
    """A page of a member's query log: a receipt per anchored entry (kind "query"), checked
    by the regulator against the chain; entries not anchored yet are only counted."""

    member: str
    as_of_block: int | None
    receipts: list[dict]
    pending: int = Field(description="entries of this page not yet anchored (not sent)")
    next: int | None = Field(description="`after` for the next page; null on the last")


class MemberView(BaseModel):
    address: str
    name: str
    node_url: str
    status: str = Field(description="active, suspended or removed")
    roles: list[str] = Field(description="admin, auditor, regulator")
    joined_at: int | None


class Gap(BaseModel):
    start: int = Field(description="unix time of the anchor before the gap (or of joining)")
    end: int | None = Field(description="unix time of the anchor after it; null: still open")
    seconds: int


class ActivityView(BaseModel):
    address: str
    name: str
    status: str
    batches: int
    leaves_anchored: int = Field(
        description="commitments anchored: records and query log entries alike (the chain "
        "does not tell them apart)"
    )
    first_anchor_at: int | None
    last_anchor_at: int | None
    status_changes: dict[str, int] = Field(
        description="records this member's commitments were marked, by status on chain"
    )
    longest_gap_s: int | None
    gaps: list[Gap] = Field(description="silences longer than gap_hours, oldest first")


class ListingsView(BaseModel):
    address: str
    name: str
    total: int
    by_status: dict[str, int] = Field(description="active, lapsed, delisted, expired")
    by_reason: dict[str, int]
    active_by_reason: dict[str, int]
    disputed: int = Field(description="entries whose disputed flag is set")


class ObjectionsView(BaseModel):
    as_of_block: int | None = Field(description="the block the objections stand at")
    block_time: int | None = Field(description="its time: deadlines are judged against it")
    members: list[MemberSla] = Field(description="every member, by the objections against it")
    overdue: list[ObjectionOut] = Field(description="open past the deadline, oldest first")


class PatternsView(BaseModel):
    since: int
    until: int
    rules: dict
    members: list[dict] = Field(
        description="each member asked for its log: status (verified, rejected, refused, "
        "unreachable, timeout), entries, pending, error"
    )
    queries: int = Field(description="queries seen (both sides' entries of one counted once)")
    volume: list[dict]
    off_hours: list[dict]
    stacking: list[dict]
