"""Where the node stands on its chain, and the embedded chain's read-only JSON-RPC."""

from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import Response

from node.chain.rpc import READ_METHODS, respond, rpc_error
from node.deps import NodeDep
from node.members.service import anchoring_paused
from node.records import service
from node.staff.deps import AnyStaff

router = APIRouter(tags=["chain"])


@router.get("/v1/chain", summary="The chain this node anchors on, and its contracts")
def chain_info(staff: AnyStaff, node: NodeDep) -> dict[str, Any]:
    chain = node.chain
    return {
        "kind": chain.kind,
        "chain_id": chain.chain_id,
        "latest_block": chain.client.block_number(),
        "contracts": chain.addresses,
        "member": chain.client.account.address,
        "rpc": node.settings.rpc or "/rpc",
    }


@router.get("/v1/status", summary="Records waiting for the chain and anchored")
def status(staff: AnyStaff, node: NodeDep) -> dict[str, Any]:
    """`anchoring` is "running", or "paused: " and why: "member suspended" while the consortium
    has suspended this member (records are kept and wait), or the chain's last error."""
    paused = anchoring_paused(index=node.index, address=node.chain.client.account.address)
    if paused is None and node.batcher.last_error:
        paused = node.batcher.last_error
    return {
        **service.counts(engine=node.engine),
        "anchoring": "paused: " + paused if paused else "running",
    }


@router.post(
    "/rpc",
    summary="Read-only JSON-RPC of the embedded chain, for verifiers",
    description="Open without a staff token: it is how outside verifiers check receipts "
    "against the embedded chain, and it can only read (no transaction can be sent). "
    "Only on the embedded chain. Read methods: " + ", ".join(sorted(READ_METHODS)) + ". "
    "eth_call and eth_getLogs run apart, capped in gas, time and blocks scanned.",
)
async def rpc(request: Request, node: NodeDep) -> Response:
    try:
        call = orjson.loads(await request.body())  # depth-limited: no body can crash us
    except orjson.JSONDecodeError:
        answer = rpc_error(None, -32700, "parse error")
    else:
        answer = await respond(
            call, chain=node.chain, sandbox=getattr(request.app.state, "call_sandbox", None)
        )
    return Response(orjson.dumps(answer), media_type="application/json")
