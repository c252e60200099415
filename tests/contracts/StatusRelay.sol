// SPDX-License-Identifier: UNLICENSED
pragma solidity 0.8.28;

/// @dev The part of RecordRegistry a consortium contract calls; the status as its uint8.
interface IRecordStatus {
    function setStatus(
        bytes32 commitment,
        uint256 batchId,
        uint64 leafIndex,
        bytes32[] calldata proof,
        uint8 status
    ) external;
}

/// @title StatusRelay
/// @notice For tests only: a stand-in for a consortium contract (such as a disputes contract)
///         that sets a commitment's status in the RecordRegistry.
contract StatusRelay {
    /// @notice Calls `registry.setStatus` as this contract.
    function setStatus(
        IRecordStatus registry,
        bytes32 commitment,
        uint256 batchId,
        uint64 leafIndex,
        bytes32[] calldata proof,
        uint8 status
    ) external {
        registry.setStatus(commitment, batchId, leafIndex, proof, status);
    }
}

/// @dev The part of Blacklist the disputes contract calls.
interface IBlacklistDisputed {
    function setDisputed(uint256 id, bool disputed) external;
}

/// @title DisputedRelay
/// @notice For tests only: a stand-in for the disputes contract that flags blacklist entries.
contract DisputedRelay {
    /// @notice Calls `blacklist.setDisputed` as this contract.
    function setDisputed(IBlacklistDisputed blacklist, uint256 id, bool disputed) external {
        blacklist.setDisputed(id, disputed);
    }
}
