// SPDX-License-Identifier: UNLICENSED
pragma solidity 0.8.28;

/// @title IConsortium
/// @notice What the consortium's other contracts ask of it: who is an active member, who holds
///         which role, and which contracts belong to the consortium. They depend on this, not on
///         the whole `Consortium` contract, so membership and governance can change behind it.
interface IConsortium {
    /// @notice Whether `account` is a member with status `Active`.
    /// @param account The address to check.
    /// @return True if `account` may act as a member now.
    function isActiveMember(address account) external view returns (bool);

    /// @notice Whether `account` is an active member holding the admin role.
    /// @param account The address to check.
    /// @return True if `account` may propose and vote now.
    function isAdmin(address account) external view returns (bool);

    /// @notice Whether `account` is an active member holding the auditor role.
    /// @param account The address to check.
    /// @return True if `account` may act as an auditor now.
    function isAuditor(address account) external view returns (bool);

    /// @notice Whether `account` is an active member holding the regulator role.
    /// @param account The address to check.
    /// @return True if `account` may act as a regulator now.
    function isRegulator(address account) external view returns (bool);

    /// @notice The consortium's contract registered under `name`, e.g. "RecordRegistry".
    /// @param name The contract's name, ASCII, right-padded with zero bytes.
    /// @return The contract's address; zero if no contract has that name.
    function contractAddress(bytes32 name) external view returns (address);

    /// @notice The name `account` is registered under as one of the consortium's contracts.
    /// @param account The address to check.
    /// @return The name; zero if `account` is not one of the consortium's contracts.
    function contractName(address account) external view returns (bytes32);
}
