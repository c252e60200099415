"""Gathering a borrower's report from every other active member with the borrower's own
signed request, in parallel, each member given its own timeout: a slow or dead member yields a
partial report that names it.

Each member checks the borrower's signature, the binding and its own count of free reports
itself (POST /v1/peer/reports); this node believes nothing a member sends that it cannot check
against the chain: every record and every query receipt (node/queries/verify.py), and one
failure rejects that member's whole section, naming the member and the item.
"""

import asyncio
from typing import Any

import httpx
import orjson

from node.chain.setup import Chain
from node.peers.signing import signed_headers
from node.queries.requester import ask_member
from node.queries.verify import AnswerRejected, BatchBook, anchor_mismatch, verify_answer
from node.receipts.verify import Verdict, check_offline

PEER_PATH = "/v1/peer/reports"


def peer_request(
    chain: Chain, *, request: dict[str, Any], signature: str
) -> tuple[bytes, dict[str, str]]:
    """The body (the borrower's signed request, as signed) and this node's signed headers."""
    body = orjson.dumps({"request": request, "signature": signature})
    headers = signed_headers(chain.client.account, chain_id=chain.chain_id,
                             contract=chain.addresses["Consortium"], method="POST",
                             path=PEER_PATH, body=body)  # fmt: skip
    return body, {**headers, "Content-Type": "application/json"}


def verify_queries(
    chain: Chain, batches: BatchBook, *, holder: str, subject_key: str, items: Any
) -> list[dict[str, Any]]:
    """A member's query log items about the subject: each receipt checked against the chain
    (one still pending has none, and says so); AnswerRejected at the first that fails."""
    if not isinstance(items, list):
        raise AnswerRejected(holder, "-", "queries is not a list")
    for item in items:
        if not isinstance(item, dict):
            raise AnswerRejected(holder, "-", "a query is not an object")
        name = f"query {item.get('query_id', '?')}"
        receipt = item.get("receipt")
        if receipt is None:
            continue
        verdict = Verdict()
        root = check_offline(receipt, verdict) if isinstance(receipt, dict) else None
        if root is None:
            failed = "; ".join(d for _, ok, d in verdict.checks if not ok)
            raise AnswerRejected(holder, name, failed or "not a receipt")
        entry = receipt.get("entry")
        if not isinstance(entry, dict) or str(entry.get("subject_key")).lower() != subject_key:
            raise AnswerRejected(holder, name, "the query is about another subject")
        if any(item.get(k) != v for k, v in entry.items()):
            raise AnswerRejected(holder, name, "the item is not the entry its receipt commits to")
        why = anchor_mismatch(chain, batches, holder=holder, receipt=receipt, root=root)
        if why is not None:
            raise AnswerRejected(holder, name, why)
    return items


def _shown_as_committed(holder: str, items: list[Any], receipts: list[Any]) -> None:
    """Each item's record is the one its (checked) receipt commits to."""
    for item, receipt in zip(items, receipts, strict=True):
        if item.get("record") != receipt["record"]:
            record_id = str(receipt["record"].get("record_id", "?"))
            raise AnswerRejected(holder, record_id, "the record shown is not the one committed")


def check_section(
    chain: Chain, batches: BatchBook, result: dict[str, Any], subject_key: str
) -> None:
    """Replace a member's answer by its checked section, or reject it naming the item."""
    answer = result.pop("answer", None)
    if answer is None:
        return
    holder = result["member"]
    items = answer.get("records")  # each {record, chain_status, receipt}: the receipt is checked
    receipts = ([i.get("receipt") if isinstance(i, dict) else None for i in items]
                if isinstance(items, list) else items)  # fmt: skip
    try:
        checked = verify_answer(chain, batches, holder=holder, subject_key=subject_key,
                                receipts=receipts)  # fmt: skip
        assert isinstance(items, list) and isinstance(receipts, list)
        _shown_as_committed(holder, items, receipts)
        queries = verify_queries(chain, batches, holder=holder, subject_key=subject_key,
                                 items=answer.get("queries"))  # fmt: skip
    except AnswerRejected as err:
        result.update(status="rejected", error={"error": err.code, "detail": err.detail,
                                                "record_id": err.record_id})  # fmt: skip
        return
    result.update(
        as_of_block=answer.get("as_of_block"),
        records=[{"record": r["record"], "chain_status": c["chain_status"], "receipt": r}
                 for r, c in zip(receipts, checked, strict=True)],
        pending=answer.get("pending"),
        erased=answer.get("erased") if isinstance(answer.get("erased"), list) else [],
        queries=queries,
        free_reports=answer.get("free_reports"),
    )  # fmt: skip


async def gather(
    *,
    chain: Chain,
    members: list[dict[str, Any]],
    subject_key: str,
    request: dict[str, Any],
    signature: str,
    timeout: float,
    transport: httpx.AsyncBaseTransport | None = None,
) -> list[dict[str, Any]]:
    """Every member in `members` asked at once with the borrower's signed request; each
    member's section, checked, or why there is none (status refused, timeout, unreachable,
    rejected)."""

    async def ask(http: httpx.AsyncClient, member: dict[str, Any]) -> dict[str, Any]:
        body, headers = peer_request(chain, request=request, signature=signature)
        result = await ask_member(http, member, path=PEER_PATH, body=body, headers=headers,
                                  timeout=timeout)  # fmt: skip
        return {"pending": 0, "queries": [], "free_reports": None, **result}

    async with httpx.AsyncClient(transport=transport) as http:
        results = await asyncio.gather(*(ask(http, m) for m in members))
    batches = BatchBook(chain)

    def check_all() -> None:
        for r in results:
            check_section(chain, batches, r, subject_key.lower())

    await asyncio.to_thread(check_all)
    return list(results)
