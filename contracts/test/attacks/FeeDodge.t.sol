// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {OMLFixture} from "../base/OMLFixture.sol";
import {ClaimManager} from "../../src/ClaimManager.sol";
import {LicenseManager} from "../../src/LicenseManager.sol";
import {UsageSettlement} from "../../src/UsageSettlement.sol";

/// @dev Issue 13, item 4: "fees cannot be dodged". The host funds 0.001 ETH of escrow (one σ at
/// the fixture's 0.001 ETH price), uses 100 σ, and exits. Before the fix `settle` paid all or
/// nothing: the 0.1 ETH voucher reverted UsageSettlement__InsufficientEscrow, the host waited out
/// its unbonding, withdrew its whole stake and the escrow, and the owners got nothing for 99 σ.
/// Now a voucher takes what the escrow lacks from the license's stake (LicenseManager.collectFees),
/// so the permission service settling the last voucher during the unbonding (it does so on
/// ExitRequested) leaves the host nothing to walk away with; and a stake too small still pays all
/// it has, the rest recorded as unpaid.
contract FeeDodgeAttackTest is OMLFixture {
    bytes32 internal constant ROOT = keccak256("usage-root of 100 sigma");
    uint256 internal constant ESCROW = 0.001 ether;
    uint64 internal constant USED = 100;

    function setUp() public override {
        super.setUp();
        vm.prank(host);
        usage.depositEscrow{value: ESCROW}(licenseId);
    }

    function fee(uint64 queries) internal view returns (uint256) {
        return uint256(queries) * terms.pricePerQuery;
    }

    function settleVoucher(uint64 queries) internal {
        bytes memory sig = voucherSig(SIGNER_PK, licenseId, queries, fee(queries), ROOT);
        usage.settle(licenseId, queries, fee(queries), ROOT, sig);
    }

    function ownersRevenue() internal view returns (uint256) {
        return usage.withdrawable(modelId, ownerA) + usage.withdrawable(modelId, ownerB);
    }

    /// @dev The attack of the issue, step by step: it now costs the host every fee it owes.
    function test_feeDodge_exitAfterHundredSigma_paysFromStake() public {
        uint256 hostBefore = host.balance + ESCROW + 10 ether; // what it put in, counted back
        uint256 due = fee(USED);
        vm.assertEq(due, 0.1 ether);
        vm.assertGt(due, ESCROW);

        vm.prank(host);
        licenses.requestExit(licenseId);
        uint256 unbondAt = block.timestamp + terms.unbondingPeriod;
        // The permission service sees ExitRequested and settles the final voucher (anyone may).
        vm.prank(address(0x5E771E));
        settleVoucher(USED);
        closeUsage(licenseId);

        (,, uint256 escrowLeft) = usage.account(licenseId);
        vm.assertEq(escrowLeft, 0);
        vm.assertEq(uint256(licenses.getLicense(licenseId).stake), 10 ether - (due - ESCROW), "rest from stake");
        vm.assertEq(usage.unpaidFees(licenseId), 0);
        vm.assertEq(usage.accruedRevenue(modelId), due, "the owners are paid in full");

        // The host cannot leave early, and after unbonding gets only its stake less the fees.
        vm.prank(host);
        vm.expectRevert(
            abi.encodeWithSelector(LicenseManager.LicenseManager__StillUnbonding.selector, licenseId, unbondAt)
        );
        licenses.withdraw(licenseId);
        vm.warp(block.timestamp + terms.unbondingPeriod);
        vm.prank(host);
        licenses.withdraw(licenseId);
        vm.prank(host);
        vm.expectRevert(abi.encodeWithSelector(UsageSettlement.UsageSettlement__NothingToWithdraw.selector));
        usage.withdrawEscrow(licenseId);
        vm.assertEq(host.balance, hostBefore - due, "the host paid exactly its fees");

        // Everything owed reaches the owners' pockets.
        uint256 a = ownerA.balance;
        uint256 b = ownerB.balance;
        vm.prank(ownerA);
        usage.withdrawRevenue(modelId);
        vm.prank(ownerB);
        usage.withdrawRevenue(modelId);
        vm.assertEq(ownerA.balance + ownerB.balance - a - b, due);
        vm.assertEq(address(licenses).balance, 0);
        vm.assertEq(address(usage).balance, 0);
    }

    /// @dev The host exits and tries to withdraw at the end of the unbonding, before the permission
    /// service settled its last voucher (it was slow, or down): the stake stays until the account
    /// is closed, and the late voucher still takes its fees from it.
    function test_feeDodge_withdrawBeforeTheLastVoucherIsSettled_waits() public {
        vm.prank(host);
        licenses.requestExit(licenseId);
        uint256 unbondAt = block.timestamp + terms.unbondingPeriod;
        vm.warp(unbondAt);
        vm.prank(host);
        vm.expectRevert(
            abi.encodeWithSelector(
                LicenseManager.LicenseManager__UsageNotClosed.selector, licenseId, unbondAt + terms.unbondingPeriod
            )
        );
        licenses.withdraw(licenseId);
        // A closure signed over fewer σ than the vouchers owe cannot be used by the host either.
        bytes memory stale = closureSig(SIGNER_PK, licenseId, 0);
        settleVoucher(USED);
        vm.expectRevert(
            abi.encodeWithSelector(UsageSettlement.UsageSettlement__UsageNotSettled.selector, USED, uint64(0))
        );
        usage.close(licenseId, 0, stale);
        closeUsage(licenseId);
        uint256 before = host.balance;
        vm.prank(host);
        licenses.withdraw(licenseId);
        vm.assertEq(host.balance - before, 10 ether - (fee(USED) - ESCROW), "the host paid its fees first");
        vm.assertEq(usage.accruedRevenue(modelId), fee(USED));
    }

    /// @dev Settling while the license is still Active works the same: the escrow is no cap.
    function test_feeDodge_activeLicense_voucherBeyondEscrowSettles() public {
        settleVoucher(USED);
        vm.assertEq(usage.accruedRevenue(modelId), fee(USED));
        vm.assertEq(uint256(licenses.getLicense(licenseId).stake), 10 ether - fee(USED) + ESCROW);
        // ... and the next voucher pays only its difference, again from the stake.
        settleVoucher(2 * USED);
        vm.assertEq(usage.accruedRevenue(modelId), fee(2 * USED));
        vm.assertEq(uint256(licenses.getLicense(licenseId).stake), 10 ether - fee(2 * USED) + ESCROW);
    }

    /// @dev A stake too small for the voucher: settle does not revert, takes everything there is
    /// (escrow and whole stake) and records the shortfall, so nothing is left for the host.
    function test_feeDodge_stakeTooSmall_takesAllAndRecordsShortfall() public {
        uint64 huge = 20_000; // 20 ETH of fees against 0.001 ETH escrow and 10 ETH stake
        vm.prank(host);
        licenses.requestExit(licenseId);
        expectShortfall(fee(huge) - ESCROW - 10 ether);
        settleVoucher(huge);
        vm.assertEq(usage.accruedRevenue(modelId), ESCROW + 10 ether, "the owners get everything that exists");
        vm.assertEq(usage.unpaidFees(licenseId), fee(huge) - ESCROW - 10 ether);
        vm.assertEq(uint256(licenses.getLicense(licenseId).stake), 0);
        closeUsage(licenseId);
        vm.warp(block.timestamp + terms.unbondingPeriod);
        uint256 before = host.balance;
        vm.prank(host);
        licenses.withdraw(licenseId);
        vm.assertEq(host.balance, before, "the host walks away with nothing");
    }

    /// @dev Fees come before claims: a claim pending against the fee dodger reserved half the
    /// stake; the fees are taken first and the claim gets what is left (never more than exists).
    function test_feeDodge_feesBeforePendingSlash() public {
        (uint256 id, ClaimManager.ClaimRecord memory r) = openClaimOn(0);
        vm.assertEq(r.slashAmount, 5 ether);
        uint64 big = 8_000; // 8 ETH of fees
        settleVoucher(big);
        uint256 stakeLeft = 10 ether - (fee(big) - ESCROW);
        vm.assertEq(uint256(licenses.getLicense(licenseId).stake), stakeLeft);
        vm.assertLt(stakeLeft, r.slashAmount);
        vm.warp(r.deadline);
        claims.execute(id, r);
        vm.assertEq(uint256(licenses.getLicense(licenseId).stake), 0, "the claim took the rest");
        vm.assertEq(usage.unpaidFees(licenseId), 0);
        // Owners: every fee plus the slash less the claimant's reward (capped at what was slashed).
        uint256 reward = r.reward < stakeLeft ? r.reward : stakeLeft;
        vm.assertEq(usage.accruedRevenue(modelId), fee(big) + stakeLeft - reward);
        vm.assertEq(address(licenses).balance, 0);
    }

    /// @dev Only UsageSettlement may take fees from a stake; the host cannot fake a payment in.
    function test_feeDodge_onlyUsageSettlementCollects() public {
        vm.prank(host);
        vm.expectRevert(abi.encodeWithSelector(LicenseManager.LicenseManager__NotUsageSettlement.selector, host));
        licenses.collectFees(licenseId, 10 ether);
        vm.deal(host, host.balance + 1 ether);
        vm.prank(host);
        vm.expectRevert(abi.encodeWithSelector(UsageSettlement.UsageSettlement__UnexpectedPayment.selector, host));
        (bool ok,) = address(usage).call{value: 1 ether}("");
        vm.assertTrue(ok, "expectRevert reports the expected revert as success");
    }

    function expectShortfall(uint256 unpaid) internal {
        vm.expectEmit(true, true, false, true);
        emit UsageSettlement.FeesCollectedFromStake(licenseId, modelId, ESCROW, 10 ether, unpaid);
    }
}
