"""Asking every other active member for an applicant's records, in parallel, each with its
own timeout: a slow or dead member yields a partial answer that names it, never a wait on it.

Each member's answer is checked against the chain (node/queries/verify.py) before any of it is
believed; each query sent is logged on this side too (node/queries/log.py).
"""

import asyncio
import datetime as dt
import secrets
import time
from typing import Any

import httpx
import orjson
from eth_account.signers.local import LocalAccount
from web3 import Web3

from node.chain.setup import Chain
from node.disputes import reads as disputes
from node.members.service import list_members
from node.peers import answers
from node.peers.signing import signed_headers
from node.queries.log import QueryEntry, QueryLog
from node.queries.summary import summarise
from node.queries.verify import AnswerRejected, BatchBook, verify_answer

PEER_PATH = "/v1/peer/queries"


def peer_request(
    account: LocalAccount,
    *,
    chain_id: int,
    consortium: str,
    consent_id: str,
    subject_key: str,
    purpose: str,
    nonce: str | None = None,
    issued_at: int | None = None,
) -> tuple[bytes, dict[str, str]]:
    """The body and signed headers of one query from `account`'s node to another member's."""
    body = orjson.dumps({
        "consent_id": consent_id, "subject_key": subject_key, "purpose": purpose,
        "issued_at": int(time.time()) if issued_at is None else issued_at,
        "nonce": nonce or "0x" + secrets.token_hex(32),
    })  # fmt: skip
    headers = signed_headers(account, chain_id=chain_id, contract=consortium, method="POST",
                             path=PEER_PATH, body=body)  # fmt: skip
    return body, {**headers, "Content-Type": "application/json"}


async def ask_member(
    http: httpx.AsyncClient,
    member: dict[str, Any],
    *,
    path: str,
    body: bytes,
    headers: dict[str, str],
    timeout: float,
) -> dict[str, Any]:
    """One member's answer to `body` POSTed to `path` on its node with `headers` (signed
    with this node's member key), as it came (not yet checked); or why there is none: its
    status is answered, refused, timeout, unreachable, or rejected (answer_too_large)."""
    result: dict[str, Any] = {"member": member["address"], "name": member["name"],
                              "records": [], "as_of_block": None, "error": None}  # fmt: skip
    if not member["node_url"]:
        return {**result, "status": "unreachable",
                "error": {"error": "unreachable", "detail": "no node URL on chain"}}  # fmt: skip
    try:
        status, answer, _ = await answers.post(http, member["node_url"].rstrip("/") + path,
                                               content=body, headers=headers,
                                               timeout=timeout)  # fmt: skip
    except (TimeoutError, httpx.TimeoutException):
        return {**result, "status": "timeout", "error": {"error": "timeout",
                "detail": f"no answer within {timeout:g}s"}}  # fmt: skip
    except answers.AnswerTooLarge as err:
        return {**result, "status": "rejected",
                "error": {"error": "answer_too_large", "detail": str(err)}}  # fmt: skip
    except (httpx.HTTPError, OSError) as err:
        return {**result, "status": "unreachable",
                "error": {"error": "unreachable", "detail": type(err).__name__}}  # fmt: skip
    if status != 200 or not isinstance(answer, dict):
        error = answer if isinstance(answer, dict) else {"error": f"http_{status}"}
        return {**result, "status": "refused", "error": error}
    return {**result, "status": "answered", "answer": answer}


async def _ask(
    http: httpx.AsyncClient,
    chain: Chain,
    member: dict[str, Any],
    query: dict[str, Any],
    timeout: float,
) -> dict[str, Any]:
    """One member's answer to a query as it came (not yet checked), or why there is none."""
    body, headers = peer_request(chain.client.account, chain_id=chain.chain_id,
                                 consortium=chain.addresses["Consortium"], **query)  # fmt: skip
    return await ask_member(http, member, path=PEER_PATH, body=body, headers=headers,
                            timeout=timeout)  # fmt: skip


def _statements(engine: Any, answer: dict[str, Any]) -> dict[str, str]:
    """The statements (unresolved objections) the answer's records carry, by commitment."""
    receipts = answer.get("records")
    if not isinstance(receipts, list):
        return {}
    commitments = [r["commitment"] for r in receipts
                   if isinstance(r, dict) and isinstance(r.get("commitment"), str)]  # fmt: skip
    return disputes.statements_for(engine, commitments)


def _check(
    chain: Chain, batches: BatchBook, result: dict[str, Any], subject_key: str, engine: Any
) -> None:
    """Replace an answer by its verified records, or reject it naming the record."""
    answer = result.pop("answer", None)
    if answer is None:
        return
    try:
        result["records"] = verify_answer(chain, batches, holder=result["member"],
                                          subject_key=subject_key,
                                          receipts=answer.get("records"),
                                          statements=_statements(engine, answer))  # fmt: skip
        result["as_of_block"] = answer.get("as_of_block")
    except AnswerRejected as err:
        result.update(
            status="rejected",
            records=[],
            error={"error": err.code, "detail": err.detail, "record_id": err.record_id},
        )


async def query_members(
    *,
    chain: Chain,
    index: Any,
    log: QueryLog,
    subject_key: str,
    consent_id: str,
    purpose: str,
    timeout: float,
    transport: httpx.AsyncBaseTransport | None = None,
) -> dict[str, Any]:
    """Ask every other active member at once; their verified records and the summary. The
    query is in this node's log (one entry per member asked) before it is sent."""
    me = chain.client.account.address
    members = [m for m in list_members(index=index).value
               if m["status"] == "active" and m["address"] != me]  # fmt: skip
    query_id = "0x" + secrets.token_hex(32)
    now = int(time.time())
    query = {"consent_id": consent_id, "subject_key": subject_key, "purpose": purpose}
    entries = [
        QueryEntry(query_id=_nonce(query_id, m["address"]), side="requester",
                   subject_key=subject_key, consent_id=consent_id, purpose=purpose,
                   requester=me, holder=m["address"], at=now)
        for m in members
    ]  # fmt: skip
    await asyncio.to_thread(lambda: [f.result(30) for f in [log.log(e) for e in entries]])
    async with httpx.AsyncClient(transport=transport) as http:
        results = await asyncio.gather(*(
            _ask(http, chain, m, {**query, "nonce": e.query_id}, timeout)
            for m, e in zip(members, entries, strict=True)
        ))  # fmt: skip
    batches = BatchBook(chain)

    def check_all() -> None:
        for r in results:
            _check(chain, batches, r, subject_key, index.engine)

    await asyncio.to_thread(check_all)
    missing = [r["name"] for r in results if r["status"] != "answered"]
    summary = summarise({r["member"]: r["records"] for r in results}, dt.date.today())
    return {"query_id": query_id, "subject_key": subject_key, "partial": bool(missing),
            "missing": missing, "members": list(results), "summary": summary}  # fmt: skip


def _nonce(query_id: str, member: str) -> str:
    """Each member is sent its own nonce, derived from the query's id, so the two sides'
    log entries of one exchange share an id and no member can replay another's."""
    return "0x" + Web3.keccak(hexstr=query_id + member[2:].lower()).hex().removeprefix("0x")
