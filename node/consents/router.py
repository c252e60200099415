"""Bindings and consents API: thin routes over node/consents/relay.py and service.py.

Binding is a desk act (staff who verified the borrower's identity); relaying a consent or a
revocation carries the borrower's own signature, so a borrower's app posts it with no token.
"""

import time
from typing import Annotated, Any

from eth_utils import to_checksum_address
from fastapi import APIRouter, Depends, Path, Query, Request, Response

from node.consents import errors, relay
from node.consents.purposes import PURPOSES, purpose_index
from node.consents.schemas import (
    ADDRESS,
    BYTES32,
    MAX_TIME,
    BindingIn,
    BindingOut,
    ConsentIn,
    Relayed,
    RevocationIn,
    UnbindIn,
)
from node.consents.service import current_binding
from node.crypto import eip712
from node.crypto.subjects import InvalidIdentifier, subject_key
from node.db import read_connection
from node.deps import NodeDep
from node.members.router import _AS_OF_DOC, AS_OF
from node.relays import RELAY_LIMIT
from node.staff.deps import StaffUser, log_target, require
from node.staff.models import ADMIN, QUERY_OPERATOR

router = APIRouter(prefix="/v1", tags=["consents"])
# staff who verify a borrower's identity at the desk: the admin, and the query operator
# (征信查询员), who checks the applicant's identity document before any query
IdentityVerifier = Annotated[StaffUser, Depends(require(ADMIN, QUERY_OPERATOR))]
_CHAIN: dict[int | str, dict[str, Any]] = {
    503: {"description": "the transaction did not land, or the chain is away; try again"}
}
_BIND_REFUSALS: dict[int | str, dict[str, Any]] = {
    403: {"description": "not_binder: only the member that bound the address unbinds it"},
    404: {"description": "not_bound: the address is not bound"},
    409: {
        "description": "address_bound: the address is bound already; or this member is not active"
    },  # fmt: skip
    422: {"description": "invalid_identifier, or a malformed field"},
    **_CHAIN,
}
_RELAY_REFUSALS: dict[int | str, dict[str, Any]] = {
    403: {
        "description": "forged_signature (not the borrower's signature of this message), "
        "unbound_signer (the signer is not bound to the subject)"
    },  # fmt: skip
    404: {"description": "consent_not_found (revocation)"},
    409: {
        "description": "consent_exists, consent_revoked (revoked already), or this member "
        "is not active"
    },  # fmt: skip
    422: {
        "description": "consent_expired, invalid_window, window_too_long, grantee_not_active, "
        "unknown_purpose, or a malformed field; `field` names it"
    },  # fmt: skip
    **RELAY_LIMIT,
    **_CHAIN,
}
_PURPOSE = "^(" + "|".join([*PURPOSES, f"[0-{len(PURPOSES) - 1}]"]) + ")$"
Hex32 = Annotated[str, Query(pattern=BYTES32)]
_PURPOSES_DOC = "a purpose's name or number: " + ", ".join(
    f"{i} {p}" for i, p in enumerate(PURPOSES)
)


@router.post("/bindings", summary="Bind a borrower's address to their subject, on chain",
             responses=_BIND_REFUSALS)  # fmt: skip
def bind(body: BindingIn, request: Request, node: NodeDep, staff: IdentityVerifier) -> BindingOut:
    """This member attests, on chain, that it verified the borrower's identity and that the
    address is theirs. The identifier stays in this node: the chain sees its pseudonym. A
    borrower who lost a key binds a new address here again (at any member)."""
    log_target(request, to_checksum_address(body.address))
    try:
        key = subject_key(node.keys.consortium_secret, body.subject.type, body.subject.id_number)
    except InvalidIdentifier as err:
        raise errors.InvalidIdentifier(detail=str(err)) from None
    answer = relay.bind(chain=node.chain, index=node.index, subject_key=key, address=body.address)
    return BindingOut(**answer)


@router.post("/bindings/unbind", summary="Unbind an address this member bound (a lost key)",
             responses=_BIND_REFUSALS)  # fmt: skip
def unbind(body: UnbindIn, request: Request, node: NodeDep, staff: IdentityVerifier) -> BindingOut:
    """Only the member that bound the address may unbind it; the contract refuses others."""
    log_target(request, to_checksum_address(body.address))
    return BindingOut(**relay.unbind(chain=node.chain, index=node.index, address=body.address))


_NOT_BOUND: dict[int | str, dict[str, Any]] = {
    404: {"description": "not_bound: the address is not bound"}
}


@router.get("/bindings", summary="The subject an address is bound to now",
            responses={**_AS_OF_DOC, **_NOT_BOUND})  # fmt: skip
def binding_of(
    address: Annotated[str, Query(pattern=ADDRESS)], node: NodeDep, response: Response
) -> BindingOut:
    """No staff token: what the chain's Bound events say publicly, from the node's index (as
    of the block in the X-Creditchain-As-Of-Block header). A borrower's app finds its subject
    key here, for the consents it asks the wallet to sign."""
    as_of = node.index.indexed_block()
    with read_connection(node.engine) as conn:
        binding = current_binding(conn, address)
    if binding is None:
        raise errors.NotBound(address)
    if as_of is not None:
        response.headers[AS_OF] = str(as_of)
    return BindingOut(**{k: binding[k] for k in ("subject_key", "address", "member", "tx_hash")},
                      block_number=binding["block_number"])  # fmt: skip


@router.get("/consents/typed-data", summary="The consent a borrower's wallet signs")
def consent_typed_data(
    node: NodeDep,
    subject_key: Hex32,
    grantee: Annotated[str, Query(pattern=ADDRESS)],
    purpose: Annotated[str, Query(pattern=_PURPOSE, description=_PURPOSES_DOC)],
    valid_from: Annotated[int, Query(ge=0, le=MAX_TIME, description="unix seconds")],
    valid_until: Annotated[int, Query(ge=0, le=MAX_TIME, description="exclusive")],
    nonce: Annotated[str, Query(pattern=r"^[0-9]{1,77}$", description="decimal, up to 77 digits")],
) -> dict[str, Any]:
    """Exactly the JSON to pass to a wallet's eth_signTypedData_v4 (types with EIP712Domain,
    primaryType, domain, message); post its `message` with the signature to /v1/consents."""
    number = purpose_index(int(purpose) if purpose.isdigit() else purpose)
    message = {"subjectKey": subject_key, "grantee": grantee, "purpose": number,
               "validFrom": valid_from, "validUntil": valid_until, "nonce": int(nonce)}  # fmt: skip
    return eip712.consent_typed_data(message, relay.domain(node.chain))


@router.get("/consents/revocation-typed-data", summary="The revocation a borrower's wallet signs")
def revocation_typed_data(node: NodeDep, consent_id: Hex32) -> dict[str, Any]:
    """The eth_signTypedData_v4 JSON of Revocation(consentId); post the signature to
    /v1/consents/{consent_id}/revoke."""
    return eip712.revocation_typed_data(consent_id, relay.domain(node.chain))


@router.get("/consents/login-typed-data", summary="The login a borrower's wallet signs")
def login_typed_data(
    node: NodeDep,
    subject_key: Hex32,
    issued_at: Annotated[int, Query(ge=0, le=MAX_TIME, description="now, unix seconds")],
    nonce: Annotated[str, Query(pattern=BYTES32, description="32 random bytes, used once")],
) -> dict[str, Any]:
    """The eth_signTypedData_v4 JSON of Login(subjectKey, node, issuedAt, nonce) for this
    node, with which a borrower opens what only they may see."""
    message = {"subjectKey": subject_key, "node": node.chain.client.account.address,
               "issuedAt": issued_at, "nonce": nonce}  # fmt: skip
    return eip712.login_typed_data(message, relay.domain(node.chain))


@router.post("/consents", summary="Relay a borrower's signed consent to the chain",
             responses=_RELAY_REFUSALS)  # fmt: skip
def register_consent(body: ConsentIn, node: NodeDep) -> Relayed:
    """No staff token: the borrower's signature is the authority. Checked first as the
    contract will check it, each refusal its own code naming the field; then sent from this
    member's key. The consent id is the message's EIP-712 digest."""
    message = body.message.model_dump()
    message["nonce"] = int(message["nonce"])
    answer = relay.register_consent(
        chain=node.chain,
        index=node.index,
        message=message,
        signature=body.signature,
        borrower=body.borrower,
        max_window=node.settings.consent_max_window,
        now=time.time(),
        quota=node.relays,
    )
    return Relayed(**answer)


@router.post("/consents/{consent_id}/revoke", summary="Relay a borrower's signed revocation",
             responses=_RELAY_REFUSALS)  # fmt: skip
def revoke_consent(
    consent_id: Annotated[str, Path(pattern=BYTES32)], body: RevocationIn, node: NodeDep
) -> Relayed:
    """No staff token: signed by any address bound to the consent's subject. The consent
    stops at the time of the block that takes the revocation."""
    answer = relay.revoke_consent(
        chain=node.chain,
        index=node.index,
        consent_id=consent_id,
        signature=body.signature,
        borrower=body.borrower,
        quota=node.relays,
    )
    return Relayed(**answer)
