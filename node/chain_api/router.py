"""Which chain the node anchors on, and the embedded chain's read-only JSON-RPC."""

from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import Response

from node.chain_api.forward import forward
from node.chain_api.rpc import READ_METHODS, respond, rpc_error
from node.deps import NodeDep
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


@router.post(
    "/rpc",
    summary="Read-only JSON-RPC of the embedded chain, for verifiers",
    description="Open without a staff token: it is how outside verifiers (and the borrower's "
    "page) check receipts against the chain, and it can only read (no transaction can be "
    "sent). On the embedded chain eth_call and eth_getLogs run apart, capped in gas, time and "
    "blocks scanned; on a chain reached over JSON-RPC (--rpc) the same reads are passed on to "
    "it, eth_call capped in gas and eth_getLogs in blocks. Read methods: "
    + ", ".join(sorted(READ_METHODS))
    + ".",
)
async def rpc(request: Request, node: NodeDep) -> Response:
    try:
        call = orjson.loads(await request.body())  # depth-limited: no body can crash us
    except orjson.JSONDecodeError:
        answer = rpc_error(None, -32700, "parse error")
    else:
        settings = node.settings

        async def upstream(req_id: Any, method: Any, params: list) -> dict[str, Any]:
            return await forward(req_id, method, params, url=str(settings.rpc),
                                 gas_cap=settings.rpc_gas_cap,
                                 max_log_blocks=settings.rpc_logs_max_blocks)  # fmt: skip

        answer = await respond(
            call,
            chain=node.chain,
            sandbox=getattr(request.app.state, "call_sandbox", None),
            upstream=upstream if settings.rpc else None,
        )
    return Response(orjson.dumps(answer), media_type="application/json")
