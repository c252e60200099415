"""Records API: thin routes over node/records/service.py."""

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from node import metrics
from node.anchoring.service import unknown_own_batches
from node.deps import NodeDep
from node.disputes import reads as disputes
from node.http_errors import error_body
from node.members.service import anchoring_paused
from node.records import service
from node.records.rejections import FIELD_NAMES
from node.records.schemas import Receipt, RecordOut, SubmitRequest, SubmitResponse
from node.staff.deps import AnyStaff, StaffUser, log_target, require
from node.staff.models import ADMIN, DISPUTE_HANDLER, INTERNAL_AUDITOR, SUBMITTER

router = APIRouter(prefix="/v1", tags=["records"])

Submitter = Annotated[StaffUser, Depends(require(ADMIN, SUBMITTER))]
Reader = Annotated[StaffUser, Depends(require(ADMIN, SUBMITTER, INTERNAL_AUDITOR, DISPUTE_HANDLER))]

RecordIdPath = Annotated[str, Path(max_length=64, description="the member's record id")]


# why accepted records wait, when this member's standing in the consortium stops anchoring
WARNINGS = {
    "member suspended": "this member is suspended: the accepted records are kept, but none "
    "can be anchored on chain until the consortium reinstates it",
    "member removed": "this member was removed from the consortium: the accepted records are "
    "kept, but none can be anchored on chain",
}


def _json(data: Any) -> Response:
    return Response(orjson.dumps(data), media_type="application/json")


@router.post(
    "/records",
    summary="Submit up to 10,000 credit records",
    response_model=SubmitResponse,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": SubmitRequest.model_json_schema()}},
        }
    },
    responses={422: {"description": "the body as a whole is unusable; nothing stored"}},
)
async def submit_records(request: Request, staff: Submitter, node: NodeDep) -> Response:
    """Each record is answered on its own: accepted (with its commitment) or rejected naming
    the field at fault. A rejected record stores nothing; the accepted ones are stored
    encrypted and anchored on chain by the batcher; while this member is suspended they wait,
    and the answer's `warning` says so. The same record_id with the same content
    again is a no-op; with new content it is a correction (a new version)."""
    body = await request.body()  # its size is capped by RequestLimits before it is read
    prepared = await node.preparer.prepare(body)
    result = await run_in_threadpool(
        service.store_submission, engine=node.engine, prepared=prepared
    )
    log_target(request, result["submission_id"])
    rejected = (r["field"] for r in result["results"] if r["status"] == "rejected")
    metrics.count_records(result["accepted"], rejected, FIELD_NAMES)
    paused = anchoring_paused(index=node.index, address=node.chain.client.account.address)
    if paused and result["accepted"]:
        result["warning"] = WARNINGS[paused]
    return _json(result)


@router.get("/submissions/{submission_id}", summary="A past submission's per-record results")
def get_submission(
    submission_id: Annotated[str, Path(max_length=64)], staff: Reader, node: NodeDep
) -> Response:
    return _json(service.get_submission(engine=node.engine, submission_id=submission_id))


_ERASED: dict[int | str, dict[str, Any]] = {
    410: {
        "description": "erased: its retention ended (or it was removed as wrong) and "
        "its data key was destroyed; only its commitment stays"
    }
}


@router.get(
    "/records/{record_id}",
    summary="One record as committed",
    response_model=RecordOut,
    responses=_ERASED,
)
def get_record(
    record_id: RecordIdPath,
    staff: Reader,
    node: NodeDep,
    version: Annotated[
        int | None, Query(ge=1, le=2**63 - 1, description="default: the current one")
    ] = None,
) -> Response:
    """With the record's open objection and the borrower's statement it carries, if any."""
    record = service.get_record(
        engine=node.engine, keys=node.keys, record_id=record_id, version=version
    )
    return _json({**record, **disputes.beside_record(node.engine, record["commitment"])})


@router.get(
    "/records/{record_id}/receipt",
    summary="The record's receipt, checkable against the chain alone",
    response_model=Receipt,  # documents the answer; the route still sends orjson bytes
    responses={
        409: {
            "description": "not anchored yet",
            "content": {
                "application/json": {
                    "example": error_body(
                        "not_anchored", "record is pending (queued)", state="pending"
                    )
                }
            },
        },
        **_ERASED,
    },
)
def get_receipt(
    record_id: RecordIdPath,
    staff: Reader,
    node: NodeDep,
    version: Annotated[
        int | None, Query(ge=1, le=2**63 - 1, description="default: the current one")
    ] = None,
) -> Response:
    return _json(
        service.get_receipt(
            engine=node.engine,
            keys=node.keys,
            record_id=record_id,
            version=version,
            chain_id=node.chain.chain_id,
            registry=node.chain.addresses["RecordRegistry"],
        )
    )


@router.get("/status", summary="Records waiting for the chain and anchored")
def status(staff: AnyStaff, node: NodeDep) -> dict[str, Any]:
    """`anchoring` is "running", or "paused: " and why: "member suspended" while the consortium
    has suspended this member (records are kept and wait), or the chain's last error.
    `unknown_own_batches` names the batches the chain holds of this member that this store
    never held (it was restored from a backup older than them): their records are not here
    and must be sent again; anchoring goes on after them."""
    paused = anchoring_paused(index=node.index, address=node.chain.client.account.address)
    if paused is None and node.batcher.last_error:
        paused = node.batcher.last_error
    me = node.chain.client.account.address
    return {
        **service.counts(engine=node.engine),
        "anchoring": "paused: " + paused if paused else "running",
        "unknown_own_batches": unknown_own_batches(engine=node.engine, index=node.index,
                                                   member=me),
    }  # fmt: skip
