"""Routes other member nodes call, authenticated by their member key, not by staff tokens."""

from typing import Any

from fastapi import APIRouter, Request

from node.deps import NodeDep
from node.members.service import is_active_member
from node.peers.signing import NonceBook, NotAnActiveMember, verify

router = APIRouter(prefix="/v1/peer", tags=["peers"])
_nonces = NonceBook()


async def authenticate_peer(request: Request, node: Any) -> str:
    """The calling member's address: signed, fresh, and an active member now, as the
    node's event index has read the chain."""
    chain = node.chain

    def admit(member: str) -> None:
        if not is_active_member(index=node.index, address=member):
            raise NotAnActiveMember(member)

    return verify(
        headers=request.headers,
        method=request.method,
        path=request.url.path,
        body=await request.body(),
        chain_id=chain.chain_id,
        contract=chain.addresses["Consortium"],
        nonces=_nonces,
        admit=admit,
    )


@router.get(
    "/hello",
    summary="Who am I talking to: for member nodes, signed with their key",
    responses={
        401: {"description": "unsigned, badly signed, stale or replayed"},
        403: {"description": "the signer is not an active member"},
    },
)
async def hello(request: Request, node: NodeDep) -> dict[str, Any]:
    """Answers only a request signed by an active member (EIP-712, headers
    X-Creditchain-Member, -Timestamp, -Nonce, -Signature)."""
    member = await authenticate_peer(request, node)
    return {"member": member, "node": node.chain.client.account.address,
            "chain_id": node.chain.chain_id}  # fmt: skip
