// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ClaimManagerBound} from "./lib/ClaimManagerBound.sol";

/// @title VerifierRegistry
/// @notice Verifiers stake to join the set whose quorum must attest a claim before it can be
/// opened. The quorum is weighted by stake: attesters must hold at least two thirds of the stake
/// of the active set. Stake counts only after an activation delay (longer than any challenge
/// window), so accounts created after a claim was seen can neither push it through nor block it.
/// Attesters of a claim that the accused refutes lose a fraction of their stake.
contract VerifierRegistry is ClaimManagerBound {
    error VerifierRegistry__InsufficientStake(uint256 required, uint256 sent);
    error VerifierRegistry__AlreadyRegistered(address verifier);
    error VerifierRegistry__NotActive(address verifier);
    error VerifierRegistry__NotLeaving(address verifier);
    error VerifierRegistry__StillUnbonding(address verifier, uint256 unbondAt);
    error VerifierRegistry__NothingToActivate(address verifier);
    error VerifierRegistry__NotYetActivatable(address verifier, uint256 activatesAt);
    error VerifierRegistry__NotClaimManager(address caller);
    error VerifierRegistry__InvalidConfig();
    error VerifierRegistry__ZeroValue();
    error VerifierRegistry__TransferFailed();

    event VerifierJoined(address indexed verifier, uint256 stake, uint256 activatesAt);
    event VerifierStakeAdded(address indexed verifier, uint256 amount, uint256 pending, uint256 activatesAt);
    event VerifierActivated(address indexed verifier, uint256 amount, uint256 stake);
    event VerifierLeaveRequested(address indexed verifier, uint256 unbondAt);
    event VerifierWithdrawn(address indexed verifier, uint256 amount);
    event VerifierPenalized(address indexed verifier, uint256 amount, uint256 remaining, bool deactivated);

    enum Status {
        None,
        Joining, // stake waits for its activation delay; cannot attest
        Active, // stake counts in quorums
        Leaving // unbonding; still penalizable, never counts again
    }

    /// @dev One slot per verifier.
    struct Verifier {
        uint96 stake; // counted stake (Active), or all of it while Leaving
        uint96 pending; // stake waiting for activation (Joining, or added while Active)
        uint40 readyAt; // Joining/Active: when `pending` may activate; Leaving: when it may withdraw
        Status status;
    }

    uint96 private immutable _minStake;
    uint32 private immutable _unbondingPeriod;
    uint32 private immutable _activationDelay;
    uint16 private immutable _penaltyBps;
    mapping(address => Verifier) private _verifiers;
    uint256 private _activeStake;
    uint256 private _activeCount;
    uint256 private _totalStaked;

    /// @param minStake_ Stake a verifier needs to join and stay active.
    /// @param unbondingPeriod_ Seconds between leaving and withdrawing; must exceed every
    /// challenge window so that attesters of a refuted claim cannot escape the penalty.
    /// @param activationDelay_ Seconds before joined or added stake counts; must exceed every
    /// challenge window so that no stake arriving after a claim was seen can sway it.
    /// @param penaltyBps_ Share of an attester's stake lost when its claim is refuted.
    /// @param claimManager_ The ClaimManager that may penalize attesters.
    constructor(
        uint96 minStake_,
        uint32 unbondingPeriod_,
        uint32 activationDelay_,
        uint16 penaltyBps_,
        address claimManager_
    ) ClaimManagerBound(claimManager_) {
        if (minStake_ == 0 || unbondingPeriod_ == 0 || activationDelay_ == 0 || penaltyBps_ > 10_000) {
            revert VerifierRegistry__InvalidConfig();
        }
        _minStake = minStake_;
        _unbondingPeriod = unbondingPeriod_;
        _activationDelay = activationDelay_;
        _penaltyBps = penaltyBps_;
    }

    /// @notice Joins the verifier set with `msg.value` as stake; it counts after the activation delay.
    function join() external payable {
        Verifier storage v = _verifiers[msg.sender];
        if (v.status != Status.None) revert VerifierRegistry__AlreadyRegistered(msg.sender);
        if (msg.value < _minStake) revert VerifierRegistry__InsufficientStake(_minStake, msg.value);
        uint256 activatesAt = block.timestamp + _activationDelay;
        v.pending = uint96(msg.value);
        v.readyAt = uint40(activatesAt);
        v.status = Status.Joining;
        _totalStaked += msg.value;
        emit VerifierJoined(msg.sender, msg.value, activatesAt);
    }

    /// @notice Adds to a joining or active verifier's stake; the addition counts after the
    /// activation delay, which restarts for everything still pending.
    function addStake() external payable {
        Verifier storage v = _verifiers[msg.sender];
        if (v.status != Status.Active && v.status != Status.Joining) revert VerifierRegistry__NotActive(msg.sender);
        if (msg.value == 0) revert VerifierRegistry__ZeroValue();
        uint256 pending = v.pending + msg.value;
        uint256 activatesAt = block.timestamp + _activationDelay;
        v.pending = uint96(pending);
        v.readyAt = uint40(activatesAt);
        _totalStaked += msg.value;
        emit VerifierStakeAdded(msg.sender, msg.value, pending, activatesAt);
    }

    /// @notice Makes `verifier`'s pending stake count, once its activation delay has passed.
    /// @dev Anyone may call: activation only follows the clock.
    function activate(address verifier) external {
        Verifier storage v = _verifiers[verifier];
        uint256 amount = v.pending;
        if (amount == 0 || (v.status != Status.Joining && v.status != Status.Active)) {
            revert VerifierRegistry__NothingToActivate(verifier);
        }
        if (block.timestamp < v.readyAt) revert VerifierRegistry__NotYetActivatable(verifier, v.readyAt);
        uint256 stake = v.stake + amount;
        if (v.status == Status.Joining) {
            v.status = Status.Active;
            ++_activeCount;
        }
        v.stake = uint96(stake);
        v.pending = 0;
        v.readyAt = 0;
        _activeStake += amount;
        emit VerifierActivated(verifier, amount, stake);
    }

    /// @notice Leaves the set at once and starts unbonding; the stake stays penalizable.
    function requestLeave() external {
        Verifier storage v = _verifiers[msg.sender];
        Status status = v.status;
        if (status != Status.Active && status != Status.Joining) revert VerifierRegistry__NotActive(msg.sender);
        if (status == Status.Active) _leaveActiveSet(v);
        uint256 unbondAt = block.timestamp + _unbondingPeriod;
        v.stake += v.pending;
        v.pending = 0;
        v.status = Status.Leaving;
        v.readyAt = uint40(unbondAt);
        emit VerifierLeaveRequested(msg.sender, unbondAt);
    }

    /// @notice Pays the stake back after unbonding; the verifier may join again later.
    function withdraw() external {
        Verifier storage v = _verifiers[msg.sender];
        if (v.status != Status.Leaving) revert VerifierRegistry__NotLeaving(msg.sender);
        if (block.timestamp < v.readyAt) revert VerifierRegistry__StillUnbonding(msg.sender, v.readyAt);
        uint256 amount = v.stake;
        delete _verifiers[msg.sender];
        _totalStaked -= amount;
        emit VerifierWithdrawn(msg.sender, amount);
        (bool ok,) = msg.sender.call{value: amount}("");
        if (!ok) revert VerifierRegistry__TransferFailed();
    }

    /// @notice Takes the penalty from each verifier's counted stake and sends the total to the
    /// ClaimManager. ClaimManager only.
    /// @dev A verifier whose stake falls below the minimum leaves the active set and unbonds.
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
            bool active = v.status == Status.Active;
            if (active) _activeStake -= penalty;
            bool deactivate = active && stake < _minStake;
            if (deactivate) {
                _leaveActiveSet(v);
                v.stake = uint96(stake + v.pending);
                v.pending = 0;
                v.status = Status.Leaving;
                v.readyAt = uint40(block.timestamp + _unbondingPeriod);
            }
            emit VerifierPenalized(verifiers[i], penalty, stake, deactivate);
        }
        _totalStaked -= total;
        (bool ok,) = msg.sender.call{value: total}("");
        if (!ok) revert VerifierRegistry__TransferFailed();
    }

    // ---------------------------------------------------------------- views

    /// @notice The counted stake behind `signers` and of the whole active set.
    /// @return signed Sum of the signers' counted stake (Active signers only).
    /// @return total Counted stake of the active set.
    /// @return allActive Whether every signer is Active.
    function attestingStake(address[] calldata signers)
        external
        view
        returns (uint256 signed, uint256 total, bool allActive)
    {
        allActive = true;
        for (uint256 i; i < signers.length; ++i) {
            Verifier storage v = _verifiers[signers[i]];
            if (v.status == Status.Active) signed += v.stake;
            else allActive = false;
        }
        total = _activeStake;
    }

    /// @notice Counted stake a quorum needs now: two thirds of the active stake, rounded up.
    function quorumStake() external view returns (uint256) {
        return (2 * _activeStake + 2) / 3;
    }

    /// @notice Whether `verifier`'s stake counts in quorums.
    function isActive(address verifier) external view returns (bool) {
        return _verifiers[verifier].status == Status.Active;
    }

    /// @notice A verifier's counted stake, pending stake, next time (activation or withdrawal) and status.
    function verifierInfo(address verifier)
        external
        view
        returns (uint256 stake, uint256 pending, uint256 readyAt, Status status)
    {
        Verifier memory v = _verifiers[verifier];
        return (v.stake, v.pending, v.readyAt, v.status);
    }

    /// @notice Number of active verifiers.
    function activeCount() external view returns (uint256) {
        return _activeCount;
    }

    /// @notice Sum of the active verifiers' counted stake.
    function activeStake() external view returns (uint256) {
        return _activeStake;
    }

    /// @notice Sum of all verifier stakes held (counted, pending and unbonding).
    function totalStaked() external view returns (uint256) {
        return _totalStaked;
    }

    /// @notice The registry's parameters.
    function config()
        external
        view
        returns (uint96 minStake, uint32 unbondingPeriod, uint32 activationDelay, uint16 penaltyBps)
    {
        return (_minStake, _unbondingPeriod, _activationDelay, _penaltyBps);
    }

    // ------------------------------------------------------------- internals

    function _leaveActiveSet(Verifier storage v) private {
        _activeStake -= v.stake;
        --_activeCount;
    }
}
