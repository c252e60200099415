// SPDX-License-Identifier: UNLICENSED
pragma solidity 0.8.28;

/// @title IBlacklist
/// @notice What `Blacklist` speaks in: listing and delisting reasons, notice channels, entry
///         statuses, the entry and the notice it stores, and its events and errors. Kept apart
///         so that the contract holds the rules alone.
interface IBlacklist {
    /// @notice Why a subject is listed.
    enum ListingReason {
        SeriousDefault,
        Fraud,
        IdentityTheft,
        CourtEnforcement,
        LoanStacking,
        DocumentForgery
    }

    /// @notice Why an entry is delisted.
    enum DelistingReason {
        Repaid,
        Error,
        CourtOrder,
        DisputeUpheld,
        Withdrawn
    }

    /// @notice How the borrower was told of the coming listing.
    enum NoticeChannel {
        Sms,
        Letter,
        App,
        Email,
        Phone,
        InPerson
    }

    /// @notice An entry's status; `isActive` also checks the expiry.
    enum EntryStatus {
        None,
        Listed,
        Delisted,
        Expired
    }

    /// @dev Four slots: (lister, expiresAt, status, reason, disputed), (listedAt, noticeId),
    ///      subjectKey, evidence.
    struct Entry {
        address lister;
        uint64 expiresAt;
        EntryStatus status;
        ListingReason reason;
        bool disputed;
        uint64 listedAt;
        uint64 noticeId;
        bytes32 subjectKey;
        bytes32 evidence;
    }

    /// @dev Three slots: (member, noticedAt, channel), (registeredAt, entryId), subjectKey.
    ///      The text hash lives in the event alone.
    struct Notice {
        address member;
        uint64 noticedAt;
        NoticeChannel channel;
        uint64 registeredAt;
        uint64 entryId;
        bytes32 subjectKey;
    }

    /// @notice `member` registered notice `noticeId` to the borrower `subjectKey`, given
    ///         through `channel` at `noticedAt`; `textHash` is the hash of the notice's text.
    event NoticeRegistered(
        uint256 indexed noticeId,
        address indexed member,
        bytes32 indexed subjectKey,
        NoticeChannel channel,
        bytes32 textHash,
        uint64 noticedAt
    );

    /// @notice `member` listed `subjectKey` as entry `id` for `reason`, with `evidence`,
    ///         from `listedAt` until `expiresAt`, after notice `noticeId`.
    event Listed(
        uint256 indexed id,
        bytes32 indexed subjectKey,
        address indexed member,
        ListingReason reason,
        bytes32 evidence,
        uint64 listedAt,
        uint64 expiresAt,
        uint256 noticeId
    );

    /// @notice `by` delisted entry `id` about `subjectKey`, listed by `member`, for `reason`.
    event Delisted(
        uint256 indexed id,
        bytes32 indexed subjectKey,
        address indexed by,
        address member,
        DelistingReason reason
    );

    /// @notice `by` marked entry `id` about `subjectKey`, listed by `member`, as expired.
    event Expired(
        uint256 indexed id,
        bytes32 indexed subjectKey,
        address indexed by,
        address member,
        uint64 expiresAt
    );

    /// @notice The disputes contract `by` set entry `id`'s disputed flag to `disputed`.
    event DisputedSet(
        uint256 indexed id,
        bytes32 indexed subjectKey,
        address indexed by,
        bool disputed
    );

    /// @notice `who` is not an active member of the consortium.
    error NotActiveMember(address who);
    /// @notice The consortium address has no contract code.
    error NotAContract(address account);
    /// @notice A subject key cannot be zero.
    error ZeroSubject();
    /// @notice An evidence commitment cannot be zero.
    error ZeroEvidence();
    /// @notice A notice's time must be set and not later than now (`now_`).
    error InvalidNoticeTime(uint64 noticedAt, uint256 now_);
    /// @notice Notice `noticeId` does not exist, or is not the sender's notice to `subjectKey`.
    error NoticeRequired(uint256 noticeId, bytes32 subjectKey);
    /// @notice Notice `noticeId` may be used from `usableAt` on (`noticeLeadTime`).
    error NoticeTooRecent(uint256 noticeId, uint256 usableAt);
    /// @notice Notice `noticeId` already served entry `entryId`.
    error NoticeUsed(uint256 noticeId, uint256 entryId);
    /// @notice `expiresAt` must be after now and at most `latest`.
    error InvalidExpiry(uint64 expiresAt, uint256 latest);
    /// @notice No entry has id `id`.
    error UnknownEntry(uint256 id);
    /// @notice `who` neither listed entry `id` nor is a regulator.
    error NotAllowedToDelist(address who, uint256 id);
    /// @notice Entry `id` is no longer active (delisted, expired or past its expiry).
    error EntryNotActive(uint256 id, EntryStatus status, uint64 expiresAt);
    /// @notice Entry `id` is listed until `expiresAt`.
    error NotYetExpired(uint256 id, uint64 expiresAt);
    /// @notice `who` is not the consortium's registered disputes contract.
    error NotDisputesContract(address who);
}
