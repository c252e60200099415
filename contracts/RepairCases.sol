// SPDX-License-Identifier: UNLICENSED
pragma solidity 0.8.28;

import {IConsortium} from "./IConsortium.sol";

/// @title RepairCases
/// @notice Credit repair cases (信用修复) for records found wrong: the member that anchored a
///         record opens a case against its commitment with the hash of the evidence; where the
///         consortium requires it, a regulator approves or refuses it. Only an approved case
///         lets the member remove the record (RecordRegistry `Revoked`, and its data key
///         destroyed off chain). A settled debt is not a repair case: it is a new `settled`
///         record, and accurate negative information is never removed early.
/// @dev States: Open -> Approved | Refused (by a regulator); with `approvalRequired` false a
///      case is Approved as it opens. A commitment has at most one case that is not Refused.
contract RepairCases {
    enum CaseState {
        None,
        Open,
        Approved,
        Refused
    }

    struct Case {
        address member;
        uint64 openedAt;
        uint64 decidedAt;
        CaseState state;
        bytes32 commitment;
        bytes32 evidence;
    }

    /// @notice The consortium asked for membership and for the regulator role.
    IConsortium public immutable consortium;
    /// @notice Whether a regulator must approve a case before the record is removed.
    bool public immutable approvalRequired;

    uint256 private _caseCount;
    mapping(uint256 caseId => Case) private _cases;
    mapping(bytes32 commitment => uint256 caseId) private _caseOf;

    /// @notice `member` opened case `caseId` against `commitment`, with evidence `evidence`.
    event CaseOpened(
        uint256 indexed caseId,
        address indexed member,
        bytes32 indexed commitment,
        bytes32 evidence
    );

    /// @notice `by` decided case `caseId`: `approved` or not, for the reasons hashed in `reason`.
    event CaseDecided(uint256 indexed caseId, address indexed by, bool approved, bytes32 reason);

    /// @notice `who` is not an active member of the consortium.
    error NotActiveMember(address who);
    /// @notice `who` is not an active regulator of the consortium.
    error NotRegulator(address who);
    /// @notice The evidence hash or the commitment is zero.
    error ZeroHash();
    /// @notice `commitment` already has case `caseId`, open or approved.
    error CaseExists(bytes32 commitment, uint256 caseId);
    /// @notice No case has id `caseId`.
    error UnknownCase(uint256 caseId);
    /// @notice Case `caseId` is `state`, not open.
    error CaseNotOpen(uint256 caseId, CaseState state);
    /// @notice The consortium address has no contract code.
    error NotAContract(address account);

    /// @param consortium_ The `Consortium` contract that says who is a member and a regulator.
    /// @param approvalRequired_ Whether a regulator must approve each case.
    constructor(IConsortium consortium_, bool approvalRequired_) {
        if (address(consortium_).code.length == 0) revert NotAContract(address(consortium_));
        consortium = consortium_;
        approvalRequired = approvalRequired_;
    }

    /// @notice Opens a repair case against one of the sender's record commitments found wrong.
    /// @param commitment The record's commitment (anchored by the sender).
    /// @param evidence The SHA-256 of the evidence that the record is wrong (kept off chain).
    /// @return caseId The new case's id; ids count up from 1.
    function open(bytes32 commitment, bytes32 evidence) external returns (uint256 caseId) {
        if (!consortium.isActiveMember(msg.sender)) revert NotActiveMember(msg.sender);
        if (commitment == bytes32(0) || evidence == bytes32(0)) revert ZeroHash();
        uint256 existing = _caseOf[commitment];
        if (existing != 0 && _cases[existing].state != CaseState.Refused) {
            revert CaseExists(commitment, existing);
        }
        caseId = ++_caseCount;
        CaseState state = approvalRequired ? CaseState.Open : CaseState.Approved;
        _cases[caseId] = Case({
            member: msg.sender,
            openedAt: uint64(block.timestamp),
            decidedAt: approvalRequired ? 0 : uint64(block.timestamp),
            state: state,
            commitment: commitment,
            evidence: evidence
        });
        _caseOf[commitment] = caseId;

        emit CaseOpened(caseId, msg.sender, commitment, evidence);
        if (!approvalRequired) emit CaseDecided(caseId, msg.sender, true, bytes32(0));
    }

    /// @notice A regulator approves or refuses an open case.
    /// @param caseId The case.
    /// @param approved True to approve (the record may be removed), false to refuse.
    /// @param reason The SHA-256 of the regulator's reasons (kept off chain).
    function decide(uint256 caseId, bool approved, bytes32 reason) external {
        if (!consortium.isRegulator(msg.sender)) revert NotRegulator(msg.sender);
        Case storage c = _cases[caseId];
        if (c.state == CaseState.None) revert UnknownCase(caseId);
        if (c.state != CaseState.Open) revert CaseNotOpen(caseId, c.state);
        c.state = approved ? CaseState.Approved : CaseState.Refused;
        c.decidedAt = uint64(block.timestamp);

        emit CaseDecided(caseId, msg.sender, approved, reason);
    }

    /// @notice Case `caseId`.
    /// @param caseId The case.
    /// @return member The member that opened it.
    /// @return commitment The record commitment it is about.
    /// @return evidence The hash of the evidence.
    /// @return state Its state.
    /// @return openedAt When it was opened (block time).
    /// @return decidedAt When it was decided (0 while open).
    function getCase(
        uint256 caseId
    )
        external
        view
        returns (
            address member,
            bytes32 commitment,
            bytes32 evidence,
            CaseState state,
            uint64 openedAt,
            uint64 decidedAt
        )
    {
        Case storage c = _cases[caseId];
        if (c.state == CaseState.None) revert UnknownCase(caseId);
        return (c.member, c.commitment, c.evidence, c.state, c.openedAt, c.decidedAt);
    }

    /// @notice The latest case against `commitment`; 0 if none.
    /// @param commitment A record commitment.
    /// @return The case id.
    function caseOf(bytes32 commitment) external view returns (uint256) {
        return _caseOf[commitment];
    }
}
