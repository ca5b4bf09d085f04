// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title Pays ETH without letting a reverting recipient block the caller.
/// @dev A push that fails is credited and can be pulled later with `withdrawOwed`.
abstract contract PaymentSender {
    error PaymentSender__NothingOwed();
    error PaymentSender__TransferFailed();

    event PaymentDeferred(address indexed to, uint256 amount);
    event OwedWithdrawn(address indexed to, uint256 amount);

    mapping(address => uint256) private _owed;
    uint256 private _totalOwed;

    /// @notice ETH credited to `account` after a push to it failed.
    function owedTo(address account) external view returns (uint256) {
        return _owed[account];
    }

    /// @notice Total ETH this contract holds for failed pushes.
    function totalOwed() public view returns (uint256) {
        return _totalOwed;
    }

    /// @notice Pulls the ETH credited to the caller.
    function withdrawOwed() external {
        uint256 amount = _owed[msg.sender];
        if (amount == 0) revert PaymentSender__NothingOwed();
        delete _owed[msg.sender];
        _totalOwed -= amount;
        emit OwedWithdrawn(msg.sender, amount);
        (bool ok,) = msg.sender.call{value: amount}("");
        if (!ok) revert PaymentSender__TransferFailed();
    }

    function _pay(address to, uint256 amount) internal {
        if (amount == 0) return;
        // A bounded gas allowance keeps a hostile recipient from burning the caller's gas.
        (bool ok,) = to.call{value: amount, gas: 30_000}("");
        if (!ok) {
            _owed[to] += amount;
            _totalOwed += amount;
            emit PaymentDeferred(to, amount);
        }
    }
}
