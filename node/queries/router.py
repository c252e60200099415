"""Queries API: thin routes over node/queries/service.py.

POST /v1/peer/queries is called by other members' nodes (signed with their member key);
POST /v1/queries by this node's query operators; GET /v1/subjects/{key}/trail by the borrower.
"""

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Header, Path, Request, Response
from starlette.concurrency import run_in_threadpool

from node import metrics
from node.deps import NodeDep
from node.errors import DomainError
from node.members.router import AS_OF
from node.queries import service
from node.queries.schemas import PeerAnswer, PeerQuery, QueryIn, QueryOut
from node.staff.deps import StaffUser, log_target, require
from node.staff.models import QUERY_OPERATOR

router = APIRouter(tags=["queries"])
Operator = Annotated[StaffUser, Depends(require(QUERY_OPERATOR))]
SubjectKeyPath = Annotated[str, Path(pattern=r"^0x[0-9a-fA-F]{64}$")]

PEER_REFUSALS: dict[int | str, dict[str, Any]] = {
    401: {"description": "unsigned, badly signed (unsigned_request, bad_signature), stale "
          "(stale_request) or replayed (replayed_request)"},
    403: {"description": "not_a_member, requester_suspended, or the consent does not let "
          "this query through: consent_not_found, consent_other_subject, "
          "consent_other_member, consent_other_purpose, consent_not_yet_valid, "
          "consent_expired, consent_revoked"},
}  # fmt: skip


@router.post(
    "/v1/peer/queries",
    summary="Another member's query about a subject, under the subject's consent",
    response_model=PeerAnswer,
    responses=PEER_REFUSALS,
)
async def peer_query(query: PeerQuery, request: Request, node: NodeDep) -> Response:
    """Signed with the requester's member key (EIP-712 PeerRequest headers, as
    /v1/peer/hello). Answered only if, in this node's index of the chain, the requester is
    active and the consent exists, names the requester, this subject and this purpose, is in
    its window now and not revoked; the query is logged (and anchored) before the answer.
    The answer is built by the node itself, so it is sent as it is, not checked again
    against PeerAnswer (which only documents it): that check cost more than the answer.
    The checks are a signature and a few indexed reads of the store, done on the event loop:
    a hop to a worker thread and back cost more than they do. Only the wait for the query
    log's commit is awaited."""
    body = await request.body()
    try:
        member = service.authenticate(node, headers=request.headers, method=request.method,
                                      path=request.url.path, body=body)  # fmt: skip
        answer, entry = service.prepare_answer(node, query, member)
        await service.log_answer(node, entry)
    except DomainError as err:
        metrics.PEER_QUERIES_REFUSED.labels(reason=err.code).inc()
        raise
    metrics.PEER_QUERIES_SERVED.inc()
    headers = {} if answer["as_of_block"] is None else {AS_OF: str(answer["as_of_block"])}
    return Response(orjson.dumps(answer), media_type="application/json", headers=headers)


@router.post(
    "/v1/queries",
    summary="Ask every other member for an applicant's records (query operator)",
    response_model=QueryOut,
    responses={422: {"description": "invalid identifier, consent id or purpose"}},
)
async def query(body: QueryIn, request: Request, node: NodeDep, staff: Operator) -> dict:
    """Sent to every other active member at once, each given `timeout_s`; a member that does
    not answer in time, refuses, or sends a record that does not check against the chain is
    named in `missing` (the answer is then `partial`). The identifier is turned into the
    subject key here and goes nowhere else; the operator log names the consent."""
    log_target(request, body.consent_id.lower())
    return await service.ask_members(node, body)


@router.get(
    "/v1/subjects/{subject_key}/trail",
    summary="Every binding, consent and query about a subject (the borrower, signed)",
    responses={
        401: {"description": "no login, or a forged, stale or used one (login_required, "
              "login_forged, login_stale, login_replayed)"},
        403: {"description": "the signer is not bound to the subject (login_unbound), or the "
              "login opens another subject (login_other_subject)"},
    },
)  # fmt: skip
async def subject_trail(
    subject_key: SubjectKeyPath,
    node: NodeDep,
    login: Annotated[str | None, Header(alias=service.LOGIN_HEADER, description=(
        "the Login message (GET /v1/consents/login-typed-data) as JSON: subjectKey, node (this "
        "node's member address), issuedAt, nonce"))] = None,
    signature: Annotated[str | None, Header(alias=service.LOGIN_SIGNATURE_HEADER, description=(
        "the Login's EIP-712 signature by an address bound to the subject, 0x-hex"))] = None,
) -> dict[str, Any]:  # fmt: skip
    """No staff token: the borrower signs a fresh Login for this node with a bound address.
    Each item comes with what proves it: bindings and consents their chain position (block,
    transaction), queries their query log receipt (check it with `creditchain verify`);
    `blacklist` holds the subject's blacklist entries and notices; `objections` their
    objections, each with its deadline, answer or ruling, and statement."""
    await run_in_threadpool(service.borrower_login, node, subject_key=subject_key,
                            message=login, signature=signature)  # fmt: skip
    return await run_in_threadpool(service.subject_trail, node, subject_key)
