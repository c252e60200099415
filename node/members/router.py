"""Members and governance API: thin routes over node/members/service.py."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Response
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
AS_OF = "X-Creditchain-As-Of-Block"
_AS_OF_DOC: dict[int | str, dict[str, Any]] = {200: {"headers": {AS_OF: {
    "description": "the last chain block the node's event index had read for this answer",
    "schema": {"type": "integer"}}}}}  # fmt: skip


def _as_of(response: Response, answer: service.Snapshot) -> Any:
    if answer.as_of_block is not None:
        response.headers[AS_OF] = str(answer.as_of_block)
    return answer.value


@router.get("/members", summary="Every member of the consortium, from the event index",
            responses=_AS_OF_DOC)  # fmt: skip
def list_members(node: NodeDep, staff: AnyStaff, response: Response) -> list[dict[str, Any]]:
    """As of the block in the X-Creditchain-As-Of-Block header: the node's index of the
    chain, which answers even while the chain cannot be reached."""
    return _as_of(response, service.list_members(index=node.index))


@router.get("/proposals", summary="Governance proposals (by default only the open ones)",
            responses=_AS_OF_DOC)  # fmt: skip
def list_proposals(
    node: NodeDep,
    staff: AnyStaff,
    response: Response,
    all: Annotated[bool, Query(description="closed and expired ones too")] = False,
) -> list[dict[str, Any]]:
    """As of the block in the X-Creditchain-As-Of-Block header."""
    answer = service.list_proposals(index=node.index, chain=node.chain, pending_only=not all)
    return _as_of(response, answer)


@router.get("/proposals/{proposal_id}", summary="One proposal and its votes",
            responses=_AS_OF_DOC)  # fmt: skip
def get_proposal(
    proposal_id: Annotated[int, Path(ge=1, le=2**63 - 1)],
    node: NodeDep,
    staff: AnyStaff,
    response: Response,
) -> dict[str, Any]:
    """As of the block in the X-Creditchain-As-Of-Block header."""
    answer = service.get_proposal(index=node.index, chain=node.chain, proposal_id=proposal_id)
    return _as_of(response, answer)


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
        index=node.index,
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
    return service.vote(chain=node.chain, proposal_id=proposal_id, index=node.index)
