"""Where the node stands on its chain, and the embedded chain's read-only JSON-RPC."""

import json
from collections.abc import Mapping
from typing import Any

from eth_tester.exceptions import TransactionFailed
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from web3.exceptions import ContractLogicError

from node.chain.client import revert_data
from node.deps import NodeDep
from node.records import service
from node.staff.deps import AnyStaff

router = APIRouter(tags=["chain"])

# What outside verifiers may ask the embedded chain: reads only, never a transaction.
READ_METHODS = frozenset(
    {
        "eth_chainId",
        "net_version",
        "eth_blockNumber",
        "eth_call",
        "eth_getCode",
        "eth_getBalance",
        "eth_getBlockByNumber",
        "eth_getBlockByHash",
        "eth_getLogs",
        "eth_getTransactionByHash",
        "eth_getTransactionReceipt",
        "eth_getTransactionCount",
        "eth_gasPrice",
        "web3_clientVersion",
    }
)


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
    return {
        **service.counts(engine=node.engine),
        "anchoring": "paused: " + node.batcher.last_error if node.batcher.last_error else "running",
    }


def _rpc_error(req_id: Any, code: int, message: str) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": req_id, "error": {"code": code, "message": message}}


@router.post(
    "/rpc",
    summary="Read-only JSON-RPC of the embedded chain, for verifiers",
    description="Open without a staff token: it is how outside verifiers check receipts "
    "against the embedded chain, and it can only read (no transaction can be sent). "
    "Only on the embedded chain. Read methods: " + ", ".join(sorted(READ_METHODS)),
)
async def rpc(request: Request, node: NodeDep) -> Response:
    try:
        call = await request.json()
    except ValueError:
        return JSONResponse(_rpc_error(None, -32700, "parse error"))
    if not isinstance(call, dict):
        return JSONResponse(_rpc_error(None, -32600, "one request object at a time"))
    req_id, method = call.get("id"), call.get("method")
    if node.chain.kind != "embedded":
        return JSONResponse(_rpc_error(req_id, -32601, "ask the chain's own RPC endpoint"))
    if method not in READ_METHODS:
        return JSONResponse(_rpc_error(req_id, -32601, f"method not available: {method}"))
    w3 = node.chain.client.w3
    try:
        with node.chain.client.lock:
            result = w3.manager.request_blocking(method, call.get("params", []))
    except (
        TransactionFailed,
        ContractLogicError,
    ) as err:  # a reverted eth_call: answer as JSON-RPC nodes do
        error = _rpc_error(req_id, 3, "execution reverted")
        error["error"]["data"] = revert_data(err)
        return JSONResponse(error)
    except Exception as err:
        return JSONResponse(_rpc_error(req_id, -32602, f"invalid request: {type(err).__name__}"))
    answer = {"jsonrpc": "2.0", "id": req_id, "result": _wire(result)}
    return Response(json.dumps(answer), media_type="application/json")


def _camel(key: str) -> str:
    head, *rest = key.split("_")
    return head + "".join(part.title() for part in rest)


def _wire(value: Any) -> Any:
    """web3's Python values back into JSON-RPC's wire form: hex quantities and hex data."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        return hex(value)
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, Mapping):
        out = {_camel(k): _wire(v) for k, v in value.items()}
        if "gas" in out and "data" in out and "input" not in out:  # eth-tester's transactions
            out["input"] = out.pop("data")
        return out
    if isinstance(value, (list, tuple)):
        return [_wire(v) for v in value]
    return str(value)
