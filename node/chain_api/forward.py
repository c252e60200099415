"""/rpc on a chain the node reaches over JSON-RPC (anvil, Besu): the same read methods as
on the embedded chain, passed on to the chain's endpoint, so a browser checks a receipt
through the node that served it its page without knowing, or being let through to, the
chain's own endpoint. eth_call is capped in gas, eth_getLogs in blocks spanned."""

from typing import Any

import httpx

from node.chain_api.rpc import READ_METHODS, rpc_error

TIMEOUT = 10.0  # seconds the chain's endpoint may take to answer one read


def _span(params: list, head: int) -> int:
    query = params[0] if params and isinstance(params[0], dict) else {}
    if "blockHash" in query:
        return 1

    def number(tag: Any) -> int:
        if tag is None or tag in ("latest", "safe", "finalized", "pending"):
            return head
        if tag == "earliest":
            return 0
        if isinstance(tag, str) and tag.startswith("0x"):
            return int(tag, 16)
        raise ValueError("not a block number")

    return number(query.get("toBlock")) - number(query.get("fromBlock")) + 1


async def _post(http: httpx.AsyncClient, url: str, method: str, params: list) -> dict[str, Any]:
    reply = await http.post(url, json={"jsonrpc": "2.0", "id": 1, "method": method,
                                       "params": params})  # fmt: skip
    answer = reply.json()
    if not isinstance(answer, dict):
        return {"error": {"code": -32603, "message": "the chain's endpoint answered no object"}}
    return {k: answer[k] for k in ("result", "error") if k in answer}


async def forward(
    req_id: Any, method: Any, params: list, *, url: str, gas_cap: int, max_log_blocks: int
) -> dict[str, Any]:
    """The chain's own answer to one read method, or a JSON-RPC error saying why not."""
    if method not in READ_METHODS:
        return rpc_error(req_id, -32601, f"method not available: {str(method)[:64]}")
    if method == "eth_call" and params and isinstance(params[0], dict):
        gas = params[0].get("gas")
        try:
            capped = min(int(gas, 16), gas_cap) if isinstance(gas, str) else gas_cap
        except ValueError:
            return rpc_error(req_id, -32602, "gas must be a hex quantity")
        params = [{**params[0], "gas": hex(capped)}, *params[1:]]
    try:
        async with httpx.AsyncClient(timeout=TIMEOUT) as http:
            if method == "eth_getLogs":
                head = await _post(http, url, "eth_blockNumber", [])
                span = _span(params, int(head["result"], 16))
                if span > max_log_blocks:
                    message = f"eth_getLogs spans {span} blocks; at most {max_log_blocks} per query"
                    return rpc_error(req_id, -32005, message)
            outcome = await _post(http, url, method, params)
    except (httpx.HTTPError, OSError, ValueError, KeyError, TypeError):
        return rpc_error(req_id, -32603, "the chain's endpoint did not answer")
    return {"jsonrpc": "2.0", "id": req_id, **outcome}
