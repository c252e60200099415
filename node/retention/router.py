"""Retention API: the schedule (what expires when) and the erasures beside the chain's
marks. Read by a node admin or an internal auditor."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from node.deps import NodeDep
from node.retention import service
from node.retention.schemas import ErasurePage, SchedulePage
from node.staff.deps import StaffUser, require
from node.staff.models import ADMIN, INTERNAL_AUDITOR

router = APIRouter(prefix="/v1/retention", tags=["retention"])

Reader = Annotated[StaffUser, Depends(require(ADMIN, INTERNAL_AUDITOR))]
AfterRow = Annotated[int, Query(ge=0, le=2**63 - 1, description="the page after this row")]
Limit = Annotated[int, Query(ge=1, le=1000)]


@router.get("/schedule", summary="What expires when", response_model=SchedulePage)
def schedule(
    staff: Reader,
    node: NodeDep,
    state: Annotated[str | None, Query(description="open, scheduled or erased")] = None,
    due_by: Annotated[
        int | None, Query(ge=0, le=2**63 - 1, description="only entries expiring by then")
    ] = None,
    after_row: AfterRow = 0,
    limit: Limit = 100,
) -> dict[str, Any]:
    """Each stored record version, when its adverse event ended, when it expires (by the
    chain's block time) and whether it was erased; the chain's time it is as of."""
    return service.list_schedule(engine=node.engine, state=state, due_by=due_by,
                                 after_row=after_row, limit=limit)  # fmt: skip


@router.get("/erasures", summary="Erasures beside the chain's marks", response_model=ErasurePage)
def erasures(
    staff: Reader, node: NodeDep, after_row: AfterRow = 0, limit: Limit = 100
) -> dict[str, Any]:
    """Each erased version, its schedule, the block it was erased at, and the event that
    marked it Expired on chain (LeavesExpired setting its leaf's bit in the batch's expiry
    bitmap): an auditor checks that neither came before the expiry."""
    return service.erasures(engine=node.engine, index=node.index, after_row=after_row,
                            limit=limit)  # fmt: skip
