// SPDX-License-Identifier: UNLICENSED
pragma solidity 0.8.28;

/// @title Consortium
/// @notice The members of one credit-sharing consortium, their roles, and the M-of-N admin vote
///         that changes them. Every other contract asks this one whether an address is an
///         active member, so membership lives in exactly one place.
/// @dev Founding admins are set at deployment together with the threshold M. Every change of
///      membership or roles is a proposal that executes, in the transaction of its M-th vote,
///      through the same internal functions. A proposal's votes are a counter, never a loop.
contract Consortium {
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
        RevokeRegulator
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
    uint256 private _activeAdminCount;
    uint256 private _proposalCount;
    address[] private _memberList;
    mapping(address account => Member) private _members;
    mapping(uint256 proposalId => Proposal) private _proposals;
    mapping(uint256 proposalId => Candidate) private _candidates;
    mapping(uint256 proposalId => mapping(address admin => bool)) private _voted;

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
    /// @notice There is no member at position `index`; there are `count`.
    error IndexOutOfRange(uint256 index, uint256 count);

    modifier onlyAdmin() {
        if (!isAdmin(msg.sender)) revert NotAdmin(msg.sender);
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

        proposalId = ++_proposalCount;
        Proposal storage p = _proposals[proposalId];
        p.action = action;
        p.subject = subject;
        p.proposer = msg.sender;
        p.createdAt = uint64(block.timestamp);
        if (action == Action.Admit) {
            Candidate storage c = _candidates[proposalId];
            c.name = name;
            c.nodeUrl = nodeUrl;
            c.publicKey = publicKey;
        }

        emit ProposalCreated(proposalId, action, subject, msg.sender);
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

    // --- views ----------------------------------------------------------------------------

    /// @notice Whether `account` is a member with status `Active`.
    /// @param account The address to check.
    /// @return True if `account` may act as a member now.
    function isActiveMember(address account) public view returns (bool) {
        return _members[account].status == MemberStatus.Active;
    }

    /// @notice Whether `account` is an active member holding the admin role.
    /// @param account The address to check.
    /// @return True if `account` may propose and vote now.
    function isAdmin(address account) public view returns (bool) {
        return hasRole(account, Role.Admin);
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

    /// @notice Whether `admin` has voted for proposal `proposalId`.
    /// @param proposalId The proposal id.
    /// @param admin The address to check.
    /// @return True if `admin` voted (proposing counts as voting).
    function hasVoted(uint256 proposalId, address admin) external view returns (bool) {
        return _voted[proposalId][admin];
    }

    // --- internals ------------------------------------------------------------------------

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

    /// @dev Reverts unless `action` can apply to `subject` now.
    function _checkAction(Action action, address subject) private view {
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
