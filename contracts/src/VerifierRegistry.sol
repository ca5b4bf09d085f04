// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ClaimManagerBound} from "./lib/ClaimManagerBound.sol";

/// @title VerifierRegistry
/// @notice Verifiers stake to join the set whose quorum (at least two thirds of the active
/// verifiers) must attest a claim before it can be opened. Attesters of a claim that the accused
/// refutes lose a fraction of their stake.
contract VerifierRegistry is ClaimManagerBound {
    error VerifierRegistry__InsufficientStake(uint256 required, uint256 sent);
    error VerifierRegistry__AlreadyRegistered(address verifier);
    error VerifierRegistry__NotActive(address verifier);
    error VerifierRegistry__NotLeaving(address verifier);
    error VerifierRegistry__StillUnbonding(address verifier, uint256 unbondAt);
    error VerifierRegistry__NotClaimManager(address caller);
    error VerifierRegistry__InvalidConfig();
    error VerifierRegistry__ZeroValue();
    error VerifierRegistry__TransferFailed();

    event VerifierJoined(address indexed verifier, uint256 stake);
    event VerifierStakeAdded(address indexed verifier, uint256 amount, uint256 stake);
    event VerifierLeaveRequested(address indexed verifier, uint256 unbondAt);
    event VerifierWithdrawn(address indexed verifier, uint256 amount);
    event VerifierPenalized(address indexed verifier, uint256 amount, uint256 remaining, bool deactivated);

    enum Status {
        None,
        Active,
        Leaving
    }

    struct Verifier {
        uint96 stake;
        uint40 unbondAt;
        Status status;
    }

    uint96 private immutable _minStake;
    uint32 private immutable _unbondingPeriod;
    uint16 private immutable _penaltyBps;
    mapping(address => Verifier) private _verifiers;
    uint256 private _activeCount;
    uint256 private _totalStaked;

    /// @param minStake_ Stake a verifier needs to be active.
    /// @param unbondingPeriod_ Seconds between leaving and withdrawing; should exceed every model's
    /// challenge window so that attesters of a refuted claim cannot escape the penalty.
    /// @param penaltyBps_ Share of an attester's stake lost when its claim is refuted.
    /// @param claimManager_ The ClaimManager that may penalize attesters.
    constructor(uint96 minStake_, uint32 unbondingPeriod_, uint16 penaltyBps_, address claimManager_)
        ClaimManagerBound(claimManager_)
    {
        if (minStake_ == 0 || unbondingPeriod_ == 0 || penaltyBps_ > 10_000) revert VerifierRegistry__InvalidConfig();
        _minStake = minStake_;
        _unbondingPeriod = unbondingPeriod_;
        _penaltyBps = penaltyBps_;
    }

    /// @notice Joins the verifier set with `msg.value` as stake.
    function join() external payable {
        Verifier storage v = _verifiers[msg.sender];
        if (v.status != Status.None || v.stake != 0) revert VerifierRegistry__AlreadyRegistered(msg.sender);
        if (msg.value < _minStake) revert VerifierRegistry__InsufficientStake(_minStake, msg.value);
        v.stake = uint96(msg.value);
        v.status = Status.Active;
        ++_activeCount;
        _totalStaked += msg.value;
        emit VerifierJoined(msg.sender, msg.value);
    }

    /// @notice Adds to an active verifier's stake.
    function addStake() external payable {
        Verifier storage v = _verifiers[msg.sender];
        if (v.status != Status.Active) revert VerifierRegistry__NotActive(msg.sender);
        if (msg.value == 0) revert VerifierRegistry__ZeroValue();
        uint256 stake = v.stake + msg.value;
        v.stake = uint96(stake);
        _totalStaked += msg.value;
        emit VerifierStakeAdded(msg.sender, msg.value, stake);
    }

    /// @notice Leaves the active set at once and starts unbonding; the stake stays penalizable.
    function requestLeave() external {
        Verifier storage v = _verifiers[msg.sender];
        if (v.status != Status.Active) revert VerifierRegistry__NotActive(msg.sender);
        uint256 unbondAt = block.timestamp + _unbondingPeriod;
        v.status = Status.Leaving;
        v.unbondAt = uint40(unbondAt);
        --_activeCount;
        emit VerifierLeaveRequested(msg.sender, unbondAt);
    }

    /// @notice Pays the stake back after unbonding; the verifier may join again later.
    function withdraw() external {
        Verifier storage v = _verifiers[msg.sender];
        if (v.status != Status.Leaving) revert VerifierRegistry__NotLeaving(msg.sender);
        if (block.timestamp < v.unbondAt) revert VerifierRegistry__StillUnbonding(msg.sender, v.unbondAt);
        uint256 amount = v.stake;
        delete _verifiers[msg.sender];
        _totalStaked -= amount;
        emit VerifierWithdrawn(msg.sender, amount);
        (bool ok,) = msg.sender.call{value: amount}("");
        if (!ok) revert VerifierRegistry__TransferFailed();
    }

    /// @notice Takes the penalty from each verifier and sends the total to the ClaimManager.
    /// @dev A verifier whose stake falls below the minimum leaves the active set.
    function penalize(address[] calldata verifiers) external returns (uint256 total) {
        if (msg.sender != _claimManager) revert VerifierRegistry__NotClaimManager(msg.sender);
        for (uint256 i; i < verifiers.length; ++i) {
            Verifier storage v = _verifiers[verifiers[i]];
            uint256 stake = v.stake;
            uint256 penalty = stake * _penaltyBps / 10_000;
            // penalty <= stake because _penaltyBps <= 10_000.
            unchecked {
                stake -= penalty;
            }
            v.stake = uint96(stake);
            total += penalty;
            bool deactivate = v.status == Status.Active && stake < _minStake;
            if (deactivate) {
                v.status = Status.Leaving;
                v.unbondAt = uint40(block.timestamp + _unbondingPeriod);
                --_activeCount;
            }
            emit VerifierPenalized(verifiers[i], penalty, stake, deactivate);
        }
        _totalStaked -= total;
        (bool ok,) = msg.sender.call{value: total}("");
        if (!ok) revert VerifierRegistry__TransferFailed();
    }

    // ---------------------------------------------------------------- views

    /// @notice How many of `signers` are active, and how many a quorum needs now.
    function quorumCheck(address[] calldata signers) external view returns (uint256 active, uint256 required) {
        for (uint256 i; i < signers.length; ++i) {
            if (_verifiers[signers[i]].status == Status.Active) ++active;
        }
        required = quorum();
    }

    /// @notice Attestations a claim needs now: ceil(2/3 of active verifiers), at least one.
    function quorum() public view returns (uint256) {
        uint256 q = (2 * _activeCount + 2) / 3;
        return q == 0 ? 1 : q;
    }

    /// @notice Whether `verifier` is in the active set.
    function isActive(address verifier) external view returns (bool) {
        return _verifiers[verifier].status == Status.Active;
    }

    /// @notice A verifier's stake, unbonding time and status.
    function verifierInfo(address verifier) external view returns (uint256 stake, uint256 unbondAt, Status status) {
        Verifier memory v = _verifiers[verifier];
        return (v.stake, v.unbondAt, v.status);
    }

    /// @notice Number of active verifiers.
    function activeCount() external view returns (uint256) {
        return _activeCount;
    }

    /// @notice Sum of all verifier stakes held.
    function totalStaked() external view returns (uint256) {
        return _totalStaked;
    }

    /// @notice The registry's parameters.
    function config() external view returns (uint96 minStake, uint32 unbondingPeriod, uint16 penaltyBps) {
        return (_minStake, _unbondingPeriod, _penaltyBps);
    }

}
