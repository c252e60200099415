"""Writes to the ConsentRegistry from this node's member key: binding a borrower's address it
verified, and relaying a borrower's signed consent or revocation (the borrower needs no gas).

Every refusal the contract would make is checked here first, against the event index, so a
bad message costs no transaction and is answered with its own code and field; the contract
checks again, and its custom errors map to the same refusals.
"""

import logging
from typing import Any

from eth_utils import to_checksum_address
from web3.contract import Contract

from node.chain.client import ChainError, ContractRevert
from node.chain.index import EventIndex
from node.chain.setup import Chain
from node.consents import errors
from node.consents.purposes import PURPOSES
from node.consents.service import current_binding, find_consent
from node.crypto import eip712
from node.db import read_connection
from node.members.service import is_active_member
from node.relays import RelayQuota

log = logging.getLogger("creditchain.consents")

REGISTRY = "ConsentRegistry"
RELAY_GAS = 400_000

# the contract's custom errors, each to the refusal it is answered with
_REFUSALS: dict[str, type[errors.ConsentsError]] = {
    "InvalidSignature": errors.ForgedSignature,
    "UnboundSigner": errors.UnboundSigner,
    "ConsentExpired": errors.ExpiredOnArrival,
    "InvalidWindow": errors.InvalidWindow,
    "WindowTooLong": errors.WindowTooLong,
    "GranteeNotActive": errors.GranteeNotActive,
    "UnknownPurpose": errors.UnknownPurpose,
    "ConsentExists": errors.ConsentExists,
    "UnknownConsent": errors.UnknownConsent,
    "AlreadyRevoked": errors.AlreadyRevoked,
    "AlreadyBound": errors.AlreadyBound,
    "NotBound": errors.NotBound,
    "NotBinder": errors.NotBinder,
    "NotActiveMember": errors.NotActiveMember,
}


def registry(chain: Chain) -> Contract:
    return chain.client.contract(chain.addresses[REGISTRY], chain.abis[REGISTRY])


def domain(chain: Chain) -> dict[str, Any]:
    """The EIP-712 domain of this consortium's consents, revocations and logins."""
    return eip712.domain(chain.chain_id, chain.addresses[REGISTRY])


def _send(chain: Chain, index: EventIndex, fn: Any) -> dict[str, Any]:
    """Send from the member key and wait for the block; then bring the index up to it, so
    the node's next reads show the change."""
    try:
        tx_hash = chain.client.send(fn, gas=RELAY_GAS)
    except ContractRevert as err:
        refusal = _REFUSALS.get(err.name)
        if refusal is not None:
            raise refusal(err.name) from None
        raise errors.ConsentsError(err.name, detail=f"the contract refused: {err.name}") from None
    except ChainError as err:
        raise errors.NotMined(str(err)) from None
    receipt = chain.client.wait_receipt(tx_hash, timeout=60)
    if receipt is None or receipt["status"] != 1:
        raise errors.NotMined(tx_hash)
    try:
        index.catch_up(timeout=10)
    except Exception as err:  # the follower thread will get there; answer anyway
        log.info("index not caught up after a write: %s", type(err).__name__)
    return {"tx_hash": tx_hash, "block_number": receipt["blockNumber"]}


# -- bindings ----------------------------------------------------------------------------


def bind(*, chain: Chain, index: EventIndex, subject_key: str, address: str) -> dict[str, Any]:
    """Bind `address` to `subject_key`, attested by this member (which verified the
    borrower's identity). An address already bound is refused: unbind it first."""
    address = to_checksum_address(address)
    with read_connection(index.engine) as conn:
        if current_binding(conn, address) is not None:
            raise errors.AlreadyBound(address)
    landed = _send(chain, index, registry(chain).functions.bind(subject_key, address))
    member = chain.client.account.address
    return {"subject_key": subject_key.lower(), "address": address, "member": member, **landed}


def unbind(*, chain: Chain, index: EventIndex, address: str) -> dict[str, Any]:
    """Unbind `address` (a lost key); only the member that bound it may."""
    address = to_checksum_address(address)
    with read_connection(index.engine) as conn:
        binding = current_binding(conn, address)
    if binding is None:
        raise errors.NotBound(address)
    if binding["member"] != chain.client.account.address:
        raise errors.NotBinder(address)
    subject_key = binding["subject_key"]
    landed = _send(chain, index, registry(chain).functions.unbind(subject_key, address))
    return {"subject_key": subject_key, "address": address, **landed}


# -- consents ----------------------------------------------------------------------------


def _signer(data: dict[str, Any], signature: str, borrower: str) -> str:
    """The borrower, if they signed `data`; else ForgedSignature."""
    try:
        signer = eip712.recover(data, signature)
    except eip712.InvalidSignature:
        raise errors.ForgedSignature("malformed") from None
    if signer != to_checksum_address(borrower):
        raise errors.ForgedSignature("another signer")
    return signer


def _bound_to(index: EventIndex, signer: str, subject_key: str) -> None:
    with read_connection(index.engine) as conn:
        binding = current_binding(conn, signer)
    if binding is None or binding["subject_key"] != subject_key.lower():
        raise errors.UnboundSigner(signer)


def register_consent(
    *,
    chain: Chain,
    index: EventIndex,
    message: dict[str, Any],
    signature: str,
    borrower: str,
    max_window: int,
    now: float,
    quota: RelayQuota,
) -> dict[str, Any]:
    """Check the borrower's signed consent as the contract will, then relay it, one of the
    subject's relays in `quota`. `message` holds the typed fields (subjectKey, grantee,
    purpose, validFrom, validUntil, nonce)."""
    data = eip712.consent_typed_data(message, domain(chain))
    consent_id = "0x" + eip712.digest(data).hex()
    signer = _signer(data, signature, borrower)
    _bound_to(index, signer, message["subjectKey"])
    valid_from, valid_until = int(message["validFrom"]), int(message["validUntil"])
    if valid_until <= now:
        raise errors.ExpiredOnArrival(consent_id)
    if valid_from >= valid_until:
        raise errors.InvalidWindow(consent_id)
    if valid_until - valid_from > max_window:
        raise errors.WindowTooLong(
            consent_id, detail=f"the window is longer than the {max_window} s this node allows"
        )
    if not is_active_member(index=index, address=message["grantee"]):
        raise errors.GranteeNotActive(consent_id)
    if not 0 <= int(message["purpose"]) < len(PURPOSES):
        raise errors.UnknownPurpose(consent_id)
    with read_connection(index.engine) as conn:
        if find_consent(conn, consent_id) is not None:
            raise errors.ConsentExists(consent_id)
    as_tuple = (
        bytes.fromhex(message["subjectKey"][2:]),
        to_checksum_address(message["grantee"]),
        int(message["purpose"]),
        valid_from,
        valid_until,
        int(message["nonce"]),
    )
    fn = registry(chain).functions.registerConsent(as_tuple, bytes.fromhex(signature[2:]))
    quota.take(message["subjectKey"])
    return {"consent_id": consent_id, **_send(chain, index, fn)}


def revoke_consent(
    *, chain: Chain, index: EventIndex, consent_id: str, signature: str, borrower: str,
    quota: RelayQuota,
) -> dict[str, Any]:  # fmt: skip
    """Check the borrower's signed revocation as the contract will, then relay it, one of
    the subject's relays in `quota`: the consent stops at the time of the block that takes
    it."""
    consent_id = consent_id.lower()
    with read_connection(index.engine) as conn:
        consent = find_consent(conn, consent_id)
    if consent is None:
        raise errors.UnknownConsent(consent_id)
    if consent.revoked_at is not None:
        raise errors.AlreadyRevoked(consent_id)
    data = eip712.revocation_typed_data(consent_id, domain(chain))
    signer = _signer(data, signature, borrower)
    _bound_to(index, signer, consent.subject_key)
    fn = registry(chain).functions.revokeConsent(consent_id, bytes.fromhex(signature[2:]))
    quota.take(consent.subject_key)
    return {"consent_id": consent_id, **_send(chain, index, fn)}
