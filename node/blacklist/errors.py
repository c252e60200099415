"""The blacklist's refusals, each a DomainError answered as {"error", "detail", "field"}.
None of them carries an identifier: a bad one is named by its field or position."""

from node.errors import DomainError


class BlacklistRefused(DomainError):
    """The blacklist refused a request (the node, or the contract before any transaction)."""

    code, status, detail = "blacklist_refused", 409, "the blacklist refused the change"


class InvalidCheck(BlacklistRefused):
    code, status, detail = "invalid_check", 422, "the body is not a list of applicants"


class InvalidSubject(BlacklistRefused):
    code, status, field = "invalid_identifier", 422, "subject.id_number"
    detail = "the identifier is not valid"


class NotActiveMember(BlacklistRefused):
    code, status = "not_active_member", 403
    detail = "this member is not active in the consortium (suspended or removed): it can " \
        "neither list nor delist"  # fmt: skip


class NoticeRequired(BlacklistRefused):
    code, field = "notice_required", "notice_id"
    detail = "a listing needs this member's own unused notice to the borrower, registered " \
        "first (POST /v1/blacklist/notices)"  # fmt: skip


class NoticeTooRecent(BlacklistRefused):
    code, field = "notice_too_recent", "notice_id"
    detail = "the notice was registered less than the consortium's notice lead time ago"


class NoticeUsed(BlacklistRefused):
    code, field = "notice_used", "notice_id"
    detail = "the notice already served another listing; register a new one"


class InvalidExpiry(BlacklistRefused):
    code, status, field = "invalid_expiry", 422, "event_end_date"
    detail = "the expiry (the event's end plus the retention period) must be in the future " \
        "and at most ten years from now"  # fmt: skip


class InvalidNoticeTime(BlacklistRefused):
    code, status, field = "invalid_notice_time", 422, "noticed_at"
    detail = "noticed_at must not be later than now"


class UnknownEntry(BlacklistRefused):
    code, status, detail = "unknown_entry", 404, "no blacklist entry has this id"


class NotAllowedToDelist(BlacklistRefused):
    code, status = "not_allowed_to_delist", 403
    detail = "only the member that listed an entry, or a regulator, may delist it"


class EntryNotActive(BlacklistRefused):
    code, detail = "entry_not_active", "the entry is no longer active (delisted or expired)"


class NotYetExpired(BlacklistRefused):
    code, detail = "not_yet_expired", "the entry has not reached its expiry"


class UnknownRecord(BlacklistRefused):
    code, status, field = "unknown_record", 404, "record_id"
    detail = "this member holds no record with this record_id"


class NotMined(BlacklistRefused):
    code, status, detail = "not_mined", 503, "the transaction did not land; try again"


# the contract's custom errors, each to the refusal it is answered with
REFUSALS: dict[str, type[BlacklistRefused]] = {
    cls.__name__: cls
    for cls in (NotActiveMember, NoticeRequired, NoticeTooRecent, NoticeUsed, InvalidExpiry,
                InvalidNoticeTime, UnknownEntry, NotAllowedToDelist, EntryNotActive,
                NotYetExpired)
}  # fmt: skip
