// SPDX-License-Identifier: UNLICENSED
pragma solidity 0.8.28;

/// @title Consortium
/// @notice The members of one credit-sharing consortium and their roles. Every other
///         contract asks this one whether an address is an active member or an admin, so
///         membership lives in exactly one place.
/// @dev Admin actions go through `onlyAdmin` and small internal functions, so that M-of-N
///      governance can later call the same internal functions after a vote.
contract Consortium {
    /// @notice Where a member stands. `None` is the default for an address never added;
    ///         `Removed` is final.
    enum MemberStatus {
        None,
        Active,
        Suspended,
        Removed
    }

    struct Member {
        MemberStatus status;
        bool admin;
        string name;
    }

    mapping(address account => Member) private _members;
    uint256 private _memberCount;
    uint256 private _activeAdminCount;

    /// @notice A member joined; its status is `Active`.
    event MemberAdded(address indexed member, string name);

    /// @notice A member's status changed from `previous` to `status`.
    event MemberStatusChanged(address indexed member, MemberStatus previous, MemberStatus status);

    /// @notice A member was made an admin (`admin` true) or stopped being one.
    event AdminChanged(address indexed member, bool admin);

    /// @notice `who` is not an active admin.
    error NotAdmin(address who);
    /// @notice `who` is not an active member.
    error NotActiveMember(address who);
    /// @notice `who` has already been added (whatever its status now).
    error AlreadyMember(address who);
    /// @notice `who` was never added.
    error UnknownMember(address who);
    /// @notice A member cannot move from status `from` to status `to`.
    error InvalidStatusChange(address who, MemberStatus from, MemberStatus to);
    /// @notice `who` already has the admin flag `admin`.
    error AdminUnchanged(address who, bool admin);
    /// @notice The change would leave the consortium without an active admin.
    error LastAdmin(address who);
    /// @notice The zero address cannot be a member.
    error ZeroAddress();
    /// @notice A member needs a non-empty name.
    error EmptyName();

    modifier onlyAdmin() {
        if (!isAdmin(msg.sender)) revert NotAdmin(msg.sender);
        _;
    }

    /// @notice Founds the consortium: the deployer becomes its first active member and admin.
    /// @param founderName The founding member's display name.
    constructor(string memory founderName) {
        _addMember(msg.sender, founderName);
        _setAdmin(msg.sender, true);
    }

    /// @notice Admits a new member with status `Active`.
    /// @param member The member's node address (the key its node signs transactions with).
    /// @param name The member's display name, e.g. the lender's registered name.
    function addMember(address member, string calldata name) external onlyAdmin {
        _addMember(member, name);
    }

    /// @notice Suspends, reinstates or removes a member.
    /// @dev Allowed: Active -> Suspended | Removed, Suspended -> Active | Removed. Removed is
    ///      final. The last active admin cannot be suspended or removed.
    /// @param member The member to change.
    /// @param status The new status.
    function setMemberStatus(address member, MemberStatus status) external onlyAdmin {
        _setMemberStatus(member, status);
    }

    /// @notice Grants or revokes the admin role of a member.
    /// @dev Only an active member can be made admin. The last active admin cannot be revoked.
    /// @param member The member to change.
    /// @param admin True to grant the role, false to revoke it.
    function setAdmin(address member, bool admin) external onlyAdmin {
        _setAdmin(member, admin);
    }

    /// @notice Whether `account` is a member with status `Active`.
    /// @param account The address to check.
    /// @return True if `account` may act as a member now.
    function isActiveMember(address account) public view returns (bool) {
        return _members[account].status == MemberStatus.Active;
    }

    /// @notice Whether `account` is an active member holding the admin role.
    /// @param account The address to check.
    /// @return True if `account` may act as an admin now.
    function isAdmin(address account) public view returns (bool) {
        Member storage m = _members[account];
        return m.admin && m.status == MemberStatus.Active;
    }

    /// @notice The status of `account`; `None` if it was never added.
    /// @param account The address to look up.
    /// @return The member's status.
    function memberStatus(address account) external view returns (MemberStatus) {
        return _members[account].status;
    }

    /// @notice Everything stored about `account`.
    /// @param account The address to look up.
    /// @return status The member's status (`None` if never added).
    /// @return admin Whether it holds the admin role (effective only while `Active`).
    /// @return name Its display name.
    function getMember(
        address account
    ) external view returns (MemberStatus status, bool admin, string memory name) {
        Member storage m = _members[account];
        return (m.status, m.admin, m.name);
    }

    /// @notice The number of members ever added, whatever their status now.
    /// @return The member count.
    function memberCount() external view returns (uint256) {
        return _memberCount;
    }

    /// @notice The number of active members holding the admin role.
    /// @return The active admin count.
    function adminCount() external view returns (uint256) {
        return _activeAdminCount;
    }

    function _addMember(address member, string memory name) internal {
        if (member == address(0)) revert ZeroAddress();
        if (bytes(name).length == 0) revert EmptyName();
        Member storage m = _members[member];
        if (m.status != MemberStatus.None) revert AlreadyMember(member);

        m.status = MemberStatus.Active;
        m.name = name;
        _memberCount += 1;

        emit MemberAdded(member, name);
    }

    function _setMemberStatus(address member, MemberStatus status) internal {
        Member storage m = _members[member];
        MemberStatus previous = m.status;
        if (previous == MemberStatus.None) revert UnknownMember(member);
        if (
            status == previous ||
            status == MemberStatus.None ||
            previous == MemberStatus.Removed
        ) revert InvalidStatusChange(member, previous, status);
        if (m.admin) {
            if (previous == MemberStatus.Active) {
                if (_activeAdminCount == 1) revert LastAdmin(member);
                _activeAdminCount -= 1;
            } else if (status == MemberStatus.Active) {
                _activeAdminCount += 1;
            }
        }

        m.status = status;

        emit MemberStatusChanged(member, previous, status);
    }

    function _setAdmin(address member, bool admin) internal {
        Member storage m = _members[member];
        if (m.admin == admin) revert AdminUnchanged(member, admin);
        bool active = m.status == MemberStatus.Active;
        if (admin) {
            if (!active) revert NotActiveMember(member);
            _activeAdminCount += 1;
        } else if (active) {
            if (_activeAdminCount == 1) revert LastAdmin(member);
            _activeAdminCount -= 1;
        }

        m.admin = admin;

        emit AdminChanged(member, admin);
    }
}
