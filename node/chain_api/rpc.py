"""The embedded chain's JSON-RPC as outside verifiers get it at /rpc: which methods they may
call, and where each runs. Quick reads (one block, one receipt, one account) run here, in a
thread under the chain lock for the moment they take; eth_call (a stranger's code) and
eth_getLogs (a scan over many blocks) run in the call sandbox, capped in gas and time, without
the chain lock, so no stranger's question holds up the node's own transactions.
"""

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from eth_tester.exceptions import TransactionFailed
from starlette.concurrency import run_in_threadpool
from web3 import Web3
from web3.exceptions import ContractLogicError
from web3.types import RPCEndpoint

from node.chain.client import ChainClient, revert_data

if TYPE_CHECKING:
    from node.chain.setup import Chain
    from node.chain_api.sandbox import CallSandbox

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
IN_SANDBOX = frozenset({"eth_call", "eth_getLogs"})
MAX_PARAMS_DEPTH = 8  # eth_getLogs' topics, the deepest params here, are 4 levels down


def rpc_error(req_id: Any, code: int, message: str) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": req_id, "error": {"code": code, "message": message}}


async def respond(
    call: Any, *, chain: "Chain", sandbox: "CallSandbox | None", upstream: Any = None
) -> dict[str, Any]:
    """The JSON-RPC answer to one parsed request object. `upstream(req_id, method, params)`
    answers it on a chain reached over JSON-RPC (node/chain_api/forward.py)."""
    if not isinstance(call, dict):
        return rpc_error(None, -32600, "one request object at a time")
    req_id, method, params = call.get("id"), call.get("method"), call.get("params", [])
    if not (req_id is None or isinstance(req_id, (str, int, float))):
        return rpc_error(None, -32600, "id must be a string, a number or null")
    if method not in READ_METHODS:
        return rpc_error(req_id, -32601, f"method not available: {str(method)[:64]}")
    if not isinstance(params, list) or _deeper_than(params, MAX_PARAMS_DEPTH):
        return rpc_error(req_id, -32602, f"params must be a list at most {MAX_PARAMS_DEPTH} deep")
    if chain.kind != "embedded" and upstream is not None:
        return dict(await upstream(req_id, method, params))
    if chain.kind != "embedded" or sandbox is None:
        return rpc_error(req_id, -32601, "ask the chain's own RPC endpoint")
    if method in IN_SANDBOX:
        outcome = await sandbox.request(method, params)
    else:
        outcome = await run_in_threadpool(_answer_locked, chain.client, method, params)
    return {"jsonrpc": "2.0", "id": req_id, **outcome}


def _answer_locked(client: ChainClient, method: str, params: list) -> dict[str, Any]:
    with client.lock:  # the node's chain object is one, and not thread-safe
        return answer(client.w3, method, params)


def answer(
    w3: Web3, method: str, params: list, *, max_log_blocks: int | None = None
) -> dict[str, Any]:
    """{"result": ...} or {"error": {...}} for one read, as JSON-RPC nodes answer it."""
    try:
        if method == "eth_getLogs" and max_log_blocks is not None:
            span = _log_span(w3, params)
            if span > max_log_blocks:
                message = f"eth_getLogs spans {span} blocks; at most {max_log_blocks} per query"
                return {"error": {"code": -32005, "message": message}}
        result = w3.manager.request_blocking(RPCEndpoint(method), params)
    except (TransactionFailed, ContractLogicError) as err:  # a reverted eth_call
        return {"error": {"code": 3, "message": "execution reverted", "data": revert_data(err)}}
    except Exception as err:
        return {"error": {"code": -32602, "message": f"invalid request: {type(err).__name__}"}}
    return {"result": wire(result)}


def _log_span(w3: Web3, params: list) -> int:
    """How many blocks an eth_getLogs filter covers (a blockHash filter: one)."""
    query = params[0] if params and isinstance(params[0], dict) else {}
    if "blockHash" in query:
        return 1
    head = w3.eth.block_number

    def number(tag: Any) -> int:
        if tag is None or tag in ("latest", "safe", "finalized"):
            return head
        if tag == "earliest":
            return 0
        if tag == "pending":
            return head + 1
        if isinstance(tag, str):
            return int(tag, 16)
        if isinstance(tag, int):
            return tag
        raise ValueError("not a block number")

    return number(query.get("toBlock")) - number(query.get("fromBlock")) + 1


def _deeper_than(value: Any, depth: int) -> bool:
    if depth < 0:
        return True
    if isinstance(value, dict):
        return any(_deeper_than(v, depth - 1) for v in value.values())
    if isinstance(value, list):
        return any(_deeper_than(v, depth - 1) for v in value)
    return False


def _camel(key: str) -> str:
    head, *rest = key.split("_")
    return head + "".join(part.title() for part in rest)


def wire(value: Any) -> Any:
    """web3's Python values back into JSON-RPC's wire form: hex quantities and hex data."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        return hex(value)
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, Mapping):
        out = {_camel(k): wire(v) for k, v in value.items()}
        if "gas" in out and "data" in out and "input" not in out:  # eth-tester's transactions
            out["input"] = out.pop("data")
        return out
    if isinstance(value, (list, tuple)):
        return [wire(v) for v in value]
    return str(value)
