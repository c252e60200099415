"""The disputes services: objections, answers and rulings sent to the Disputes contract with
this member's key. Reads live in reads.py.

A refusal the contracts would make (Disputes, or the registry or blacklist it calls) is found
by the eth_call before any transaction is sent and answered as a named refusal
(errors.REFUSALS). A borrower's signature is checked here first, as the contract will. After
its own write the node brings its index up to the chain, so its next reads show the change.
Reasons arrive as text and leave as their SHA-256; the node keeps no copy.
"""

import hashlib
import logging
from typing import Any

from eth_utils import to_checksum_address
from sqlalchemy.engine import Engine
from web3.contract import Contract

from node.anchoring.service import leaf_at, receipt_anchor
from node.chain.client import ChainError, ContractRevert, error_selectors, revert_name
from node.chain.index import EventIndex
from node.chain.setup import Chain
from node.consents.service import current_binding
from node.crypto import eip712
from node.crypto.subjects import InvalidIdentifier, subject_key
from node.db import read_connection
from node.disputes import errors
from node.disputes.models import KINDS, OPEN, STATES
from node.disputes.projection import CONTRACT
from node.disputes.reads import row_of
from node.records.errors import RecordNotFound
from node.records.reads import load_version
from node.relays import RelayQuota

log = logging.getLogger("creditchain.disputes")
WRITE_GAS = 600_000
# a revert inside a call the Disputes contract makes carries the callee's error
_CALLEES = (CONTRACT, "RecordRegistry", "Blacklist", "ConsentRegistry")


def _address(chain: Chain) -> str:
    """The Disputes contract's address; NoDisputesContract if the consortium has none."""
    if CONTRACT not in chain.addresses:
        raise errors.NoDisputesContract()
    return chain.addresses[CONTRACT]


def disputes_contract(chain: Chain) -> Contract:
    return chain.client.contract(_address(chain), chain.abis[CONTRACT])


def domain(chain: Chain) -> dict[str, Any]:
    """The EIP-712 domain of objections: "creditchain", "1", this chain, the Disputes contract."""
    return eip712.domain(chain.chain_id, _address(chain))


def reasons_hash(text: str) -> bytes:
    return hashlib.sha256(text.encode()).digest()


def subject_key_of(secret: bytes, subject_type: str, id_number: str) -> bytes:
    """The subject's pseudonym; a bad identifier is refused naming the field, not the value."""
    try:
        return bytes.fromhex(subject_key(secret, subject_type, id_number)[2:])
    except InvalidIdentifier as err:
        raise errors.InvalidSubject("identifier", detail=str(err)) from None


def _refused(chain: Chain, err: ContractRevert) -> errors.DisputeRefused:
    selectors: dict[str, str] = {}
    for name in _CALLEES:
        selectors.update(error_selectors(chain.abis[name]))
    name = revert_name(err.data, selectors)
    known = errors.REFUSALS.get(name)
    if known is not None:
        return known(name)
    return errors.DisputeRefused(name, detail=f"the contract refused: {name}")


def _transact(chain: Chain, index: EventIndex, fn: Any) -> dict[str, Any]:
    """Send `fn` as this member and wait for its block; then the index is brought up to it."""
    try:
        with chain.client.lock:  # rare writes: the nonce is read from the chain each time
            chain.client.reset_nonce()
            tx_hash = chain.client.send(fn, gas=WRITE_GAS)
    except ContractRevert as err:
        raise _refused(chain, err) from None
    except ChainError as err:
        raise errors.NotMined(str(err)) from None
    receipt = chain.client.wait_receipt(tx_hash, timeout=60)
    if receipt is None or receipt["status"] != 1:
        chain.client.reset_nonce()
        raise errors.NotMined(tx_hash)
    try:
        index.catch_up(timeout=10)
    except Exception as err:  # the follower thread will get there; answer anyway
        log.info("index not caught up after a write: %s", type(err).__name__)
    return receipt


def _filed(chain: Chain, index: EventIndex, fn: Any) -> dict[str, Any]:
    receipt = _transact(chain, index, fn)
    (event,) = [e for e in index.reader.decode_receipt(receipt) if e.event == "ObjectionFiled"]
    return {"objection_id": event.args["id"], "deadline": event.args["deadline"],
            "tx_hash": event.tx_hash, "block_number": event.block_number}  # fmt: skip


def _anchor_tuple(anchor: dict[str, Any] | None) -> tuple[int, int, list[bytes]]:
    if anchor is None:
        return (0, 0, [])
    proof = [bytes.fromhex(h[2:]) if isinstance(h, str) else h for h in anchor["proof"]]
    return (int(anchor["batch_id"]), int(anchor["leaf_index"]), proof)


# -- filing ----------------------------------------------------------------------------------


def typed_data(chain: Chain, message: dict[str, Any]) -> dict[str, Any]:
    """The objection as the borrower's wallet signs it (eth_signTypedData_v4)."""
    return eip712.objection_typed_data(message, domain(chain))


def file_signed(
    *, chain: Chain, index: EventIndex, message: dict[str, Any], signature: str,
    borrower: str, anchor: dict[str, Any] | None, quota: RelayQuota,
) -> dict[str, Any]:  # fmt: skip
    """Check the borrower's signed objection as the contract will, then relay it, one of the
    subject's relays in `quota`: the target is disputed in the block that takes it, and the
    deadline set from that block."""
    data = typed_data(chain, message)
    try:
        signer = eip712.recover(data, signature)
    except eip712.InvalidSignature:
        raise errors.ForgedSignature("malformed") from None
    if signer != to_checksum_address(borrower):
        raise errors.ForgedSignature("another signer")
    with read_connection(index.engine) as conn:
        binding = current_binding(conn, signer)
    if binding is None or binding["subject_key"] != message["subjectKey"].lower():
        raise errors.UnboundSigner(signer)
    if KINDS[message["kind"]] == "record" and anchor is None:
        raise errors.AnchorRequired("no anchor")
    request = (
        bytes.fromhex(message["subjectKey"][2:]), int(message["kind"]),
        bytes.fromhex(message["target"][2:]), bytes.fromhex(message["reasonsHash"][2:]),
        int(message["nonce"]),
    )  # fmt: skip
    fn = disputes_contract(chain).functions.fileSigned(
        request, _anchor_tuple(anchor), bytes.fromhex(signature[2:])
    )
    quota.take(message["subjectKey"])
    return _filed(chain, index, fn)


def record_target(engine: Engine, record_id: str) -> tuple[bytes, dict[str, Any]]:
    """The current commitment of this member's record `record_id` and where it is anchored."""
    try:
        row = load_version(engine, record_id, None)
    except RecordNotFound:
        raise errors.UnknownRecord("record_id") from None
    anchor = receipt_anchor(engine, row.leaf_id)  # LeafPending: not anchored yet
    return bytes(row.commitment), anchor


def file_for(
    *, chain: Chain, index: EventIndex, key: bytes, kind: str, target: bytes,
    reasons: str, anchor: dict[str, Any] | None,
) -> dict[str, Any]:  # fmt: skip
    """File an objection on the borrower's behalf, as this member."""
    if kind == "record" and anchor is None:
        raise errors.AnchorRequired("no anchor")
    request = (key, KINDS.index(kind), target, reasons_hash(reasons), 0)
    fn = disputes_contract(chain).functions.fileFor(request, _anchor_tuple(anchor))
    return _filed(chain, index, fn)


# -- answers and rulings ---------------------------------------------------------------------


def _proof(engine: Engine, row: Any, given: list[str] | None) -> list[bytes]:
    """The record's inclusion proof: from this node's own tree if it anchored the record,
    else as given; none for a blacklist entry."""
    if row.kind != "record":
        return []
    leaf = leaf_at(engine, row.batch_id, row.leaf_index)
    if leaf is not None:
        anchored = receipt_anchor(engine, leaf)
        if "0x" + bytes(anchored["commitment"]).hex() == row.target.lower():
            return list(anchored["proof"])
    if given is None:
        raise errors.ProofRequired("proof")
    return [bytes.fromhex(h[2:]) for h in given]


def _open_row(engine: Engine, objection_id: int) -> Any:
    with read_connection(engine) as conn:
        row = row_of(conn, objection_id)
    if row.state != OPEN:
        raise errors.NotOpen(objection_id)
    return row


def _closed(objection_id: int, outcome: str, receipt: dict[str, Any]) -> dict[str, Any]:
    return {"objection_id": objection_id, "state": outcome,
            "tx_hash": "0x" + bytes(receipt["transactionHash"]).hex(),
            "block_number": receipt["blockNumber"]}  # fmt: skip


def answer(
    *, chain: Chain, index: EventIndex, objection_id: int, outcome: str, reason: str
) -> dict[str, Any]:
    """This member's answer to an objection on a record or entry it holds, before the
    deadline; the contract refuses it from the deadline's second on (deadline_passed)."""
    row = _open_row(index.engine, objection_id)
    if row.holder != chain.client.account.address:
        raise errors.NotHolder(objection_id)
    proof = _proof(index.engine, row, None)
    fn = disputes_contract(chain).functions.answer(
        objection_id, STATES.index(outcome), reasons_hash(reason), proof
    )
    return _closed(objection_id, outcome, _transact(chain, index, fn))


def rule(
    *, chain: Chain, index: EventIndex, objection_id: int, outcome: str, reason: str,
    proof: list[str] | None,
) -> dict[str, Any]:  # fmt: skip
    """A regulator's ruling on an objection left unanswered at its deadline (this member
    must hold the regulator role)."""
    row = _open_row(index.engine, objection_id)
    path = _proof(index.engine, row, proof)
    fn = disputes_contract(chain).functions.rule(
        objection_id, STATES.index(outcome), reasons_hash(reason), path
    )
    return _closed(objection_id, outcome, _transact(chain, index, fn))
