"""The reports domain's entry points, as the routes call them: the borrower's report from
this node and, with the same signature, from every other active member (gather.py); and this
member's section for another member's node that gathers it (the peer route).

The borrower signs one EIP-712 ReportRequest naming the node that gathers (node/consents/
login.py checks it as it checks a login: fresh, signed by an address bound to the subject).
Every member checks that signature itself, takes the request only from the node it names,
uses its nonce once and counts the report against its own free reports (quota.py).
"""

import asyncio
import time
from typing import Any

from node.consents.login import check_login
from node.crypto import eip712
from node.db import write_transaction
from node.deps import Node
from node.disputes import reads as disputes
from node.members.service import list_members
from node.queries.trail import trail
from node.reports import quota
from node.reports.errors import FreeReportsUsed, ReportOtherSubject
from node.reports.gather import gather
from node.reports.schemas import PeerReportIn, ReportIn, ReportMessage
from node.reports.section import member_section


def _me(node: Node) -> str:
    return str(node.chain.client.account.address)


def _registry(node: Node) -> str:
    return node.chain.addresses["RecordRegistry"]


def check_request(
    node: Node, request: ReportMessage, signature: str, *, gatherer: str, now: float
) -> tuple[str, str]:
    """The subject key and nonce of a borrower's signed ReportRequest naming `gatherer`;
    refused with the login's codes (login_forged, login_stale, login_unbound)."""
    return check_login(
        node.engine, message=request.model_dump(), signature=signature, node=gatherer,
        chain_id=node.chain.chain_id, registry=node.chain.addresses["ConsentRegistry"],
        now=now, max_age=node.settings.login_max_age, typed=eip712.report_typed_data,
    )  # fmt: skip


def give_section(
    node: Node, *, subject_key: str, nonce: str, gatherer: str, now: float
) -> tuple[dict[str, Any], dict[str, Any]]:
    """This member's section of the subject's report and the subject's trail, the report
    counted; LoginReplayed or FreeReportsUsed (then nothing is counted or used)."""
    section, whole = member_section(
        engine=node.engine, index=node.index, keys=node.keys, subject_key=subject_key,
        chain_id=node.chain.chain_id, registry=_registry(node),
    )  # fmt: skip
    with write_transaction(node.engine) as conn:
        allowance = quota.claim(
            conn, subject_key=subject_key, gatherer=gatherer, nonce=nonce, member=_me(node),
            per_year=node.settings.free_reports_per_year, now=now,
            max_age=node.settings.login_max_age,
        )  # fmt: skip
    return {**section, "free_reports": allowance.public()}, whole


def peer_section(node: Node, body: PeerReportIn, requester: str) -> dict[str, Any]:
    """This member's section for the (authenticated, active) member `requester`, which the
    borrower's request names as the node that gathers."""
    now = time.time()
    subject_key, nonce = check_request(node, body.request, body.signature, gatherer=requester,
                                       now=now)  # fmt: skip
    section, _ = give_section(node, subject_key=subject_key, nonce=nonce, gatherer=requester,
                              now=now)  # fmt: skip
    return {"member": _me(node), **section}


def _refusal(err: FreeReportsUsed) -> dict[str, Any]:
    return {"error": err.code, "detail": err.detail, "field": err.field, **err.context()}


def _carry_statements(node: Node, sections: list[dict[str, Any]]) -> None:
    """Beside each record, the borrower's statement it carries (an unresolved objection), as
    this node's own index of the chain has it: never taken from the member's answer."""
    records = [r for s in sections for r in s.get("records") or []]
    found = disputes.statements_for(node.engine, [r["receipt"]["commitment"] for r in records])
    for r in records:
        r["statement_hash"] = found.get(r["receipt"]["commitment"].lower())


async def borrower_report(node: Node, subject_key: str, body: ReportIn) -> dict[str, Any]:
    """The borrower's report: this member's section, then (scope consortium) every other
    active member's, each checked against the chain; bindings, consents and blacklist items
    from this node's index of the chain."""
    now = time.time()
    me, subject_key = _me(node), subject_key.lower()
    if body.request.subjectKey.lower() != subject_key:
        raise ReportOtherSubject()
    _, nonce = await asyncio.to_thread(check_request, node, body.request, body.signature,
                                       gatherer=me, now=now)  # fmt: skip
    members = list_members(index=node.index).value
    names = {m["address"]: m["name"] for m in members}
    own: dict[str, Any] = {"member": me, "name": names.get(me, me), "status": "answered",
                           "error": None}  # fmt: skip
    try:
        section, whole = await asyncio.to_thread(give_section, node, subject_key=subject_key,
                                                 nonce=nonce, gatherer=me, now=now)  # fmt: skip
        own.update(section)
    except FreeReportsUsed as err:
        if body.scope == "node":
            raise
        own.update(status="refused", records=[], queries=[], error=_refusal(err))
        whole = await asyncio.to_thread(trail, engine=node.engine, index=node.index,
                                        subject_key=subject_key, chain_id=node.chain.chain_id,
                                        registry=_registry(node))  # fmt: skip
    sections = [own]
    if body.scope == "consortium":
        others = [m for m in members if m["status"] == "active" and m["address"] != me]
        sections += await gather(chain=node.chain, members=others, subject_key=subject_key,
                                 request=body.request.model_dump(), signature=body.signature,
                                 timeout=body.timeout_s)  # fmt: skip
    await asyncio.to_thread(_carry_statements, node, sections)
    missing = [s["name"] for s in sections if s["status"] != "answered"]
    return {
        "subject_key": subject_key, "as_of_block": whole["as_of_block"],
        "bindings": whole["bindings"], "consents": whole["consents"],
        "blacklist": whole["blacklist"], "members": sections, "partial": bool(missing),
        "missing": missing,
    }  # fmt: skip
