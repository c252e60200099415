"""Blacklist API: thin routes over node/blacklist/service.py.

Listing, delisting and notices: admin and submitter. Bulk checks: query_operator and admin.
Reading one entry: any staff account. Answers read from the index say as of which block
(header X-Creditchain-As-Of-Block).
"""

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Path, Request, Response
from starlette.concurrency import run_in_threadpool

from node.blacklist import service
from node.blacklist.schemas import CheckIn, CheckOut, DelistIn, ListingIn, NoticeIn, SubjectId
from node.deps import Node, NodeDep
from node.members.router import _AS_OF_DOC, AS_OF
from node.staff.deps import AnyStaff, StaffUser, log_target, require
from node.staff.models import ADMIN, QUERY_OPERATOR, SUBMITTER

router = APIRouter(prefix="/v1/blacklist", tags=["blacklist"])

Lister = Annotated[StaffUser, Depends(require(ADMIN, SUBMITTER))]
Checker = Annotated[StaffUser, Depends(require(ADMIN, QUERY_OPERATOR))]
EntryId = Annotated[int, Path(ge=1, le=2**63 - 1, description="the entry's id on chain")]
REFUSALS: dict[int | str, dict[str, Any]] = {
    403: {"description": "this member is not active, or may not delist the entry"},
    409: {"description": "the contract would refuse: no usable notice, entry not active, ..."},
    503: {"description": "the transaction did not land; try again"},
}


def _key(node: Node, subject: SubjectId) -> bytes:
    return service.subject_key_of(node.keys.consortium_secret, subject.type, subject.id_number)


@router.post("/notices", summary="Register the notice given to a borrower before listing",
             responses=REFUSALS)  # fmt: skip
def register_notice(body: NoticeIn, node: NodeDep, staff: Lister) -> dict[str, Any]:
    """The notice's time, channel and the hash of its text go on chain; a listing of the
    same subject by this member needs one such notice, unused, registered first."""
    return service.register_notice(
        chain=node.chain, index=node.index, key=_key(node, body.subject),
        channel=body.channel, text=body.text, noticed_at=body.noticed_at,
    )  # fmt: skip


@router.post("/entries", summary="List a subject on the shared blacklist", responses=REFUSALS)
def list_subject(body: ListingIn, node: NodeDep, staff: Lister, request: Request) -> dict[str, Any]:
    """Refused without this member's notice to the subject, and while this member is
    suspended. The entry expires `blacklist_retention_years` after the event's end."""
    key = _key(node, body.subject)
    evidence = service.evidence_of(node.engine, body.evidence, body.record_id)
    expires = service.expiry_of(body.event_end_date, node.settings.blacklist_retention_years)
    entry = service.list_subject(
        chain=node.chain, index=node.index, key=key, reason=body.reason, evidence=evidence,
        expires_at=expires, notice_id=body.notice_id,
    )  # fmt: skip
    log_target(request, f"entry {entry['entry_id']}")
    return entry


@router.post("/entries/{entry_id}/delist", summary="Delist an entry", responses=REFUSALS)
def delist(entry_id: EntryId, body: DelistIn, node: NodeDep, staff: Lister,
           request: Request) -> dict[str, Any]:  # fmt: skip
    """Only the member that listed the entry (while active) or a regulator may."""
    log_target(request, f"entry {entry_id}")
    return service.delist(chain=node.chain, index=node.index, entry_id=entry_id,
                          reason=body.reason)  # fmt: skip


@router.get("/entries/{entry_id}", summary="One entry, from the event index",
            responses=_AS_OF_DOC)  # fmt: skip
def get_entry(entry_id: EntryId, node: NodeDep, staff: AnyStaff, request: Request,
              response: Response) -> dict[str, Any]:  # fmt: skip
    log_target(request, f"entry {entry_id}")
    entry, block = service.get_entry(engine=node.engine, entry_id=entry_id)
    if block is not None:
        response.headers[AS_OF] = str(block)
    return entry


@router.post(
    "/checks",
    summary="Check up to 100,000 applicants against the blacklist",
    response_model=CheckOut,
    openapi_extra={"requestBody": {"required": True, "content": {
        "application/json": {"schema": CheckIn.model_json_schema()}}}},
    responses={**_AS_OF_DOC, 422: {"description": "the body as a whole is unusable"}},
)  # fmt: skip
async def check(request: Request, node: NodeDep, staff: Checker) -> Response:
    """Per applicant, in order: clear, listed (each active entry: member and its status,
    reason, listed, expires, disputed) or invalid (named by position, never by value).
    Answered from the node's event index alone, as of the block in `as_of_block`; an
    entry past its expiry at that block's time no longer matches."""
    body = await request.body()  # its size is capped by RequestLimits before it is read
    applicants = await run_in_threadpool(service.parse_applicants, body)
    log_target(request, f"{len(applicants)} applicants")
    answer = await run_in_threadpool(
        service.check_applicants, engine=node.engine,
        secret=node.keys.consortium_secret, applicants=applicants,
    )  # fmt: skip
    headers = {AS_OF: str(answer["as_of_block"])} if answer["as_of_block"] is not None else {}
    return Response(orjson.dumps(answer), media_type="application/json", headers=headers)
