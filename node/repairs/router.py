"""Repairs API: thin routes over node/repairs/service.py.

Opening a case: admin or dispute handler. Deciding one: admin of a regulator's node (the
contract checks the regulator role). Reading one: any staff account."""

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request

from node.deps import NodeDep
from node.repairs import service
from node.repairs.schemas import CaseList, CaseOut, DecisionIn, RepairIn
from node.retention.service import retention_policy
from node.staff.deps import AnyStaff, StaffUser, log_target, require
from node.staff.models import ADMIN, DISPUTE_HANDLER

router = APIRouter(prefix="/v1/repairs", tags=["repairs"])

Handler = Annotated[StaffUser, Depends(require(ADMIN, DISPUTE_HANDLER))]
Admin = Annotated[StaffUser, Depends(require(ADMIN))]
CaseId = Annotated[int, Path(ge=1, le=2**63 - 1, description="the case's id on chain")]
REFUSALS: dict[int | str, dict[str, Any]] = {
    403: {"description": "not a regulator (decisions)"},
    404: {"description": "no such record or case"},
    409: {"description": "accurate_negative_information, a case exists, or decided already"},
    410: {"description": "the record was erased already"},
    503: {"description": "the transaction did not land; try again"},
}


@router.post("", summary="Open a repair case against a wrong record", response_model=CaseOut,
             responses=REFUSALS)  # fmt: skip
def open_case(body: RepairIn, node: NodeDep, staff: Handler, request: Request) -> dict[str, Any]:
    """Only on the ground `error` (the record is wrong): the case goes on chain and, once a
    regulator approves it (or at once where the consortium requires no approval), the
    node removes the record: data keys destroyed, commitment marked Revoked. Any other
    ground is refused: accurate negative information stays until its retention ends."""
    case = service.open_case(
        engine=node.engine, chain=node.chain, index=node.index,
        policy=retention_policy(node.settings), record_id=body.record_id, ground=body.ground,
        evidence=bytes.fromhex(body.evidence_hash[2:]),
    )  # fmt: skip
    log_target(request, f"repair case {case['case_id']}")
    return case


@router.post("/{case_id}/decision", summary="A regulator approves or refuses a case",
             response_model=CaseOut, responses=REFUSALS)  # fmt: skip
def decide(case_id: CaseId, body: DecisionIn, node: NodeDep, staff: Admin) -> dict[str, Any]:
    return service.decide(engine=node.engine, chain=node.chain, index=node.index,
                          case_id=case_id, approve=body.approve,
                          reason=bytes.fromhex(body.reason_hash[2:]))  # fmt: skip


@router.get("", summary="Every member's repair cases", response_model=CaseList)
def list_cases(
    node: NodeDep,
    staff: AnyStaff,
    state: Annotated[Literal["open", "approved", "refused"] | None, Query()] = None,
) -> dict[str, Any]:
    """From the event index: the open ones are what a regulator decides."""
    return service.list_cases(index=node.index, state=state)


@router.get("/{case_id}", summary="A repair case, as the chain holds it", response_model=CaseOut,
            responses=REFUSALS)  # fmt: skip
def get_case(case_id: CaseId, node: NodeDep, staff: AnyStaff) -> dict[str, Any]:
    return service.get_case(engine=node.engine, index=node.index, case_id=case_id)
