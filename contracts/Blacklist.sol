// SPDX-License-Identifier: UNLICENSED
pragma solidity 0.8.28;

import {IBlacklist} from "./IBlacklist.sol";
import {IConsortium} from "./IConsortium.sol";

/// @title Blacklist
/// @notice The consortium's shared blacklist. An active member lists a subject (its HMAC
///         pseudonym, never an identity) for a reason from a fixed list, with an evidence
///         commitment and an expiry; the lister or a regulator delists it with a reason.
///         Members' entries never overwrite each other: a subject may carry several entries.
/// @dev Before listing, the member registers the notice it gave the borrower
///      (征信业管理条例 Art. 15) for the same subject; a listing names that notice, made at
///      least `noticeLeadTime` seconds earlier on chain. A notice serves one listing only:
///      the borrower was told of one impending listing, so one old notice cannot justify a
///      second or later one. Entry statuses:
///
///      | from   | to       | who                                                         |
///      | ------ | -------- | ----------------------------------------------------------- |
///      | Listed | Delisted | the listing member while active, or a regulator, before expiry |
///      | Listed | Expired  | anyone, from `expiresAt` on (`markExpired`)                  |
///
///      An entry is active while Listed and `block.timestamp < expiresAt`. Delisted and
///      Expired are final. The consortium contract registered as "Disputes" flags entries as
///      disputed. Per-subject lookup is left to the events (`subjectKey` is indexed).
contract Blacklist is IBlacklist {
    /// @notice The latest expiry a listing may have, counted from the listing.
    uint256 public constant MAX_LISTING_PERIOD = 3650 days;

    /// @notice The name the disputes contract is registered under in the consortium.
    bytes32 public constant DISPUTES = "Disputes";

    /// @notice The consortium asked for membership, roles and its registered contracts.
    IConsortium public immutable consortium;

    /// @notice Seconds between a notice's registration on chain and a listing that uses it.
    uint64 public immutable noticeLeadTime;

    uint256 private _entryCount;
    uint256 private _noticeCount;
    mapping(uint256 id => Entry) private _entries;
    mapping(uint256 noticeId => Notice) private _notices;

    modifier onlyActiveMember() {
        if (!consortium.isActiveMember(msg.sender)) revert NotActiveMember(msg.sender);
        _;
    }

    /// @notice Creates the blacklist of one consortium.
    /// @param consortium_ The `Consortium` contract that says who is an active member.
    /// @param noticeLeadTime_ Seconds a notice must be on chain before a listing uses it.
    constructor(IConsortium consortium_, uint64 noticeLeadTime_) {
        if (address(consortium_).code.length == 0) revert NotAContract(address(consortium_));
        consortium = consortium_;
        noticeLeadTime = noticeLeadTime_;
    }

    /// @notice Registers the notice the sender gave borrower `subjectKey` of a coming listing.
    /// @param subjectKey The subject's HMAC pseudonym.
    /// @param channel How the notice was given.
    /// @param textHash The hash of the notice's text, kept off chain by the member.
    /// @param noticedAt When the notice was given; not later than now.
    /// @return noticeId The new notice's id; ids count up from 1.
    function registerNotice(
        bytes32 subjectKey,
        NoticeChannel channel,
        bytes32 textHash,
        uint64 noticedAt
    ) external onlyActiveMember returns (uint256 noticeId) {
        if (subjectKey == bytes32(0)) revert ZeroSubject();
        if (textHash == bytes32(0)) revert ZeroEvidence();
        if (noticedAt == 0 || noticedAt > block.timestamp) {
            revert InvalidNoticeTime(noticedAt, block.timestamp);
        }

        noticeId = ++_noticeCount;
        _notices[noticeId] = Notice({
            member: msg.sender,
            noticedAt: noticedAt,
            channel: channel,
            registeredAt: uint64(block.timestamp),
            entryId: 0,
            subjectKey: subjectKey
        });

        emit NoticeRegistered(noticeId, msg.sender, subjectKey, channel, textHash, noticedAt);
    }

    /// @notice Lists `subjectKey` as a new entry of the sender's.
    /// @dev The lead time counts from the notice's registration on chain, not from the
    ///      `noticedAt` the member declared, so a back-dated notice cannot shorten it.
    /// @param subjectKey The subject's HMAC pseudonym.
    /// @param reason Why the subject is listed.
    /// @param evidence A record commitment or a document hash backing the listing.
    /// @param expiresAt When the entry stops being active; after now, at most
    ///        `MAX_LISTING_PERIOD` from now.
    /// @param noticeId The sender's unused notice to `subjectKey`, old enough.
    /// @return id The new entry's id; ids count up from 1 across all members.
    function list(
        bytes32 subjectKey,
        ListingReason reason,
        bytes32 evidence,
        uint64 expiresAt,
        uint256 noticeId
    ) external onlyActiveMember returns (uint256 id) {
        if (subjectKey == bytes32(0)) revert ZeroSubject();
        if (evidence == bytes32(0)) revert ZeroEvidence();
        uint256 latest = block.timestamp + MAX_LISTING_PERIOD;
        if (expiresAt <= block.timestamp || expiresAt > latest) {
            revert InvalidExpiry(expiresAt, latest);
        }
        Notice storage notice = _notices[noticeId];
        if (notice.member != msg.sender || notice.subjectKey != subjectKey) {
            revert NoticeRequired(noticeId, subjectKey);
        }
        if (notice.entryId != 0) revert NoticeUsed(noticeId, notice.entryId);
        uint256 usableAt = uint256(notice.registeredAt) + noticeLeadTime;
        if (block.timestamp < usableAt) revert NoticeTooRecent(noticeId, usableAt);

        id = ++_entryCount;
        notice.entryId = uint64(id);
        _entries[id] = Entry({
            lister: msg.sender,
            expiresAt: expiresAt,
            status: EntryStatus.Listed,
            reason: reason,
            disputed: false,
            listedAt: uint64(block.timestamp),
            noticeId: uint64(noticeId),
            subjectKey: subjectKey,
            evidence: evidence
        });

        emit Listed(
            id,
            subjectKey,
            msg.sender,
            reason,
            evidence,
            uint64(block.timestamp),
            expiresAt,
            noticeId
        );
    }

    /// @notice Delists active entry `id`: by the member that listed it, while active, or by
    ///         a regulator.
    /// @param id The entry id.
    /// @param reason Why the entry is delisted.
    function delist(uint256 id, DelistingReason reason) external {
        Entry storage entry = _existingEntry(id);
        if (!consortium.isRegulator(msg.sender)) {
            if (!consortium.isActiveMember(msg.sender)) revert NotActiveMember(msg.sender);
            if (entry.lister != msg.sender) revert NotAllowedToDelist(msg.sender, id);
        }
        if (entry.status != EntryStatus.Listed || block.timestamp >= entry.expiresAt) {
            revert EntryNotActive(id, entry.status, entry.expiresAt);
        }

        entry.status = EntryStatus.Delisted;

        emit Delisted(id, entry.subjectKey, msg.sender, entry.lister, reason);
    }

    /// @notice Marks listed entry `id` as expired, from its expiry second on; anyone may.
    /// @param id The entry id.
    function markExpired(uint256 id) external {
        Entry storage entry = _existingEntry(id);
        if (entry.status != EntryStatus.Listed) {
            revert EntryNotActive(id, entry.status, entry.expiresAt);
        }
        if (block.timestamp < entry.expiresAt) revert NotYetExpired(id, entry.expiresAt);

        entry.status = EntryStatus.Expired;

        emit Expired(id, entry.subjectKey, msg.sender, entry.lister, entry.expiresAt);
    }

    /// @notice Sets entry `id`'s disputed flag; only the consortium's "Disputes" contract.
    /// @param id The entry id.
    /// @param disputed Whether the entry is under dispute.
    function setDisputed(uint256 id, bool disputed) external {
        if (msg.sender != consortium.contractAddress(DISPUTES)) {
            revert NotDisputesContract(msg.sender);
        }
        Entry storage entry = _existingEntry(id);

        entry.disputed = disputed;

        emit DisputedSet(id, entry.subjectKey, msg.sender, disputed);
    }

    /// @notice Entry `id`, whatever its status (a suspended lister's entries stay readable).
    /// @dev Reverts `UnknownEntry` for an id never issued (0 included).
    /// @param id The entry id.
    /// @return subjectKey The subject's HMAC pseudonym.
    /// @return lister The member that listed it.
    /// @return reason Why it was listed.
    /// @return evidence Its evidence commitment.
    /// @return listedAt The timestamp of the block that listed it.
    /// @return expiresAt The second from which it is no longer active.
    /// @return noticeId The notice it was listed after.
    /// @return status Its recorded status (`isActive` also checks the expiry).
    /// @return disputed Whether the disputes contract flagged it.
    function getEntry(
        uint256 id
    )
        external
        view
        returns (
            bytes32 subjectKey,
            address lister,
            ListingReason reason,
            bytes32 evidence,
            uint64 listedAt,
            uint64 expiresAt,
            uint256 noticeId,
            EntryStatus status,
            bool disputed
        )
    {
        Entry storage e = _existingEntry(id);
        return (
            e.subjectKey,
            e.lister,
            e.reason,
            e.evidence,
            e.listedAt,
            e.expiresAt,
            e.noticeId,
            e.status,
            e.disputed
        );
    }

    /// @notice Whether entry `id` is listed and not yet at its expiry second.
    /// @param id The entry id.
    /// @return True while the entry stands; false for an unknown id.
    function isActive(uint256 id) external view returns (bool) {
        Entry storage e = _entries[id];
        return e.status == EntryStatus.Listed && block.timestamp < e.expiresAt;
    }

    /// @notice Notice `noticeId`.
    /// @param noticeId The notice id.
    /// @return member The member that gave it.
    /// @return subjectKey The borrower's HMAC pseudonym.
    /// @return channel How it was given.
    /// @return noticedAt When the member says it was given.
    /// @return registeredAt The timestamp of the block that registered it (0 if unknown).
    /// @return entryId The entry it served, 0 if still unused.
    function getNotice(
        uint256 noticeId
    )
        external
        view
        returns (
            address member,
            bytes32 subjectKey,
            NoticeChannel channel,
            uint64 noticedAt,
            uint64 registeredAt,
            uint256 entryId
        )
    {
        Notice storage n = _notices[noticeId];
        return (n.member, n.subjectKey, n.channel, n.noticedAt, n.registeredAt, n.entryId);
    }

    /// @notice The number of entries, which is also the latest entry id.
    /// @return The entry count.
    function entryCount() external view returns (uint256) {
        return _entryCount;
    }

    /// @notice The number of notices, which is also the latest notice id.
    /// @return The notice count.
    function noticeCount() external view returns (uint256) {
        return _noticeCount;
    }

    function _existingEntry(uint256 id) internal view returns (Entry storage entry) {
        entry = _entries[id];
        if (entry.status == EntryStatus.None) revert UnknownEntry(id);
    }
}
