"""The regulator's view API: thin routes over node/regulator/service.py.

GET /v1/regulator/... for this node's staff (admin or internal auditor), open only while the
node's member holds the regulator role on chain; POST /v1/peer/query-log for a regulator's
node, signed with its member key."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from node.deps import NodeDep
from node.members.router import AS_OF
from node.members.service import Snapshot
from node.peers.router import authenticate_peer
from node.regulator import service
from node.regulator.schemas import (
    MAX_WINDOW_DAYS,
    OFFICE_HOURS,
    TIME_ZONES,
    ActivityView,
    ListingsView,
    MemberView,
    ObjectionsView,
    PatternsView,
    QueryLogPage,
    QueryLogRequest,
    parse_rules,
)
from node.staff.deps import StaffUser, require
from node.staff.models import ADMIN, INTERNAL_AUDITOR

router = APIRouter(tags=["regulator"])
Overseer = Annotated[StaffUser, Depends(require(ADMIN, INTERNAL_AUDITOR))]
REFUSED: dict[int | str, dict[str, Any]] = {
    200: {"headers": {AS_OF: {
        "description": "the last chain block the node's event index had read for this answer",
        "schema": {"type": "integer"}}}},
    403: {"description": "node_not_regulator: this node's member does not hold the regulator "
          "role on chain, or is not active; or the staff role is not admin or "
          "internal_auditor"},
}  # fmt: skip


def _as_of(response: Response, answer: Snapshot) -> Any:
    if answer.as_of_block is not None:
        response.headers[AS_OF] = str(answer.as_of_block)
    return answer.value


@router.get("/v1/regulator/members", summary="Members, their status and roles on chain",
            response_model=list[MemberView], responses=REFUSED)  # fmt: skip
def members(node: NodeDep, staff: Overseer, response: Response) -> Any:
    """Every member ever admitted, from the node's event index."""
    return _as_of(response, service.members(node))


@router.get("/v1/regulator/anchoring", summary="Each member's anchoring activity and its gaps",
            response_model=list[ActivityView], responses=REFUSED)  # fmt: skip
def anchoring(
    node: NodeDep,
    staff: Overseer,
    response: Response,
    gap_hours: Annotated[float, Query(gt=0, le=24 * 366)] = 24.0,
) -> Any:
    """Batches anchored, commitments in them, first and last anchor, status changes of its
    commitments, and every silence longer than `gap_hours` (from joining, between anchors,
    and up to now), from the node's event index."""
    return _as_of(response, service.activity(node, gap_hours=gap_hours))


@router.get("/v1/regulator/blacklist", summary="Each member's blacklist listings, counted",
            response_model=list[ListingsView], responses=REFUSED)  # fmt: skip
def blacklist(node: NodeDep, staff: Overseer, response: Response) -> Any:
    """Entries each member listed, by status (active, lapsed: past its expiry but not yet
    marked, delisted, expired) and by reason, and how many are disputed."""
    return _as_of(response, service.listings(node))


@router.get("/v1/regulator/objections", summary="Objections open, answered in time, overdue",
            response_model=ObjectionsView, responses=REFUSED)  # fmt: skip
def objections(node: NodeDep, staff: Overseer, response: Response) -> Any:
    """Per member, the objections against its records and blacklist entries: open, answered
    before the deadline, overdue (open past it, or ruled by a regulator because it was);
    and every objection open past its deadline. From the Disputes contract's events as the
    node's index derived them, judged at that block's time."""
    answer = service.objections(node)
    if answer["as_of_block"] is not None:
        response.headers[AS_OF] = str(answer["as_of_block"])
    return answer


@router.get(
    "/v1/regulator/patterns",
    summary="Abnormal query patterns across every member's query log",
    response_model=PatternsView,
    responses={**REFUSED, 422: {"description": "invalid_rule: the field named cannot be used"}},
)
async def query_patterns(
    node: NodeDep,
    staff: Overseer,
    since: Annotated[
        int | None,
        Query(ge=0, le=2**53 - 1, description="unix seconds; default: 30 days before until"),
    ] = None,  # fmt: skip
    until: Annotated[
        int | None, Query(ge=0, le=2**53 - 1, description="unix seconds; default: now")
    ] = None,  # fmt: skip
    volume_factor: Annotated[float, Query(le=1e6, json_schema_extra={"exclusiveMinimum": 1})] = 3.0,
    volume_min_subjects: Annotated[int, Query(le=10**9, json_schema_extra={"minimum": 1})] = 10,
    office_hours: Annotated[
        str,
        Query(
            max_length=11,
            json_schema_extra={"pattern": OFFICE_HOURS},
            description="HH:MM-HH:MM, two different times",
        ),
    ] = "09:00-18:00",
    time_zone: Annotated[
        str,
        Query(
            max_length=64, json_schema_extra={"enum": TIME_ZONES}, description="an IANA time zone"
        ),
    ] = "Asia/Shanghai",
    off_hours_min: Annotated[int, Query(le=10**9, json_schema_extra={"minimum": 1})] = 1,
    stacking_members: Annotated[int, Query(le=10**6, json_schema_extra={"minimum": 2})] = 3,
    stacking_days: Annotated[
        float,
        Query(json_schema_extra={"exclusiveMinimum": 0, "maximum": MAX_WINDOW_DAYS}),
    ] = 7.0,
    timeout_s: Annotated[float, Query(gt=0, le=300)] = 30.0,
) -> Any:
    """Each active or suspended member's node is asked for its query log in the window
    (signed with this node's member key); every entry is checked against a root that member
    anchored, and a log that fails is named and left out. Over subject keys only:
    **volume** flags a member looking up more than `volume_factor` times the median number
    of subjects its peers look up (and at least `volume_min_subjects`); **off_hours** flags
    at least `off_hours_min` lookups outside `office_hours` in `time_zone`; **stacking**
    (多头借贷) names each subject looked up by at least `stacking_members` members within
    `stacking_days` days."""
    rules = parse_rules(
        volume_factor=volume_factor, volume_min_subjects=volume_min_subjects,
        office_hours=office_hours, time_zone=time_zone, off_hours_min=off_hours_min,
        stacking_members=stacking_members, stacking_days=stacking_days,
    )  # fmt: skip
    return await service.query_patterns(node, rules=rules, since=since, until=until,
                                        timeout=timeout_s)  # fmt: skip


@router.post(
    "/v1/peer/query-log",
    tags=["peers"],
    summary="A page of this member's query log, for a regulator's node",
    response_model=QueryLogPage,
    responses={
        401: {"description": "unsigned, badly signed, stale or replayed"},
        403: {"description": "not_an_active_member, or not_a_regulator: the signer does not "
              "hold the regulator role on chain"},
        422: {"description": "invalid_rule: since is not before until, or the window is too long"},
    },
)  # fmt: skip
async def query_log(body: QueryLogRequest, request: Request, node: NodeDep) -> Any:
    """Signed with the regulator's member key (EIP-712 PeerRequest headers, as
    /v1/peer/hello). Answered only if, in this node's index of the chain, the signer is an
    active member holding the regulator role: each anchored entry logged in
    [since, until) as a receipt of kind "query" that the regulator checks against the chain."""
    caller = await authenticate_peer(request, node)
    return await run_in_threadpool(service.answer_log_request, node, caller=caller, body=body)
