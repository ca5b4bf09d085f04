// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title A contract that answers to one ClaimManager, fixed at deployment.
/// @dev The ClaimManager and the contracts it slashes point at each other. The deployer predicts
/// the ClaimManager's address from its own nonce and passes it here; the ClaimManager's
/// constructor checks that every contract names it, so a wrong prediction cannot deploy. An
/// immutable costs nothing to read, where a storage slot set later would cost 2,100 gas on every
/// slash and revenue deposit.
abstract contract ClaimManagerBound {
    error ClaimManagerBound__ZeroAddress();

    address internal immutable _claimManager;

    constructor(address claimManager_) {
        if (claimManager_ == address(0)) revert ClaimManagerBound__ZeroAddress();
        _claimManager = claimManager_;
    }

    /// @notice The ClaimManager this contract answers to.
    function claimManager() external view returns (address) {
        return _claimManager;
    }
}
