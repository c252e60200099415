"""Reports API: thin routes over node/reports/service.py.

POST /v1/subjects/{key}/report is the borrower's (their signed ReportRequest, no staff token);
POST /v1/peer/reports is called by the member node the borrower's request names.
"""

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from starlette.concurrency import run_in_threadpool

from node.consents.schemas import BYTES32, MAX_TIME
from node.crypto import eip712
from node.deps import NodeDep
from node.peers.router import authenticate_peer
from node.reports import service
from node.reports.schemas import PeerReportIn, PeerSection, ReportIn, ReportOut

router = APIRouter(tags=["reports"])
SubjectKeyPath = Annotated[str, Path(pattern=BYTES32)]

_LOGIN_REFUSALS: dict[int | str, dict[str, Any]] = {
    401: {"description": "a forged, stale or used request (login_forged, login_stale, "
          "login_replayed)"},
    403: {"description": "the signer is not bound to the subject (login_unbound), or the "
          "request is for another subject (report_other_subject)"},
    422: {"description": "a malformed body, naming the field"},
    429: {"description": "free_reports_used: this member's free reports of the calendar year "
          "are used (征信业管理条例 Art. 17); the answer names the rule and `next_free_at`, "
          "and Retry-After gives the seconds until then. Nothing is counted"},
}  # fmt: skip


@router.get(
    "/v1/subjects/{subject_key}/report/typed-data",
    summary="The report request a borrower's wallet signs",
)
def report_typed_data(
    subject_key: SubjectKeyPath,
    node: NodeDep,
    issued_at: Annotated[int, Query(ge=0, le=MAX_TIME, description="now, unix seconds")],
    nonce: Annotated[str, Query(pattern=BYTES32, description="32 random bytes, used once")],
) -> dict[str, Any]:
    """The eth_signTypedData_v4 JSON of ReportRequest(subjectKey, node, issuedAt, nonce)
    naming this node; post its `message` as `request`, with the signature, to
    /v1/subjects/{subject_key}/report."""
    message = {"subjectKey": subject_key, "node": node.chain.client.account.address,
               "issuedAt": issued_at, "nonce": nonce}  # fmt: skip
    dom = eip712.domain(node.chain.chain_id, node.chain.addresses["ConsentRegistry"])
    return eip712.report_typed_data(message, dom)


@router.post(
    "/v1/subjects/{subject_key}/report",
    summary="The borrower's own report, from this member and every other (the borrower, signed)",
    response_model=ReportOut,
    responses=_LOGIN_REFUSALS,
)
async def subject_report(subject_key: SubjectKeyPath, body: ReportIn, node: NodeDep) -> dict:
    """No staff token: the borrower signs a fresh ReportRequest naming this node with a bound
    address. This member's section (every current record it holds about the subject, with
    its receipt and chain status; the records not yet anchored counted; its query log about
    the subject) and, for scope `consortium`, every other active member's, asked in parallel
    with the same signature, each record and query receipt checked against the chain. Each
    member counts the report against its own free reports and refuses a third in a calendar
    year (free_reports_used); a member that refuses, does not answer in time or fails a
    check is named in `missing`. Bindings, consents and blacklist items come from this
    node's index of the chain."""
    return await service.borrower_report(node, subject_key, body)


@router.post(
    "/v1/peer/reports",
    summary="A member's section of a borrower's report, for the node the borrower named",
    response_model=PeerSection,
    responses={
        401: {"description": "unsigned, badly signed, stale or replayed headers, or a forged, "
              "stale or used borrower's request (login_forged names the node field when the "
              "request names another node than the caller)"},
        403: {"description": "the caller is not an active member, or the borrower's signer is "
              "not bound to the subject (login_unbound)"},
        422: {"description": "a malformed body, naming the field"},
        429: _LOGIN_REFUSALS[429],
    },
)  # fmt: skip
async def peer_report(body: PeerReportIn, request: Request, node: NodeDep) -> dict:
    """Signed with the calling member's key (EIP-712 PeerRequest headers, as
    /v1/peer/hello); the body is the borrower's ReportRequest naming that member, and its
    signature, checked here as on the borrower's own node. Answered with this member's
    section, counted against this member's free reports."""
    member = await authenticate_peer(request, node)
    return await run_in_threadpool(service.peer_section, node, body, member)
