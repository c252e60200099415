"""The disputes domain's refusals, each a DomainError answered as {"error", "detail", "field"}.
None of them carries an identifier or a reason's text: only codes, fields and hashes."""

from node.errors import DomainError


class DisputeRefused(DomainError):
    """The disputes domain refused a request (the node, or the contract before any
    transaction)."""

    code, status, detail = "dispute_refused", 409, "the objection was refused"


class NoDisputesContract(DisputeRefused):
    code = "no_disputes_contract"
    detail = (
        "this consortium has no Disputes contract yet: its admins deploy one and register "
        "it by vote (Consortium.proposeContract)"
    )


class InvalidSubject(DisputeRefused):
    code, status, field = "invalid_identifier", 422, "subject.id_number"
    detail = "the identifier is not valid"


class NotActiveMember(DisputeRefused):
    code, status = "not_active_member", 403
    detail = "this member is not active in the consortium (suspended or removed)"


class ForgedSignature(DisputeRefused):
    code, status, field = "forged_signature", 403, "signature"
    detail = "the signature is not the borrower's signature of this objection"


class UnboundSigner(DisputeRefused):
    code, status, field = "unbound_signer", 403, "borrower"
    detail = "the signing address is not bound to the subject (bind it at a member first)"


class SignatureUsed(DisputeRefused):
    code, field = "signature_used", "message.nonce"
    detail = "this signed objection was filed already; sign a new one with another nonce"


class AnchorRequired(DisputeRefused):
    code, status, field = "anchor_required", 422, "anchor"
    detail = "an objection to a record names where it was anchored (batch_id, leaf_index, " \
        "proof from its receipt), or, at the member holding it, its record_id"  # fmt: skip


class UnknownRecord(DisputeRefused):
    code, status, field = "unknown_record", 404, "record_id"
    detail = "this member holds no anchored record with this record_id"


class InvalidProof(DisputeRefused):
    code, status, field = "invalid_proof", 422, "anchor.proof"
    detail = "the proof does not show the commitment in that batch"


class UnknownBatch(DisputeRefused):
    code, status, field = "unknown_batch", 422, "anchor.batch_id"
    detail = "no batch on chain has this id"


class RecordNotDisputable(DisputeRefused):
    code, field = "record_not_disputable", "target"
    detail = "the record is not active on chain (superseded, revoked, expired or disputed)"


class EntryNotActive(DisputeRefused):
    code, field = "entry_not_active", "target"
    detail = "the blacklist entry is not active (delisted, expired or unknown)"


class SubjectMismatch(DisputeRefused):
    code, status, field = "subject_mismatch", 422, "target"
    detail = "the blacklist entry is about another subject"


class AlreadyObjected(DisputeRefused):
    code, field = "already_objected", "target"
    detail = "the target has an open objection; it is answered first"


class UnknownObjection(DisputeRefused):
    code, status, field = "unknown_objection", 404, "objection_id"
    detail = "no objection has this id"


class NotOpen(DisputeRefused):
    code, field = "objection_closed", "objection_id"
    detail = "the objection was answered or ruled already"


class NotHolder(DisputeRefused):
    code, status, field = "not_holder", 403, "objection_id"
    detail = "only the member holding the record or entry answers the objection"


class DeadlinePassed(DisputeRefused):
    code, field = "deadline_passed", "objection_id"
    detail = "the deadline to answer has passed: only a regulator rules on it now"


class DeadlineNotReached(DisputeRefused):
    code, field = "deadline_not_reached", "objection_id"
    detail = "the holding member has until the deadline to answer; a regulator rules after it"


class NotRegulator(DisputeRefused):
    code, status = "not_regulator", 403
    detail = "only a member holding the regulator role rules on objections"


class NotCorrected(DisputeRefused):
    code, field = "not_corrected", "outcome"
    detail = "upholding needs the target corrected first: the record's corrected version " \
        "anchored (or the record revoked), the entry delisted"  # fmt: skip


class ProofRequired(DisputeRefused):
    code, status, field = "proof_required", 422, "proof"
    detail = "this node does not hold the record: give its inclusion proof (from its receipt)"


class NotMined(DisputeRefused):
    code, status, detail = "not_mined", 503, "the transaction did not land; try again"


# the contracts' custom errors (Disputes, and the registry and blacklist it calls), each to
# the refusal it is answered with
REFUSALS: dict[str, type[DisputeRefused]] = {
    "NotActiveMember": NotActiveMember, "InvalidSignature": ForgedSignature,
    "UnboundSigner": UnboundSigner, "SignatureUsed": SignatureUsed,
    "EntryNotActive": EntryNotActive, "SubjectMismatch": SubjectMismatch,
    "AlreadyObjected": AlreadyObjected, "UnknownObjection": UnknownObjection,
    "NotOpen": NotOpen, "NotHolder": NotHolder, "DeadlinePassed": DeadlinePassed,
    "DeadlineNotReached": DeadlineNotReached, "NotRegulator": NotRegulator,
    "NotCorrected": NotCorrected, "InvalidProof": InvalidProof, "UnknownBatch": UnknownBatch,
    "InvalidStatusChange": RecordNotDisputable,
}  # fmt: skip
