// SPDX-License-Identifier: UNLICENSED
pragma solidity 0.8.28;

import {IConsortium} from "./IConsortium.sol";

/// @title ConsortiumMembers
/// @notice The members of one credit-sharing consortium, their roles, and the consortium's
///         contracts by name: what every other contract asks, through `IConsortium`.
/// @dev Changed only through the internal functions here, which `Consortium` calls when a
///      vote passes (or, for the first contracts, during its deployment). Every change emits
///      an event.
abstract contract ConsortiumMembers is IConsortium {
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

    /// @dev The first slot holds (status, roles, joinedAt).
    struct Member {
        MemberStatus status;
        uint8 roles;
        uint64 joinedAt;
        string name;
        string nodeUrl;
        bytes publicKey;
    }

    /// @notice The longest member name, in bytes of UTF-8.
    uint256 public constant MAX_NAME_BYTES = 256;
    /// @notice The longest node URL, in bytes.
    uint256 public constant MAX_NODE_URL_BYTES = 256;

    /// @dev The secp256k1 field prime.
    uint256 private constant _P =
        0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEFFFFFC2F;

    uint256 internal _activeAdminCount;
    address[] private _memberList;
    mapping(address account => Member) internal _members;
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

    /// @notice The consortium's contract `name` changed from `previous` to `account` (zero
    ///         for none).
    event ContractSet(bytes32 indexed name, address indexed previous, address indexed account);

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
    /// @notice `account` cannot be registered as contract `name`: the name is zero, the account
    ///         has no code, is this contract, or already has a name; or, to unregister
    ///         (`account` zero), no contract has that name.
    error InvalidContract(bytes32 name, address account);

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

    /// @notice The number of active members holding the admin role; never below M.
    /// @return The active admin count.
    function adminCount() external view returns (uint256) {
        return _activeAdminCount;
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

    // --- internals ------------------------------------------------------------------------

    function _checkCandidate(
        string memory name,
        string memory nodeUrl,
        bytes memory publicKey
    ) internal pure {
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
    ) internal {
        Member storage m = _members[member];
        m.status = MemberStatus.Active;
        m.joinedAt = uint64(block.timestamp);
        m.name = name;
        m.nodeUrl = nodeUrl;
        m.publicKey = publicKey;
        _memberList.push(member);

        emit MemberAdded(member, name, nodeUrl, publicKey);
    }

    function _setStatus(address member, MemberStatus status) internal {
        Member storage m = _members[member];
        MemberStatus previous = m.status;
        if (_has(m, Role.Admin)) {
            if (previous == MemberStatus.Active) _activeAdminCount -= 1;
            else if (status == MemberStatus.Active) _activeAdminCount += 1;
        }
        m.status = status;

        emit MemberStatusChanged(member, previous, status);
    }

    function _grantRole(address member, Role role) internal {
        Member storage m = _members[member];
        m.roles |= _bit(role);
        if (role == Role.Admin) _activeAdminCount += 1;

        emit RoleGranted(member, role);
    }

    function _revokeRole(address member, Role role) internal {
        Member storage m = _members[member];
        m.roles &= ~_bit(role);

        emit RoleRevoked(member, role);
    }

    function _has(Member storage m, Role role) internal view returns (bool) {
        return m.roles & _bit(role) != 0;
    }

    function _bit(Role role) private pure returns (uint8) {
        return uint8(1) << uint8(role);
    }

    // --- contracts by name -----------------------------------------------------------------

    /// @dev Reverts unless `name` can be set to `account` now (zero `account`: unregistered).
    function _checkContract(bytes32 name, address account) internal view {
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

    function _setContract(bytes32 name, address account) internal {
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
}
