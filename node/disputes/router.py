"""Disputes API: thin routes over node/disputes/service.py (writes) and reads.py (reads).

A borrower's signed objection needs no staff token: their signature is the authority. Filing
on a borrower's behalf, answering and ruling: the dispute handler (异议处理员) and the admin.
Reads (one objection, lists, the SLA view): any staff account, answered from the node's event
index as of the block in the header X-Creditchain-As-Of-Block.
"""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response

from node.consents.schemas import ADDRESS, BYTES32, MAX_TIME
from node.deps import Node, NodeDep
from node.disputes import errors, reads, service
from node.disputes.models import Outcome
from node.disputes.schemas import (
    AnswerIn,
    Filed,
    ObjectionIn,
    ObjectionList,
    ObjectionOut,
    RulingIn,
    SignedObjectionIn,
    SlaOut,
)
from node.members.router import _AS_OF_DOC, AS_OF
from node.relays import RELAY_LIMIT
from node.staff.deps import AnyStaff, StaffUser, log_target, require
from node.staff.models import ADMIN, DISPUTE_HANDLER

router = APIRouter(prefix="/v1/disputes", tags=["disputes"])

Handler = Annotated[StaffUser, Depends(require(ADMIN, DISPUTE_HANDLER))]
ObjectionId = Annotated[int, Path(ge=1, le=MAX_TIME, description="the objection's id on chain")]
Hex32 = Annotated[str, Query(pattern=BYTES32)]
_CHAIN: dict[int | str, dict[str, Any]] = {
    503: {"description": "not_mined: the transaction did not land; try again"}
}
FILE_REFUSALS: dict[int | str, dict[str, Any]] = {
    403: {"description": "forged_signature, unbound_signer, not_active_member"},
    404: {"description": "unknown_record (record_id)"},
    409: {
        "description": "already_objected, record_not_disputable, entry_not_active, "
        "signature_used, not_anchored"
    },
    422: {
        "description": "anchor_required, invalid_proof, unknown_batch, subject_mismatch, "
        "invalid_identifier, or a malformed field; `field` names it"
    },
    **_CHAIN,
}
CLOSE_REFUSALS: dict[int | str, dict[str, Any]] = {
    403: {"description": "not_holder (answer), not_regulator (ruling), not_active_member"},
    404: {"description": "unknown_objection"},
    409: {
        "description": "deadline_passed (answer: only a regulator rules now), "
        "deadline_not_reached (ruling), objection_closed, not_corrected"
    },
    422: {"description": "proof_required (ruling on a record this node does not hold)"},
    **_CHAIN,
}


@router.get("/typed-data", summary="The objection a borrower's wallet signs")
def objection_typed_data(
    node: NodeDep,
    subject_key: Hex32,
    kind: Annotated[int, Query(ge=0, le=1, description="0: a record, 1: a blacklist entry")],
    target: Annotated[str, Query(pattern=BYTES32, description="commitment, or entry id")],
    reasons_hash: Annotated[str, Query(pattern=BYTES32, description="SHA-256 of the reasons")],
    nonce: Annotated[str, Query(pattern=r"^[0-9]{1,77}$", description="decimal, up to 77 digits")],
) -> dict[str, Any]:
    """Exactly the JSON to pass to a wallet's eth_signTypedData_v4; post its `message` with
    the signature to /v1/disputes/signed."""
    message = {"subjectKey": subject_key, "kind": kind, "target": target,
               "reasonsHash": reasons_hash, "nonce": int(nonce)}  # fmt: skip
    return service.typed_data(node.chain, message)


@router.post("/signed", summary="Relay a borrower's signed objection to the chain",
             responses={**FILE_REFUSALS, **RELAY_LIMIT})  # fmt: skip
def file_signed(body: SignedObjectionIn, node: NodeDep) -> Filed:
    """No staff token: the borrower's signature (an address bound to the subject) is the
    authority. The target is disputed on chain in the block that takes it; the holder must
    answer before `deadline` (that block's time plus the consortium's answer period)."""
    message = body.message.model_dump()
    message["nonce"] = int(message["nonce"])
    anchor = body.anchor.model_dump() if body.anchor else None
    return Filed(**service.file_signed(
        chain=node.chain, index=node.index, message=message, signature=body.signature,
        borrower=body.borrower, anchor=anchor, quota=node.relays,
    ))  # fmt: skip


def _target(node: Node, body: ObjectionIn) -> tuple[bytes, dict[str, Any] | None]:
    if body.kind == "blacklist_entry":
        if body.entry_id is None:
            raise errors.DisputeRefused("entry_id", detail="name the entry", field="entry_id")
        return body.entry_id.to_bytes(32, "big"), None
    if body.record_id is not None:
        return service.record_target(node.engine, body.record_id)
    if body.commitment is None:
        raise errors.AnchorRequired("commitment", field="commitment")
    anchor = body.anchor.model_dump() if body.anchor else None
    return bytes.fromhex(body.commitment[2:]), anchor


@router.post(
    "/objections", summary="File an objection on a borrower's behalf", responses=FILE_REFUSALS
)
def file_for(body: ObjectionIn, node: NodeDep, staff: Handler, request: Request) -> Filed:
    """The member verified the borrower and files for them: the target is disputed at once.
    Only the SHA-256 of `reasons` goes on chain; the node keeps no copy."""
    key = service.subject_key_of(node.keys.consortium_secret, body.subject.type,
                                 body.subject.id_number)  # fmt: skip
    target, anchor = _target(node, body)
    filed = service.file_for(chain=node.chain, index=node.index, key=key, kind=body.kind,
                             target=target, reasons=body.reasons, anchor=anchor)  # fmt: skip
    log_target(request, f"objection {filed['objection_id']}")
    return Filed(**filed)


@router.get("/objections", summary="Objections, from the event index", responses=_AS_OF_DOC)
def list_objections(
    node: NodeDep,
    staff: AnyStaff,
    response: Response,
    state: Annotated[str | None, Query(pattern="^(open|upheld|rejected|unresolved)$")] = None,
    holder: Annotated[str | None, Query(pattern=ADDRESS)] = None,
    subject_key: Hex32 | None = None,
    after: Annotated[int, Query(ge=0, le=MAX_TIME, description="ids above this")] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> ObjectionList:
    """In id order; page with `after` set to the last id seen."""
    answer = reads.list_objections(
        engine=node.engine, state=state, holder=holder, limit=limit, after=after,
        subject_key=bytes.fromhex(subject_key[2:]) if subject_key else None,
    )  # fmt: skip
    if answer["as_of_block"] is not None:
        response.headers[AS_OF] = str(answer["as_of_block"])
    return ObjectionList(**answer)


@router.get("/sla", summary="Per member: objections open, answered in time, overdue",
            responses=_AS_OF_DOC)  # fmt: skip
def sla(node: NodeDep, staff: AnyStaff, response: Response) -> SlaOut:
    """The regulator's view, from the chain's events alone: per holding member, objections
    open, answered before their deadline, and overdue (open past the deadline, or ruled by a
    regulator because none answered), judged at the time of the index's block."""
    answer = reads.sla(engine=node.engine, names=reads.member_names(node.index))
    if answer["as_of_block"] is not None:
        response.headers[AS_OF] = str(answer["as_of_block"])
    return SlaOut(**answer)


@router.get("/objections/{objection_id}", summary="One objection, from the event index",
            responses={**_AS_OF_DOC, 404: {"description": "unknown_objection"}})  # fmt: skip
def get_objection(objection_id: ObjectionId, node: NodeDep, staff: AnyStaff,
                  response: Response) -> ObjectionOut:  # fmt: skip
    objection, block = reads.get_or_raise(engine=node.engine, objection_id=objection_id)
    if block is not None:
        response.headers[AS_OF] = str(block)
    return ObjectionOut(**objection)


@router.post("/objections/{objection_id}/answer", summary="Answer an objection before its deadline",
             responses=CLOSE_REFUSALS)  # fmt: skip
def answer(objection_id: ObjectionId, body: AnswerIn, node: NodeDep, staff: Handler,
           request: Request) -> dict[str, Any]:  # fmt: skip
    """Only the member holding the record or entry, before the deadline. Upheld needs the
    correction first: the record's corrected version submitted (same record_id) and
    anchored, which supersedes the disputed one; or the entry delisted."""
    log_target(request, f"objection {objection_id}")
    return service.answer(chain=node.chain, index=node.index, objection_id=objection_id,
                          outcome=body.outcome, reason=body.reason)  # fmt: skip


@router.post("/objections/{objection_id}/ruling", summary="A regulator's ruling after the deadline",
             responses=CLOSE_REFUSALS)  # fmt: skip
def ruling(objection_id: ObjectionId, body: RulingIn, node: NodeDep, staff: Handler,
           request: Request) -> dict[str, Any]:  # fmt: skip
    """Only a member holding the regulator role, from the deadline on, while no answer came.
    Upheld revokes a record still disputed; an entry must be delisted first."""
    log_target(request, f"objection {objection_id}")
    outcome: Outcome = body.outcome
    return service.rule(chain=node.chain, index=node.index, objection_id=objection_id,
                        outcome=outcome, reason=body.reason, proof=body.proof)  # fmt: skip
