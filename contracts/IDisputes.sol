// SPDX-License-Identifier: UNLICENSED
pragma solidity 0.8.28;

/// @title IDisputes
/// @notice What `Disputes` speaks in: its targets and states, the objection a borrower signs,
///         the objection it stores, and its events and errors. Kept apart so that the contract
///         holds the rules alone, and so that a contract or tool reading objections names the
///         same types.
interface IDisputes {
    /// @notice What an objection is about.
    enum TargetKind {
        Record,
        BlacklistEntry
    }

    /// @notice An objection's state; the three closed states are its outcomes.
    enum State {
        None,
        Open,
        Upheld,
        Rejected,
        Unresolved
    }

    /// @notice An objection as the borrower signs it (EIP-712 primary type "Objection"):
    ///         `target` is a record commitment, or a blacklist entry id as bytes32.
    struct Request {
        bytes32 subjectKey;
        TargetKind kind;
        bytes32 target;
        bytes32 reasonsHash;
        uint256 nonce;
    }

    /// @notice Where a record commitment was anchored (unused for a blacklist entry).
    struct Anchor {
        uint256 batchId;
        uint64 leafIndex;
        bytes32[] proof;
    }

    /// @dev Five slots: subjectKey, target, reasonsHash, (holder, filedAt, kind, state,
    ///      byRegulator), (deadline, closedAt, batchId, leafIndex).
    struct Objection {
        bytes32 subjectKey;
        bytes32 target;
        bytes32 reasonsHash;
        address holder;
        uint64 filedAt;
        TargetKind kind;
        State state;
        bool byRegulator;
        uint64 deadline;
        uint64 closedAt;
        uint64 batchId;
        uint64 leafIndex;
    }

    /// @notice Objection `id` of borrower `subjectKey` against `target` (of `kind`), held by
    ///         `holder`, filed by member `filedBy` (for `borrower`, zero when the member filed
    ///         on the borrower's behalf) at `filedAt`; the holder answers before `deadline`.
    ///         A record is leaf `leafIndex` of batch `batchId` (both 0 for an entry).
    event ObjectionFiled(
        uint256 indexed id,
        bytes32 indexed subjectKey,
        address indexed holder,
        TargetKind kind,
        bytes32 target,
        bytes32 reasonsHash,
        address filedBy,
        address borrower,
        uint64 filedAt,
        uint64 deadline,
        uint64 batchId,
        uint64 leafIndex
    );

    /// @notice The holder answered objection `id` with `state` and `reasonHash` at
    ///         `answeredAt`, before its `deadline`.
    event ObjectionAnswered(
        uint256 indexed id,
        bytes32 indexed subjectKey,
        address indexed holder,
        State state,
        bytes32 reasonHash,
        uint64 answeredAt,
        uint64 deadline
    );

    /// @notice Regulator `regulator` ruled objection `id`, held by `holder` and unanswered at
    ///         its `deadline`, with `state` and `reasonHash` at `ruledAt`.
    event ObjectionRuled(
        uint256 indexed id,
        bytes32 indexed subjectKey,
        address indexed regulator,
        address holder,
        State state,
        bytes32 reasonHash,
        uint64 ruledAt,
        uint64 deadline
    );

    /// @notice `target` (of `kind`) carries the borrower's statement `statementHash` from
    ///         objection `id`, left unresolved.
    event StatementAttached(
        uint256 indexed id,
        bytes32 indexed target,
        TargetKind kind,
        bytes32 statementHash
    );

    /// @notice `who` is not an active member of the consortium.
    error NotActiveMember(address who);
    /// @notice The consortium address has no contract code.
    error NotAContract(address account);
    /// @notice The answer period must be at least one second.
    error InvalidPeriod();
    /// @notice A subject key cannot be zero.
    error ZeroSubject();
    /// @notice A reasons hash cannot be zero.
    error ZeroReasons();
    /// @notice The signature is not a well-formed secp256k1 signature (65 bytes, low s).
    error InvalidSignature();
    /// @notice The address that signed, `signer`, is not bound to `subjectKey`.
    error UnboundSigner(address signer, bytes32 subjectKey);
    /// @notice This signed objection was already filed.
    error SignatureUsed(bytes32 digest);
    /// @notice Blacklist entry `entryId` is not active (delisted, expired, unknown).
    error EntryNotActive(uint256 entryId);
    /// @notice Blacklist entry `entryId` is not about `subjectKey`.
    error SubjectMismatch(uint256 entryId, bytes32 subjectKey);
    /// @notice The target already has open objection `id`.
    error AlreadyObjected(uint256 id);
    /// @notice No objection has id `id`.
    error UnknownObjection(uint256 id);
    /// @notice Objection `id` is closed (`state`).
    error NotOpen(uint256 id, State state);
    /// @notice `who` does not hold the target of objection `id`.
    error NotHolder(address who, uint256 id);
    /// @notice The deadline of objection `id` passed at `deadline`: only a regulator rules.
    error DeadlinePassed(uint256 id, uint64 deadline);
    /// @notice The holder has until `deadline` to answer objection `id`.
    error DeadlineNotReached(uint256 id, uint64 deadline);
    /// @notice `who` is not a regulator.
    error NotRegulator(address who);
    /// @notice Upholding objection `id` needs its target corrected first (record superseded
    ///         or revoked, entry delisted).
    error NotCorrected(uint256 id);
    /// @notice An outcome is Upheld, Rejected or Unresolved.
    error InvalidOutcome(State outcome);
}
