// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {LicenseStatus} from "./lib/OMLTypes.sol";
import {TypedData} from "./lib/TypedData.sol";
import {ClaimManagerBound} from "./lib/ClaimManagerBound.sol";
import {IModelRegistry, ILicenseManager} from "./interfaces/IOML.sol";

/// @title UsageSettlement
/// @notice Fee escrow per license and revenue per model. The permission signer signs cumulative
/// UsageVouchers (RAV-style): settling one pays only the difference to the last settled voucher
/// from the license's escrow into the model's revenue, which owners withdraw pro rata (pull).
/// What the escrow cannot cover is taken from the license's stake (LicenseManager.collectFees);
/// what the stake cannot cover either is recorded as unpaid, and the voucher still settles, so
/// the owners get everything that exists and a host cannot block its own settlement. Once a host
/// asks to exit, the permission signer closes the account with a UsageClosure over every σ it
/// issued (all settled by then); only then may the host take its stake back at the end of the
/// unbonding (LicenseManager.withdraw), or a second unbonding later if the account was never closed.
contract UsageSettlement is TypedData, ClaimManagerBound {
    error UsageSettlement__NotPermissionSigner(address signer);
    error UsageSettlement__VoucherNotNewer(uint256 settledQueries, uint256 cumulativeQueries);
    error UsageSettlement__FeeDecreased(uint256 settledFee, uint256 cumulativeFee);
    error UsageSettlement__FeeTooLarge(uint256 cumulativeFee);
    error UsageSettlement__QuotaExceeded(uint256 quota, uint256 cumulativeQueries);
    error UsageSettlement__NotActive(uint256 licenseId);
    error UsageSettlement__Expired(uint256 licenseId, uint256 expiresAt);
    error UsageSettlement__NotHost(uint256 licenseId, address caller);
    error UsageSettlement__NotExited(uint256 licenseId);
    error UsageSettlement__NotExiting(uint256 licenseId);
    error UsageSettlement__AccountClosed(uint256 licenseId);
    error UsageSettlement__UsageNotSettled(uint64 settledQueries, uint64 cumulativeQueries);
    error UsageSettlement__NotClaimManager(address caller);
    error UsageSettlement__NotAnOwner(uint256 modelId, address caller);
    error UsageSettlement__NothingToWithdraw();
    error UsageSettlement__ZeroValue();
    error UsageSettlement__TransferFailed();
    error UsageSettlement__WiredElsewhere(address licenseManager, address usageSettlement);
    error UsageSettlement__UnexpectedPayment(address from);

    event EscrowDeposited(uint256 indexed licenseId, address indexed from, uint256 amount, uint256 escrow);
    event EscrowWithdrawn(uint256 indexed licenseId, address indexed host, uint256 amount);
    event VoucherSettled(
        uint256 indexed licenseId, uint256 indexed modelId, uint64 cumulativeQueries, uint256 cumulativeFee,
        uint256 paid, bytes32 usageRoot
    );
    /// @notice A voucher owed more than the escrow left: `fromEscrow` came from the escrow,
    /// `fromStake` from the license's stake, and `unpaid` (what the stake could not cover) is owed
    /// still. VoucherSettled's `paid` is fromEscrow + fromStake.
    event FeesCollectedFromStake(
        uint256 indexed licenseId, uint256 indexed modelId, uint256 fromEscrow, uint256 fromStake, uint256 unpaid
    );
    /// @notice The permission signer declared `cumulativeQueries` all the σ the license was ever
    /// issued, all settled: no voucher settles after this, and the host may withdraw its stake.
    event UsageClosed(uint256 indexed licenseId, uint256 indexed modelId, uint64 cumulativeQueries);
    event RevenueDeposited(uint256 indexed modelId, address indexed from, uint256 amount);
    event RevenueWithdrawn(uint256 indexed modelId, address indexed owner, uint256 amount);

    bytes32 public constant USAGE_VOUCHER_TYPEHASH =
        keccak256("UsageVoucher(uint256 licenseId,uint64 cumulativeQueries,uint256 cumulativeFee,bytes32 usageRoot)");

    bytes32 public constant USAGE_CLOSURE_TYPEHASH =
        keccak256("UsageClosure(uint256 licenseId,uint64 cumulativeQueries)");

    /// @dev One slot per license: what was settled so far and the escrow left.
    struct Account {
        uint64 settledQueries;
        uint96 settledFee;
        uint96 escrow;
    }

    IModelRegistry private immutable _registry;
    ILicenseManager private immutable _licenses;
    mapping(uint256 => Account) private _accounts;
    mapping(uint256 => uint256) private _accrued;
    mapping(uint256 => mapping(address => uint256)) private _withdrawn;
    mapping(uint256 => uint256) private _unpaid;
    mapping(uint256 => bool) private _closed;

    /// @param claimManager_ The ClaimManager that deposits slashed stake as revenue.
    /// @param licenses_ The LicenseManager, deployed just before this contract with this
    /// contract's predicted address: it must name this contract as the one that collects fees.
    constructor(IModelRegistry registry_, ILicenseManager licenses_, address claimManager_)
        ClaimManagerBound(claimManager_)
    {
        address named = licenses_.usageSettlement();
        if (named != address(this)) revert UsageSettlement__WiredElsewhere(address(licenses_), named);
        _registry = registry_;
        _licenses = licenses_;
    }

    /// @dev Only the LicenseManager sends ETH here, when it hands over fees taken from a stake.
    receive() external payable {
        if (msg.sender != address(_licenses)) revert UsageSettlement__UnexpectedPayment(msg.sender);
    }

    /// @notice Adds `msg.value` to the fee escrow of an active, unexpired license.
    /// @dev An expired license gets no more σ, so escrow paid into it could only be withdrawn again.
    function depositEscrow(uint256 licenseId) external payable {
        if (msg.value == 0) revert UsageSettlement__ZeroValue();
        (LicenseStatus status, uint256 expiresAt) = _licenses.lifecycle(licenseId);
        if (status != LicenseStatus.Active) revert UsageSettlement__NotActive(licenseId);
        if (block.timestamp >= expiresAt) revert UsageSettlement__Expired(licenseId, expiresAt);
        Account storage a = _accounts[licenseId];
        uint256 escrow = a.escrow + msg.value;
        a.escrow = uint96(escrow);
        emit EscrowDeposited(licenseId, msg.sender, msg.value, escrow);
    }

    /// @notice Returns what is left of the escrow to the host once the license has exited.
    function withdrawEscrow(uint256 licenseId) external {
        (,, LicenseStatus status, address host) = _licenses.usageInfo(licenseId);
        if (msg.sender != host) revert UsageSettlement__NotHost(licenseId, msg.sender);
        if (status != LicenseStatus.Exited) revert UsageSettlement__NotExited(licenseId);
        Account storage a = _accounts[licenseId];
        uint256 amount = a.escrow;
        if (amount == 0) revert UsageSettlement__NothingToWithdraw();
        a.escrow = 0;
        emit EscrowWithdrawn(licenseId, host, amount);
        (bool ok,) = host.call{value: amount}("");
        if (!ok) revert UsageSettlement__TransferFailed();
    }

    /// @notice Settles a cumulative voucher signed by the model's permission signer. Anyone may call.
    /// The fees it adds are paid from the license's escrow; what the escrow lacks is taken from
    /// the license's stake, and what the stake lacks too is recorded as unpaid (never a revert).
    /// @param licenseId The license whose usage is settled.
    /// @param cumulativeQueries All σ issued to the license so far.
    /// @param cumulativeFee All fees owed by the license so far.
    /// @param usageRoot Merkle root of every σ counted (audit trail; emitted, not stored).
    /// @param signature The permission signer's EIP-712 signature of the voucher.
    function settle(
        uint256 licenseId,
        uint64 cumulativeQueries,
        uint256 cumulativeFee,
        bytes32 usageRoot,
        bytes calldata signature
    ) external {
        bytes32 digest = _digest(
            keccak256(abi.encode(USAGE_VOUCHER_TYPEHASH, licenseId, cumulativeQueries, cumulativeFee, usageRoot))
        );
        address signer = _recover(digest, signature);
        (uint256 modelId, uint64 quota,,) = _licenses.usageInfo(licenseId);
        if (!_registry.isPermissionSigner(modelId, signer, uint64(block.timestamp))) {
            revert UsageSettlement__NotPermissionSigner(signer);
        }
        if (_closed[licenseId]) revert UsageSettlement__AccountClosed(licenseId);
        if (quota != 0 && cumulativeQueries > quota) revert UsageSettlement__QuotaExceeded(quota, cumulativeQueries);
        if (cumulativeFee > type(uint96).max) revert UsageSettlement__FeeTooLarge(cumulativeFee);

        Account memory a = _accounts[licenseId];
        if (cumulativeQueries <= a.settledQueries) {
            revert UsageSettlement__VoucherNotNewer(a.settledQueries, cumulativeQueries);
        }
        if (cumulativeFee < a.settledFee) revert UsageSettlement__FeeDecreased(a.settledFee, cumulativeFee);
        uint256 due = cumulativeFee - a.settledFee;
        uint256 paid = due;
        if (due <= a.escrow) {
            // due <= escrow, checked above.
            unchecked {
                _accounts[licenseId] = Account(cumulativeQueries, uint96(cumulativeFee), uint96(a.escrow - due));
            }
        } else {
            // The escrow is spent before the stake is asked (checks-effects-interactions).
            _accounts[licenseId] = Account(cumulativeQueries, uint96(cumulativeFee), 0);
            paid = a.escrow + _collectFromStake(licenseId, modelId, a.escrow, due - a.escrow);
        }
        _accrued[modelId] += paid;
        emit VoucherSettled(licenseId, modelId, cumulativeQueries, cumulativeFee, paid, usageRoot);
    }

    /// @notice Closes the usage account of an exiting license: the permission signer declares that
    /// `cumulativeQueries` is every σ it issued to the license (it issues none once the host asked
    /// to exit) and they are all settled. Anyone may send it; LicenseManager.withdraw waits for it.
    /// @dev One signature per license can only ever close it at the count settled when it was signed,
    /// so an old closure cannot pass over vouchers settled later, nor a later one over unsettled σ.
    /// @param signature The permission signer's EIP-712 UsageClosure signature.
    function close(uint256 licenseId, uint64 cumulativeQueries, bytes calldata signature) external {
        bytes32 digest = _digest(keccak256(abi.encode(USAGE_CLOSURE_TYPEHASH, licenseId, cumulativeQueries)));
        address signer = _recover(digest, signature);
        (uint256 modelId,, LicenseStatus status,) = _licenses.usageInfo(licenseId);
        if (!_registry.isPermissionSigner(modelId, signer, uint64(block.timestamp))) {
            revert UsageSettlement__NotPermissionSigner(signer);
        }
        if (status != LicenseStatus.Exiting && status != LicenseStatus.Exited) {
            revert UsageSettlement__NotExiting(licenseId);
        }
        if (_closed[licenseId]) revert UsageSettlement__AccountClosed(licenseId);
        uint64 settled = _accounts[licenseId].settledQueries;
        if (cumulativeQueries != settled) revert UsageSettlement__UsageNotSettled(settled, cumulativeQueries);
        _closed[licenseId] = true;
        emit UsageClosed(licenseId, modelId, cumulativeQueries);
    }

    /// @notice Adds slashed stake to a model's revenue. ClaimManager only.
    function depositRevenue(uint256 modelId) external payable {
        if (msg.sender != _claimManager) revert UsageSettlement__NotClaimManager(msg.sender);
        _accrued[modelId] += msg.value;
        emit RevenueDeposited(modelId, msg.sender, msg.value);
    }

    /// @notice Pays the caller's pro-rata share of the model's revenue not yet withdrawn.
    function withdrawRevenue(uint256 modelId) external returns (uint256 amount) {
        amount = withdrawable(modelId, msg.sender);
        if (amount == 0) revert UsageSettlement__NothingToWithdraw();
        _withdrawn[modelId][msg.sender] += amount;
        emit RevenueWithdrawn(modelId, msg.sender, amount);
        (bool ok,) = msg.sender.call{value: amount}("");
        if (!ok) revert UsageSettlement__TransferFailed();
    }

    // ---------------------------------------------------------------- views

    /// @notice What `owner` can withdraw from `modelId`'s revenue now.
    /// @dev Shares round down, so the sum over owners never exceeds what accrued.
    function withdrawable(uint256 modelId, address owner) public view returns (uint256) {
        (uint256 shares, uint256 total) = _registry.sharesOf(modelId, owner);
        if (shares == 0) revert UsageSettlement__NotAnOwner(modelId, owner);
        return _accrued[modelId] * shares / total - _withdrawn[modelId][owner];
    }

    /// @notice Settled usage and escrow of a license.
    function account(uint256 licenseId)
        external
        view
        returns (uint64 settledQueries, uint256 settledFee, uint256 escrow)
    {
        Account memory a = _accounts[licenseId];
        return (a.settledQueries, a.settledFee, a.escrow);
    }

    /// @notice Fees settled vouchers of `licenseId` owed that neither its escrow nor its stake covered.
    function unpaidFees(uint256 licenseId) external view returns (uint256) {
        return _unpaid[licenseId];
    }

    /// @notice Whether the permission signer closed the license's usage account (see close).
    function accountClosed(uint256 licenseId) external view returns (bool) {
        return _closed[licenseId];
    }

    /// @notice All revenue ever credited to `modelId`.
    function accruedRevenue(uint256 modelId) external view returns (uint256) {
        return _accrued[modelId];
    }

    /// @notice Revenue `owner` has withdrawn from `modelId`.
    function withdrawnBy(uint256 modelId, address owner) external view returns (uint256) {
        return _withdrawn[modelId][owner];
    }

    /// @notice The contracts this one reads (besides its ClaimManager).
    function wiring() external view returns (address registry, address licenseManager) {
        return (address(_registry), address(_licenses));
    }

    // ------------------------------------------------------------- internals

    /// @dev Takes `rest` (the part of a voucher's fees the escrow lacked) from the license's stake,
    /// records what the stake lacked too, and returns what was collected.
    function _collectFromStake(uint256 licenseId, uint256 modelId, uint256 fromEscrow, uint256 rest)
        private
        returns (uint256 collected)
    {
        collected = _licenses.collectFees(licenseId, rest);
        uint256 unpaid = rest - collected;
        if (unpaid != 0) _unpaid[licenseId] += unpaid;
        emit FeesCollectedFromStake(licenseId, modelId, fromEscrow, collected, unpaid);
    }
}
