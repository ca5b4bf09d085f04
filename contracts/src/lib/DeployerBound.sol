// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title One-time wiring of contracts that point at each other.
/// @dev The contracts reference each other in a cycle, so addresses cannot all be constructor
/// arguments; the deployer wires them once with `bind` and can never rewire them.
abstract contract DeployerBound {
    error DeployerBound__NotDeployer();
    error DeployerBound__AlreadyBound();
    error DeployerBound__NotBound();
    error DeployerBound__ZeroAddress();

    address private immutable _deployer;
    bool private _bound;

    constructor() {
        _deployer = msg.sender;
    }

    modifier onlyDeployerOnce() {
        if (msg.sender != _deployer) revert DeployerBound__NotDeployer();
        if (_bound) revert DeployerBound__AlreadyBound();
        _bound = true;
        _;
    }

    modifier whenBound() {
        if (!_bound) revert DeployerBound__NotBound();
        _;
    }

    /// @notice Whether the one-time wiring has happened.
    function isBound() external view returns (bool) {
        return _bound;
    }

    function _nonZero(address a) internal pure {
        if (a == address(0)) revert DeployerBound__ZeroAddress();
    }
}
