"""Members and governance API: thin routes over node/members/service.py."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query
from web3 import Web3

from node.deps import NodeDep
from node.members import service
from node.members.schemas import ProposalIn
from node.staff.deps import AnyStaff, StaffUser, require
from node.staff.models import ADMIN

router = APIRouter(prefix="/v1", tags=["members"])
NodeAdmin = Annotated[StaffUser, Depends(require(ADMIN))]  # proposes and votes for the member
REFUSALS: dict[int | str, dict[str, Any]] = {
    409: {
        "description": "the action does not fit the member's status or roles now, or would "
        "leave too few admins; or (votes) already voted, or the proposal is closed or expired"
    },
    503: {"description": "the transaction did not land; try again"},
}


@router.get("/members", summary="Every member of the consortium, from the chain")
def list_members(node: NodeDep, staff: AnyStaff) -> list[dict[str, Any]]:
    return service.list_members(chain=node.chain)


@router.get("/proposals", summary="Governance proposals (by default only the open ones)")
def list_proposals(
    node: NodeDep,
    staff: AnyStaff,
    all: Annotated[bool, Query(description="closed and expired ones too")] = False,
) -> list[dict[str, Any]]:
    return service.list_proposals(chain=node.chain, pending_only=not all)


@router.get("/proposals/{proposal_id}", summary="One proposal and its votes")
def get_proposal(
    proposal_id: Annotated[int, Path(ge=1, le=2**63 - 1)], node: NodeDep, staff: AnyStaff
) -> dict[str, Any]:
    return service.get_proposal(chain=node.chain, proposal_id=proposal_id)


@router.post(
    "/proposals",
    summary="Propose a change; this member's vote counts at once",
    responses=REFUSALS,
)
def propose(body: ProposalIn, node: NodeDep, staff: NodeAdmin) -> dict[str, Any]:
    """Only a founding admin may propose. Once as many admins as the consortium's threshold
    have voted, the change is carried out on chain."""
    return service.propose(
        chain=node.chain,
        action=body.action,
        subject=Web3.to_checksum_address(body.subject),
        name=body.name,
        node_url=body.node_url,
        public_key=bytes.fromhex(body.public_key.removeprefix("0x")),
    )


@router.post(
    "/proposals/{proposal_id}/votes",
    summary="Vote for a proposal as this member",
    responses=REFUSALS,
)
def vote(
    proposal_id: Annotated[int, Path(ge=1, le=2**63 - 1)], node: NodeDep, staff: NodeAdmin
) -> dict[str, Any]:
    """A vote by a non-admin, a second vote, or a vote on a closed or expired proposal is
    refused with the reason."""
    return service.vote(chain=node.chain, proposal_id=proposal_id)
