// SPDX-License-Identifier: UNLICENSED
pragma solidity 0.8.28;

import {ConsortiumMembers} from "./ConsortiumMembers.sol";

/// @title Consortium
/// @notice One credit-sharing consortium: its members, their roles and its contracts by name
///         (kept in `ConsortiumMembers`, asked by every other contract through
///         `IConsortium`), and the M-of-N admin vote that changes them. A node that knows this
///         one address finds every other contract of the consortium.
/// @dev Founding admins are set at deployment together with the threshold M. Every change of
///      membership, roles or contracts is a proposal that executes, in the transaction of its
///      M-th vote, through the same internal functions. A proposal's votes are a counter, never
///      a loop. The one exception is the deployment itself: the other contracts are built with
///      this one's address, so the deployer registers them after it, then calls
///      `finishDeployment`, and from then on only a vote changes them.
contract Consortium is ConsortiumMembers {
    /// @notice What a proposal does to its subject when it passes.
    enum Action {
        Admit,
        Suspend,
        Reinstate,
        Remove,
        GrantAuditor,
        GrantRegulator,
        RevokeAuditor,
        RevokeRegulator,
        SetContract
    }

    /// @notice Where a proposal stands: open for votes, executed, or expired unexecuted.
    enum ProposalState {
        Open,
        Executed,
        Expired
    }

    /// @dev Two slots: (action, executed, votes, subject), (proposer, createdAt).
    struct Proposal {
        Action action;
        bool executed;
        uint32 votes;
        address subject;
        address proposer;
        uint64 createdAt;
    }

    /// @dev What an `Admit` proposal registers once it passes.
    struct Candidate {
        string name;
        string nodeUrl;
        bytes publicKey;
    }

    /// @notice The most founding admins a consortium can start with (bounds the constructor).
    uint256 public constant MAX_FOUNDERS = 32;
    /// @notice How long a proposal stays open for votes after it was made.
    uint256 public constant VOTING_PERIOD = 7 days;

    uint256 private immutable _threshold;
    address private immutable _deployer;
    bool private _deploymentFinished;
    uint256 private _proposalCount;
    mapping(uint256 proposalId => Proposal) private _proposals;
    mapping(uint256 proposalId => Candidate) private _candidates;
    mapping(uint256 proposalId => mapping(address admin => bool)) private _voted;
    mapping(uint256 proposalId => bytes32 name) private _proposedContractName;

    /// @notice Admin `proposer` proposed `action` on `subject` as proposal `id`.
    event ProposalCreated(
        uint256 indexed id,
        Action action,
        address indexed subject,
        address indexed proposer
    );

    /// @notice Admin `voter` voted for proposal `id`, which now has `votes` votes.
    event Voted(uint256 indexed id, address indexed voter, uint256 votes);

    /// @notice Proposal `id` reached the threshold and its action took effect.
    event ProposalExecuted(uint256 indexed id);

    /// @notice `deployer` registered its last contract; only a vote changes them from now on.
    event DeploymentFinished(address indexed deployer);

    /// @notice `who` is not an active admin.
    error NotAdmin(address who);
    /// @notice `who` has already voted for proposal `proposalId`.
    error AlreadyVoted(uint256 proposalId, address who);
    /// @notice Proposal `proposalId` was executed and takes no more votes.
    error ProposalClosed(uint256 proposalId);
    /// @notice Proposal `proposalId` is past its voting period.
    error ProposalExpired(uint256 proposalId);
    /// @notice No proposal has id `proposalId`.
    error UnknownProposal(uint256 proposalId);
    /// @notice `action` cannot apply to `subject`, whose status is `status` (e.g. admitting an
    ///         existing member, suspending one not active, granting a role it already holds).
    error InvalidAction(Action action, address subject, MemberStatus status);
    /// @notice A threshold of `threshold` votes cannot be met by `admins` active admins (also
    ///         raised when suspending or removing an admin would leave fewer than M).
    error InvalidThreshold(uint256 threshold, uint256 admins);
    /// @notice The constructor's four founder lists differ in length.
    error LengthMismatch(uint256 admins, uint256 names, uint256 nodeUrls, uint256 publicKeys);
    /// @notice `count` founding admins is more than `max`.
    error TooManyFounders(uint256 count, uint256 max);
    /// @notice Only the deployer may register contracts during the deployment, not `who`.
    error NotDeployer(address who);
    /// @notice The deployment is finished: contracts change by a vote (`proposeContract`).
    error DeploymentAlreadyFinished();

    modifier onlyAdmin() {
        if (!isAdmin(msg.sender)) revert NotAdmin(msg.sender);
        _;
    }

    modifier onlyDeployment() {
        if (msg.sender != _deployer) revert NotDeployer(msg.sender);
        if (_deploymentFinished) revert DeploymentAlreadyFinished();
        _;
    }

    /// @notice Founds the consortium: every founding admin is an active member holding the
    ///         admin role, and M of them (`threshold_`) must vote for any change.
    /// @param admins The founding admins' node addresses (N of them, at most `MAX_FOUNDERS`).
    /// @param names Their display names, in the same order.
    /// @param nodeUrls Their nodes' URLs (may be empty), in the same order.
    /// @param publicKeys Their SEC1 secp256k1 public keys, in the same order.
    /// @param threshold_ M, the votes a proposal needs: 1 <= M <= N.
    constructor(
        address[] memory admins,
        string[] memory names,
        string[] memory nodeUrls,
        bytes[] memory publicKeys,
        uint256 threshold_
    ) {
        uint256 n = admins.length;
        if (names.length != n || nodeUrls.length != n || publicKeys.length != n) {
            revert LengthMismatch(n, names.length, nodeUrls.length, publicKeys.length);
        }
        if (n > MAX_FOUNDERS) revert TooManyFounders(n, MAX_FOUNDERS);
        if (threshold_ == 0 || threshold_ > n) revert InvalidThreshold(threshold_, n);
        _threshold = threshold_;
        _deployer = msg.sender;
        for (uint256 i = 0; i < n; ++i) {
            _checkCandidate(names[i], nodeUrls[i], publicKeys[i]);
            _checkAdmissible(admins[i]);
            _addMember(admins[i], names[i], nodeUrls[i], publicKeys[i]);
            _grantRole(admins[i], Role.Admin);
        }
    }

    // --- governance -----------------------------------------------------------------------

    /// @notice Proposes `action` on `subject`; the proposer's own vote is counted at once, so
    ///         with M = 1 the action takes effect in this transaction.
    /// @dev Reverts `InvalidAction` or `InvalidThreshold` if the action could not take effect
    ///      now; the same checks run again when the M-th vote arrives.
    /// @param action What to do.
    /// @param subject The member (or, for `Admit`, the candidate's node address).
    /// @param name For `Admit`: the candidate's display name; ignored otherwise.
    /// @param nodeUrl For `Admit`: the candidate node's URL (may be empty); ignored otherwise.
    /// @param publicKey For `Admit`: the candidate's SEC1 secp256k1 public key; ignored
    ///        otherwise.
    /// @return proposalId The new proposal's id; ids count up from 1.
    function propose(
        Action action,
        address subject,
        string calldata name,
        string calldata nodeUrl,
        bytes calldata publicKey
    ) external onlyAdmin returns (uint256 proposalId) {
        if (action == Action.Admit) _checkCandidate(name, nodeUrl, publicKey);
        _checkAction(action, subject);

        Proposal storage p;
        (proposalId, p) = _newProposal(action, subject);
        if (action == Action.Admit) {
            Candidate storage c = _candidates[proposalId];
            c.name = name;
            c.nodeUrl = nodeUrl;
            c.publicKey = publicKey;
        }

        emit ProposalCreated(proposalId, action, subject, msg.sender);
        _castVote(proposalId, p);
    }

    /// @notice Proposes registering `account` as the consortium's contract `name` (replacing
    ///         the contract that has the name now), or, with `account` zero, unregistering
    ///         `name`. The proposer's vote counts at once, as with `propose`.
    /// @dev Reverts `InvalidContract` if the change could not take effect now; the same check
    ///      runs again when the M-th vote arrives.
    /// @param name The contract's name, ASCII, right-padded with zero bytes.
    /// @param account The contract's address, or zero to unregister `name`.
    /// @return proposalId The new proposal's id, an `Action.SetContract` on `account`.
    function proposeContract(
        bytes32 name,
        address account
    ) external onlyAdmin returns (uint256 proposalId) {
        _checkContract(name, account);

        Proposal storage p;
        (proposalId, p) = _newProposal(Action.SetContract, account);
        _proposedContractName[proposalId] = name;

        emit ProposalCreated(proposalId, Action.SetContract, account, msg.sender);
        _castVote(proposalId, p);
    }

    /// @notice Votes for proposal `proposalId`; the M-th vote executes it in this transaction.
    /// @dev Reverts `UnknownProposal`, `ProposalClosed` (already executed), `ProposalExpired`,
    ///      `AlreadyVoted`, or, on the M-th vote, `InvalidAction`/`InvalidThreshold` if the
    ///      action can no longer take effect.
    /// @param proposalId The proposal to vote for.
    function vote(uint256 proposalId) external onlyAdmin {
        Proposal storage p = _existingProposal(proposalId);
        if (p.executed) revert ProposalClosed(proposalId);
        if (block.timestamp >= uint256(p.createdAt) + VOTING_PERIOD) {
            revert ProposalExpired(proposalId);
        }
        if (_voted[proposalId][msg.sender]) revert AlreadyVoted(proposalId, msg.sender);
        _castVote(proposalId, p);
    }

    // --- deployment -----------------------------------------------------------------------

    /// @notice Registers `account`, deployed for this consortium, as its contract `name`;
    ///         only the deployer, and only until it calls `finishDeployment`.
    /// @param name The contract's name, ASCII, right-padded with zero bytes.
    /// @param account The contract's address.
    function registerContract(bytes32 name, address account) external onlyDeployment {
        if (account == address(0)) revert InvalidContract(name, account);
        _checkContract(name, account);
        _setContract(name, account);
    }

    /// @notice Ends the deployment: from now on only an M-of-N vote changes the contracts.
    function finishDeployment() external onlyDeployment {
        _deploymentFinished = true;

        emit DeploymentFinished(msg.sender);
    }

    // --- views ----------------------------------------------------------------------------

    /// @notice Whether the deployer has finished registering the contracts it deployed.
    /// @return True once `finishDeployment` was called.
    function deploymentFinished() external view returns (bool) {
        return _deploymentFinished;
    }

    /// @notice The account that deployed this contract and registered the first contracts.
    /// @return The deployer's address.
    function deployer() external view returns (address) {
        return _deployer;
    }

    /// @notice M: the votes a proposal needs to take effect.
    /// @return The threshold set at deployment.
    function threshold() external view returns (uint256) {
        return _threshold;
    }

    /// @notice The number of proposals ever made, which is also the latest proposal id.
    /// @return The proposal count.
    function proposalCount() external view returns (uint256) {
        return _proposalCount;
    }

    /// @notice Proposal `proposalId`.
    /// @dev Reverts `UnknownProposal` for an id never issued (0 included).
    /// @param proposalId The proposal id.
    /// @return action What it does.
    /// @return subject Whom it concerns.
    /// @return proposer The admin who made it.
    /// @return votes The votes it has, the proposer's included.
    /// @return createdAt The timestamp of the block that made it.
    /// @return expiresAt The first timestamp at which it takes no more votes.
    /// @return state Open, Executed or Expired.
    function getProposal(
        uint256 proposalId
    )
        external
        view
        returns (
            Action action,
            address subject,
            address proposer,
            uint256 votes,
            uint64 createdAt,
            uint64 expiresAt,
            ProposalState state
        )
    {
        Proposal storage p = _existingProposal(proposalId);
        expiresAt = p.createdAt + uint64(VOTING_PERIOD);
        if (p.executed) state = ProposalState.Executed;
        else if (block.timestamp >= expiresAt) state = ProposalState.Expired;
        else state = ProposalState.Open;
        return (p.action, p.subject, p.proposer, p.votes, p.createdAt, expiresAt, state);
    }

    /// @notice The details an `Admit` proposal registers; empty for other actions.
    /// @dev Reverts `UnknownProposal` for an id never issued.
    /// @param proposalId The proposal id.
    /// @return name The candidate's display name.
    /// @return nodeUrl The candidate node's URL.
    /// @return publicKey The candidate's public key.
    function getCandidate(
        uint256 proposalId
    ) external view returns (string memory name, string memory nodeUrl, bytes memory publicKey) {
        _existingProposal(proposalId);
        Candidate storage c = _candidates[proposalId];
        return (c.name, c.nodeUrl, c.publicKey);
    }

    /// @notice The contract name a `SetContract` proposal registers; zero for other actions.
    /// @dev Reverts `UnknownProposal` for an id never issued. Its `subject` is the address.
    /// @param proposalId The proposal id.
    /// @return The contract name.
    function getProposedContract(uint256 proposalId) external view returns (bytes32) {
        _existingProposal(proposalId);
        return _proposedContractName[proposalId];
    }

    /// @notice Whether `admin` has voted for proposal `proposalId`.
    /// @param proposalId The proposal id.
    /// @param admin The address to check.
    /// @return True if `admin` voted (proposing counts as voting).
    function hasVoted(uint256 proposalId, address admin) external view returns (bool) {
        return _voted[proposalId][admin];
    }

    // --- internals ------------------------------------------------------------------------

    function _newProposal(
        Action action,
        address subject
    ) private returns (uint256 proposalId, Proposal storage p) {
        proposalId = ++_proposalCount;
        p = _proposals[proposalId];
        p.action = action;
        p.subject = subject;
        p.proposer = msg.sender;
        p.createdAt = uint64(block.timestamp);
    }

    /// @dev Counts the sender's vote and, at the threshold, executes the proposal.
    function _castVote(uint256 proposalId, Proposal storage p) private {
        uint32 votes = p.votes + 1;
        _voted[proposalId][msg.sender] = true;
        p.votes = votes;
        emit Voted(proposalId, msg.sender, votes);

        if (votes >= _threshold) {
            p.executed = true;
            _execute(proposalId, p.action, p.subject);
            emit ProposalExecuted(proposalId);
        }
    }

    /// @dev Re-checks the action against the state now, then applies it.
    function _execute(uint256 proposalId, Action action, address subject) private {
        if (action == Action.SetContract) {
            bytes32 name = _proposedContractName[proposalId];
            _checkContract(name, subject);
            _setContract(name, subject);
            return;
        }
        _checkAction(action, subject);
        if (action == Action.Admit) {
            Candidate storage c = _candidates[proposalId];
            _addMember(subject, c.name, c.nodeUrl, c.publicKey);
        } else if (action == Action.Suspend) {
            _setStatus(subject, MemberStatus.Suspended);
        } else if (action == Action.Reinstate) {
            _setStatus(subject, MemberStatus.Active);
        } else if (action == Action.Remove) {
            _setStatus(subject, MemberStatus.Removed);
        } else if (action == Action.GrantAuditor) {
            _grantRole(subject, Role.Auditor);
        } else if (action == Action.GrantRegulator) {
            _grantRole(subject, Role.Regulator);
        } else if (action == Action.RevokeAuditor) {
            _revokeRole(subject, Role.Auditor);
        } else {
            _revokeRole(subject, Role.Regulator);
        }
    }

    /// @dev Reverts unless `action` can apply to `subject` now. `SetContract` is proposed with
    ///      `proposeContract`, which carries the name, never with `propose`.
    function _checkAction(Action action, address subject) private view {
        if (action == Action.SetContract) {
            revert InvalidAction(action, subject, _members[subject].status);
        }
        if (action == Action.Admit) {
            _checkAdmissible(subject);
            return;
        }
        Member storage m = _members[subject];
        MemberStatus s = m.status;
        bool present = s == MemberStatus.Active || s == MemberStatus.Suspended;
        bool ok;
        bool active = s == MemberStatus.Active;
        if (action == Action.Suspend) ok = active;
        else if (action == Action.Reinstate) ok = s == MemberStatus.Suspended;
        else if (action == Action.Remove) ok = present;
        else if (action == Action.GrantAuditor) ok = active && !_has(m, Role.Auditor);
        else if (action == Action.GrantRegulator) ok = active && !_has(m, Role.Regulator);
        else if (action == Action.RevokeAuditor) ok = present && _has(m, Role.Auditor);
        else ok = present && _has(m, Role.Regulator);
        if (!ok) revert InvalidAction(action, subject, s);

        bool dropsAdmin = (action == Action.Suspend || action == Action.Remove) &&
            active &&
            _has(m, Role.Admin);
        if (dropsAdmin && _activeAdminCount <= _threshold) {
            revert InvalidThreshold(_threshold, _activeAdminCount - 1);
        }
    }

    function _checkAdmissible(address subject) private view {
        if (subject == address(0)) revert ZeroAddress();
        MemberStatus s = _members[subject].status;
        if (s != MemberStatus.None) revert InvalidAction(Action.Admit, subject, s);
    }

    function _existingProposal(uint256 proposalId) private view returns (Proposal storage) {
        if (proposalId == 0 || proposalId > _proposalCount) revert UnknownProposal(proposalId);
        return _proposals[proposalId];
    }
}
