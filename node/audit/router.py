"""The audit export over HTTP, for the node's internal auditor: the same signed bundle as
`creditchain audit-export`, streamed as it is written."""

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import StreamingResponse

from node.audit.export import bundle_chunks
from node.deps import NodeDep
from node.staff.deps import StaffUser, require
from node.staff.models import ADMIN, INTERNAL_AUDITOR

router = APIRouter(prefix="/v1/audit", tags=["audit"])
Auditor = Annotated[StaffUser, Depends(require(INTERNAL_AUDITOR, ADMIN))]


@router.get(
    "/export",
    summary="A signed audit bundle of every record and query this node anchored",
    response_class=StreamingResponse,
    responses={
        200: {
            "content": {"application/x-ndjson": {}},
            "description": "the bundle, JSON Lines (README: the audit)",
        }
    },  # fmt: skip
)
def export(staff: Auditor, node: NodeDep) -> StreamingResponse:
    """Every leaf of every confirmed batch: records in their committed form (subject key, no
    identifier) with salts, query log entries, erased records as their commitment alone;
    each with its batch, leaf index, status and inclusion proof; signed by the member key.
    Check it with `creditchain audit BUNDLE --rpc URL`."""
    chain = node.chain
    chunks = bundle_chunks(engine=node.engine, keys=node.keys, account=chain.client.account,
                           chain_id=chain.chain_id,
                           registry=chain.addresses["RecordRegistry"])  # fmt: skip
    return StreamingResponse(
        chunks,
        media_type="application/x-ndjson",
        headers={"Content-Disposition": 'attachment; filename="audit-bundle.jsonl"'},
    )
