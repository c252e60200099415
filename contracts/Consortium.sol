// SPDX-License-Identifier: UNLICENSED
pragma solidity 0.8.28;

import {IConsortium} from "./IConsortium.sol";

/// @title Consortium
/// @notice The members of one credit-sharing consortium, their roles, and the M-of-N admin vote
///         that changes them. Every other contract asks this one whether an address is an
///         active member, so membership lives in exactly one place. It also keeps the
///         consortium's other contracts by name, so a node that knows this one address finds
///         them all, and they know which callers are their fellow contracts.
/// @dev Founding admins are set at deployment together with the threshold M. Every change of
///      membership, roles or contracts is a proposal that executes, in the transaction of its
///      M-th vote, through the same internal functions. A proposal's votes are a counter, never
///      a loop. The one exception is the deployment itself: the deployer registers the
///      contracts it deployed for this consortium, then calls `finishDeployment`, and from then
///      on only a vote changes them.
contract Consortium is IConsortium {
    /// @notice Where a member stands. `None` is the default for an address never admitted;
    ///         `Removed` is final.
    enum MemberStatus {
        None,
        Active,
        Suspended,
        Removed
    }

    /// @notice A role a member may hold; effective only while the member is `Active`.
    ///         In `getMember`'s `roles` bitmask, role `r` is bit `1 << r`.
    enum Role {
        Admin,
        Auditor,
        Regulator
    }

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

    /// @dev The first slot holds (status, roles, joinedAt).
    struct Member {
        MemberStatus status;
        uint8 roles;
        uint64 joinedAt;
        string name;
        string nodeUrl;
        bytes publicKey;
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
    /// @notice The longest member name, in bytes of UTF-8.
    uint256 public constant MAX_NAME_BYTES = 256;
    /// @notice The longest node URL, in bytes.
    uint256 public constant MAX_NODE_URL_BYTES = 256;

    /// @dev The secp256k1 field prime.
    uint256 private constant _P =
        0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEFFFFFC2F;

    uint256 private immutable _threshold;
    address private immutable _deployer;
    bool private _deploymentFinished;
    uint256 private _activeAdminCount;
    uint256 private _proposalCount;
    address[] private _memberList;
    mapping(address account => Member) private _members;
    mapping(uint256 proposalId => Proposal) private _proposals;
    mapping(uint256 proposalId => Candidate) private _candidates;
    mapping(uint256 proposalId => mapping(address admin => bool)) private _voted;
    mapping(uint256 proposalId => bytes32 name) private _proposedContractName;
    bytes32[] private _contractNames;
    mapping(bytes32 name => bool) private _contractNameListed;
    mapping(bytes32 name => address) private _contracts;
    mapping(address account => bytes32 name) private _contractNameOf;

    /// @notice `member` joined with status `Active`, registered with these details.
    event MemberAdded(address indexed member, string name, string nodeUrl, bytes publicKey);

    /// @notice A member's status changed from `previous` to `status`.
    event MemberStatusChanged(address indexed member, MemberStatus previous, MemberStatus status);

    /// @notice `member` was granted `role`.
    event RoleGranted(address indexed member, Role role);

    /// @notice `member` lost `role`.
    event RoleRevoked(address indexed member, Role role);

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

    /// @notice The consortium's contract `name` changed from `previous` to `account` (zero
    ///         for none).
    event ContractSet(bytes32 indexed name, address indexed previous, address indexed account);

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
    /// @notice The zero address cannot be a member.
    error ZeroAddress();
    /// @notice A member name must be 1 to `MAX_NAME_BYTES` bytes.
    error InvalidName();
    /// @notice A node URL must be at most `MAX_NODE_URL_BYTES` bytes.
    error InvalidNodeUrl();
    /// @notice A public key must be a SEC1 secp256k1 key: 33 bytes compressed (0x02/0x03) or
    ///         65 bytes uncompressed (0x04) and on the curve.
    error InvalidPublicKey();
    /// @notice There is no member (or contract name) at position `index`; there are `count`.
    error IndexOutOfRange(uint256 index, uint256 count);
    /// @notice Only the deployer may register contracts during the deployment, not `who`.
    error NotDeployer(address who);
    /// @notice The deployment is finished: contracts change by a vote (`proposeContract`).
    error DeploymentAlreadyFinished();
    /// @notice `account` cannot be registered as contract `name`: the name is zero, the account
    ///         has no code, is this contract, or already has a name; or, to unregister
    ///         (`account` zero), no contract has that name.
    error InvalidContract(bytes32 name, address account);

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

    // --- views ----------------------------------------------------------------------------

    /// @inheritdoc IConsortium
    function isActiveMember(address account) public view returns (bool) {
        return _members[account].status == MemberStatus.Active;
    }

    /// @inheritdoc IConsortium
    function isAdmin(address account) public view returns (bool) {
        return hasRole(account, Role.Admin);
    }

    /// @inheritdoc IConsortium
    function isAuditor(address account) external view returns (bool) {
        return hasRole(account, Role.Auditor);
    }

    /// @inheritdoc IConsortium
    function isRegulator(address account) external view returns (bool) {
        return hasRole(account, Role.Regulator);
    }

    /// @inheritdoc IConsortium
    function contractAddress(bytes32 name) external view returns (address) {
        return _contracts[name];
    }

    /// @inheritdoc IConsortium
    function contractName(address account) external view returns (bytes32) {
        return _contractNameOf[account];
    }

    /// @notice The number of contract names ever registered, the unregistered ones included.
    /// @return The count; `contractNameAt` takes indexes below it.
    function contractCount() external view returns (uint256) {
        return _contractNames.length;
    }

    /// @notice The contract name registered `index`-th (from 0), for listing the contracts.
    /// @param index A position below `contractCount()`.
    /// @return The name; `contractAddress` gives its address (zero if it was unregistered).
    function contractNameAt(uint256 index) external view returns (bytes32) {
        if (index >= _contractNames.length) revert IndexOutOfRange(index, _contractNames.length);
        return _contractNames[index];
    }

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

    /// @notice Whether `account` is an active member holding `role`.
    /// @param account The address to check.
    /// @param role The role to check.
    /// @return True if `account` holds `role` and is `Active`.
    function hasRole(address account, Role role) public view returns (bool) {
        Member storage m = _members[account];
        return m.status == MemberStatus.Active && m.roles & _bit(role) != 0;
    }

    /// @notice The status of `account`; `None` if it was never admitted.
    /// @param account The address to look up.
    /// @return The member's status.
    function memberStatus(address account) external view returns (MemberStatus) {
        return _members[account].status;
    }

    /// @notice Everything registered about `account`.
    /// @param account The address to look up.
    /// @return status The member's status (`None` if never admitted).
    /// @return roles Its roles as a bitmask, bit `1 << Role` (effective only while `Active`).
    /// @return name Its display name.
    /// @return nodeUrl Its node's URL (may be empty).
    /// @return publicKey Its SEC1 secp256k1 public key.
    /// @return joinedAt The timestamp of the block that admitted it.
    function getMember(
        address account
    )
        external
        view
        returns (
            MemberStatus status,
            uint8 roles,
            string memory name,
            string memory nodeUrl,
            bytes memory publicKey,
            uint64 joinedAt
        )
    {
        Member storage m = _members[account];
        return (m.status, m.roles, m.name, m.nodeUrl, m.publicKey, m.joinedAt);
    }

    /// @notice The number of members ever admitted, whatever their status now.
    /// @return The member count; `memberAt` takes indexes below it.
    function memberCount() external view returns (uint256) {
        return _memberList.length;
    }

    /// @notice The member admitted `index`-th (from 0), for listing members from the chain.
    /// @param index A position below `memberCount()`.
    /// @return The member's address; `getMember` gives the rest.
    function memberAt(uint256 index) external view returns (address) {
        if (index >= _memberList.length) revert IndexOutOfRange(index, _memberList.length);
        return _memberList[index];
    }

    /// @notice M: the votes a proposal needs to take effect.
    /// @return The threshold set at deployment.
    function threshold() external view returns (uint256) {
        return _threshold;
    }

    /// @notice The number of active members holding the admin role; never below M.
    /// @return The active admin count.
    function adminCount() external view returns (uint256) {
        return _activeAdminCount;
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

    /// @dev Reverts unless `name` can be set to `account` now (zero `account`: unregistered).
    function _checkContract(bytes32 name, address account) private view {
        bool ok;
        if (name == bytes32(0)) ok = false;
        else if (account == address(0)) ok = _contracts[name] != address(0);
        else {
            ok =
                account != address(this) &&
                account.code.length != 0 &&
                _contractNameOf[account] == bytes32(0);
        }
        if (!ok) revert InvalidContract(name, account);
    }

    function _setContract(bytes32 name, address account) private {
        address previous = _contracts[name];
        if (previous != address(0)) _contractNameOf[previous] = bytes32(0);
        if (account != address(0)) _contractNameOf[account] = name;
        _contracts[name] = account;
        if (!_contractNameListed[name]) {
            _contractNameListed[name] = true;
            _contractNames.push(name);
        }

        emit ContractSet(name, previous, account);
    }

    function _checkAdmissible(address subject) private view {
        if (subject == address(0)) revert ZeroAddress();
        MemberStatus s = _members[subject].status;
        if (s != MemberStatus.None) revert InvalidAction(Action.Admit, subject, s);
    }

    function _checkCandidate(
        string memory name,
        string memory nodeUrl,
        bytes memory publicKey
    ) private pure {
        uint256 nameLength = bytes(name).length;
        if (nameLength == 0 || nameLength > MAX_NAME_BYTES) revert InvalidName();
        if (bytes(nodeUrl).length > MAX_NODE_URL_BYTES) revert InvalidNodeUrl();
        if (!_isPublicKey(publicKey)) revert InvalidPublicKey();
    }

    /// @dev SEC1 encoding of a secp256k1 point: coordinates below the field prime, and the
    ///      curve equation y^2 = x^3 + 7 checked for the uncompressed form.
    function _isPublicKey(bytes memory key) private pure returns (bool) {
        uint256 x;
        uint256 y;
        assembly ("memory-safe") {
            x := mload(add(key, 33))
            y := mload(add(key, 65))
        }
        if (key.length == 33) {
            return (key[0] == 0x02 || key[0] == 0x03) && x < _P;
        }
        if (key.length != 65 || key[0] != 0x04 || x >= _P || y >= _P) return false;
        return mulmod(y, y, _P) == addmod(mulmod(mulmod(x, x, _P), x, _P), 7, _P);
    }

    function _addMember(
        address member,
        string memory name,
        string memory nodeUrl,
        bytes memory publicKey
    ) private {
        Member storage m = _members[member];
        m.status = MemberStatus.Active;
        m.joinedAt = uint64(block.timestamp);
        m.name = name;
        m.nodeUrl = nodeUrl;
        m.publicKey = publicKey;
        _memberList.push(member);

        emit MemberAdded(member, name, nodeUrl, publicKey);
    }

    function _setStatus(address member, MemberStatus status) private {
        Member storage m = _members[member];
        MemberStatus previous = m.status;
        if (_has(m, Role.Admin)) {
            if (previous == MemberStatus.Active) _activeAdminCount -= 1;
            else if (status == MemberStatus.Active) _activeAdminCount += 1;
        }
        m.status = status;

        emit MemberStatusChanged(member, previous, status);
    }

    function _grantRole(address member, Role role) private {
        Member storage m = _members[member];
        m.roles |= _bit(role);
        if (role == Role.Admin) _activeAdminCount += 1;

        emit RoleGranted(member, role);
    }

    function _revokeRole(address member, Role role) private {
        Member storage m = _members[member];
        m.roles &= ~_bit(role);

        emit RoleRevoked(member, role);
    }

    function _existingProposal(uint256 proposalId) private view returns (Proposal storage) {
        if (proposalId == 0 || proposalId > _proposalCount) revert UnknownProposal(proposalId);
        return _proposals[proposalId];
    }

    function _has(Member storage m, Role role) private view returns (bool) {
        return m.roles & _bit(role) != 0;
    }

    function _bit(Role role) private pure returns (uint8) {
        return uint8(1) << uint8(role);
    }
}
