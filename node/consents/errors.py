"""The consents domain's refusals. A consent check refuses with 403 and one code per reason;
relaying a borrower's signed message refuses with the reason and the field it concerns."""

from node.errors import DomainError


class ConsentsError(DomainError):
    code, status, detail = "consents_refused", 409, "the consent registry refused the request"


# -- a consent check (used before answering a query) ---------------------------------------


class ConsentRefused(ConsentsError):
    code, status, detail = "consent_refused", 403, "no valid consent for this query"
    field = "consent_id"


class ConsentNotFound(ConsentRefused):
    code, detail = "consent_not_found", "no consent with this id is registered"


class ConsentOtherSubject(ConsentRefused):
    code, detail = "consent_other_subject", "the consent is about another subject"


class ConsentOtherMember(ConsentRefused):
    code, detail = "consent_other_member", "the consent was given to another member"


class ConsentOtherPurpose(ConsentRefused):
    code, detail = "consent_other_purpose", "the consent was given for another purpose"


class ConsentNotYetValid(ConsentRefused):
    code, detail = "consent_not_yet_valid", "the consent's window has not begun"


class ConsentExpired(ConsentRefused):
    code, detail = "consent_expired", "the consent's window has ended"


class ConsentRevoked(ConsentRefused):
    code, detail = "consent_revoked", "the borrower revoked the consent"


# -- relaying a signed consent or revocation ------------------------------------------------


class ForgedSignature(ConsentsError):
    code, status, field = "forged_signature", 403, "signature"
    detail = "the signature is not the borrower's signature of this message"


class UnboundSigner(ConsentsError):
    code, status, field = "unbound_signer", 403, "borrower"
    detail = "the signing address is not bound to the message's subject"


class ExpiredOnArrival(ConsentsError):
    code, status, field = "consent_expired", 422, "message.validUntil"
    detail = "validUntil has passed: the consent would never be valid"


class InvalidWindow(ConsentsError):
    code, status, field = "invalid_window", 422, "message.validUntil"
    detail = "validFrom must be before validUntil"


class WindowTooLong(ConsentsError):
    code, status, field = "window_too_long", 422, "message.validUntil"
    detail = "the window from validFrom to validUntil is longer than the registry allows"


class GranteeNotActive(ConsentsError):
    code, status, field = "grantee_not_active", 422, "message.grantee"
    detail = "the grantee is not an active member of the consortium"


class UnknownPurpose(ConsentsError):
    code, status, field = "unknown_purpose", 422, "message.purpose"
    detail = "the purpose is not one of the registry's purposes"


class InvalidIdentifier(ConsentsError):
    code, status, field = "invalid_identifier", 422, "subject.id_number"
    detail = "not a valid identifier of its type (its check character is verified)"


class ConsentExists(ConsentsError):
    code, status, field = "consent_exists", 409, "message"
    detail = "this consent is already registered"


class UnknownConsent(ConsentsError):
    code, status, field = "consent_not_found", 404, "consent_id"
    detail = "no consent with this id is registered"


class AlreadyRevoked(ConsentsError):
    code, status, field = "consent_revoked", 409, "consent_id"
    detail = "the consent is already revoked"


# -- bindings ----------------------------------------------------------------------------


class AlreadyBound(ConsentsError):
    code, status, field = "address_bound", 409, "address"
    detail = "the address is already bound to a subject; unbind it first"


class NotBound(ConsentsError):
    code, status, field = "not_bound", 404, "address"
    detail = "the address is not bound to a subject"


class NotBinder(ConsentsError):
    code, status, field = "not_binder", 403, "address"
    detail = "only the member that bound the address may unbind it"


class NotActiveMember(ConsentsError):
    code, status = "not_active_member", 409
    detail = "this node's member is not active in the consortium"


class NotMined(ConsentsError):
    code, status, detail = "not_mined", 503, "the transaction did not land; try again"


# -- a borrower's login ------------------------------------------------------------------


class LoginRefused(ConsentsError):
    code, status, detail = "login_refused", 401, "the borrower's login was refused"
    field = "signature"


class LoginForged(LoginRefused):
    code, detail = "login_forged", "the signature is not a signature of this login for this node"


class LoginUnbound(LoginRefused):
    code, status, detail = "login_unbound", 403, "the signing address is not bound to the subject"


class LoginStale(LoginRefused):
    code, field = "login_stale", "issuedAt"
    detail = "the login is not fresh: sign a new one with the current time"


class LoginReplayed(LoginRefused):
    code, field, detail = "login_replayed", "nonce", "this login was used already: sign a new one"
