"""Staff API: accounts and the operator log, thin routes over node/staff/service.py; and
install(), which puts staff access into the app."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Path, Query, Request

from node.deps import NodeDep
from node.params import Timestamp, iso, microseconds
from node.staff import oplog, service
from node.staff.deps import (
    OperatorLogMiddleware,
    Refusals,
    StaffUser,
    install_state,
    log_target,
    require,
)
from node.staff.models import ADMIN, INTERNAL_AUDITOR
from node.staff.schemas import LogEntryOut, LogPage, NewStaffOut, StaffIn, StaffOut

router = APIRouter(prefix="/v1", tags=["staff"])

Admin = Annotated[StaffUser, Depends(require(ADMIN))]
Auditor = Annotated[StaffUser, Depends(require(INTERNAL_AUDITOR, ADMIN))]
NamePath = Annotated[str, Path(max_length=64, description="the staff account's name")]
MAX_ID = 2**63 - 1  # the store's integers are signed 64-bit


def _out(account: dict[str, Any]) -> StaffOut:
    return StaffOut(**{**account, "created_at": iso(account["created_at"])})


@router.get("/staff", summary="This node's staff accounts (never their tokens)")
def list_staff(staff: Admin, node: NodeDep) -> list[StaffOut]:
    return [_out(a) for a in service.list_accounts(engine=node.engine)]


@router.post(
    "/staff",
    summary="Add a staff account; its token is in this answer only",
    status_code=201,
    responses={409: {"description": "an account by that name exists"}},
)
def add_staff(request: Request, body: StaffIn, staff: Admin, node: NodeDep) -> NewStaffOut:
    """The token is shown once: only its hash is kept, so a lost token means a new account."""
    log_target(request, body.name)
    new = service.add(engine=node.engine, name=body.name, role=body.role)
    return NewStaffOut(name=new.name, role=new.role, token=new.token)


@router.post(
    "/staff/{name}/unlock",
    summary="Unlock an account for every source it was locked for after failed attempts",
    responses={409: {"description": "the account is disabled: enable it instead"}},
)
def unlock_staff(name: NamePath, staff: Admin, node: NodeDep) -> StaffOut:
    service.unlock_or_raise(engine=node.engine, name=name)
    return _out(service.get_or_raise(engine=node.engine, name=name))


@router.post(
    "/staff/{name}/disable",
    summary="Refuse an account's token from now on",
    responses={409: {"description": "the last enabled admin cannot be disabled"}},
)
def disable_staff(name: NamePath, staff: Admin, node: NodeDep) -> StaffOut:
    service.disable_or_raise(engine=node.engine, name=name)
    return _out(service.get_or_raise(engine=node.engine, name=name))


@router.post("/staff/{name}/enable", summary="Accept a disabled account's token again")
def enable_staff(name: NamePath, staff: Admin, node: NodeDep) -> StaffOut:
    service.enable_or_raise(engine=node.engine, name=name)
    return _out(service.get_or_raise(engine=node.engine, name=name))


@router.get("/operator-log", summary="The append-only log of staff actions, oldest first")
def operator_log(
    staff: Auditor,
    node: NodeDep,
    refusals: Refusals,
    after_id: Annotated[int, Query(ge=0, le=MAX_ID, description="entries after this id")] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    who: Annotated[
        str | None, Query(max_length=64, description="only this staff account's entries")
    ] = None,
    action: Annotated[
        str | None,
        Query(max_length=200, description="only this action, e.g. 'GET /v1/records/{record_id}'"),
    ] = None,
    since: Annotated[
        Timestamp | None, Query(description="only entries at this time or later (RFC 3339)")
    ] = None,
    until: Annotated[
        Timestamp | None, Query(description="only entries before this time (RFC 3339)")
    ] = None,
) -> LogPage:
    """Who did what to which record, when and from where; refused attempts too, counted per
    source and minute (those counted so far are appended before this read). No identity
    fields, no request bodies. This read is itself logged. A page is filtered before it is
    cut, so next_after_id pages through the matching entries alone."""
    refusals.flush(engine=node.engine, everything=True)
    rows = oplog.read_log(
        engine=node.engine,
        after_id=after_id,
        limit=limit,
        who=who,
        action=action,
        since_us=microseconds(since),
        until_us=microseconds(until),
    )
    entries = [LogEntryOut(**{**row, "at": iso(row["at"])}) for row in rows]
    return LogPage(entries=entries, next_after_id=entries[-1].id if entries else after_id)


def install(app: FastAPI) -> None:
    """The staff API and the operator log middleware (node/openapi.py puts the roles into the
    OpenAPI description)."""
    app.include_router(router)
    install_state(app)
    app.add_middleware(OperatorLogMiddleware)
