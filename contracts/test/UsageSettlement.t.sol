// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {UnitHelpers, Actor} from "./base/UnitHelpers.sol";
import {UsageSettlement} from "../src/UsageSettlement.sol";
import {LicenseManager} from "../src/LicenseManager.sol";
import {ModelRegistry} from "../src/ModelRegistry.sol";
import {ClaimManagerBound} from "../src/lib/ClaimManagerBound.sol";
import {TypedData} from "../src/lib/TypedData.sol";
import {Terms} from "../src/lib/OMLTypes.sol";
import {IModelRegistry, ILicenseManager} from "../src/interfaces/IOML.sol";

contract UsageSettlementTest is UnitHelpers {
    address internal other = address(0x0123);
    bytes32 internal constant ROOT = keccak256("usage-root");

    // ------------------------------------------------------------------ helpers

    function deposit(uint256 amount) internal {
        vm.prank(host);
        usage.depositEscrow{value: amount}(licenseId);
    }

    function settleBy(uint256 pk, uint64 queries, uint256 fee) internal {
        bytes memory sig = voucherSig(pk, licenseId, queries, fee, ROOT);
        usage.settle(licenseId, queries, fee, ROOT, sig);
    }

    function voucherDigest(uint256 lic, uint64 queries, uint256 fee, bytes32 root) internal view returns (bytes32) {
        bytes32 structHash = keccak256(abi.encode(usage.USAGE_VOUCHER_TYPEHASH(), lic, queries, fee, root));
        return keccak256(abi.encodePacked(hex"1901", usage.domainSeparator(), structHash));
    }

    function exitLicense() internal {
        vm.prank(host);
        licenses.requestExit(licenseId);
        closeUsage(licenseId);
        vm.warp(block.timestamp + terms.unbondingPeriod);
        vm.prank(host);
        licenses.withdraw(licenseId);
    }

    function depositRevenue(uint256 model, uint256 amount) internal {
        vm.deal(address(claims), amount);
        vm.prank(address(claims));
        usage.depositRevenue{value: amount}(model);
    }

    function expectBadSignature() internal {
        vm.expectRevert(abi.encodeWithSelector(TypedData.TypedData__BadSignature.selector));
    }

    // -------------------------------------------------------------- constructor

    /// @dev A LicenseManager that names the UsageSettlement this contract creates next.
    function licensesForNext() internal returns (LicenseManager) {
        address next = vm.computeCreateAddress(address(this), vm.getNonce(address(this)) + 1);
        return new LicenseManager(IModelRegistry(address(registry)), address(claims), next);
    }

    function test_constructor_storesClaimManagerAndWiring() public {
        LicenseManager lm = licensesForNext();
        UsageSettlement u =
            new UsageSettlement(IModelRegistry(address(registry)), ILicenseManager(address(lm)), address(0xC0FFEE));
        vm.assertEq(u.claimManager(), address(0xC0FFEE));
        vm.assertEq(lm.usageSettlement(), address(u));
        (address r, address l) = u.wiring();
        vm.assertEq(r, address(registry));
        vm.assertEq(l, address(lm));
    }

    function test_RevertWhen_constructor_zeroClaimManager() public {
        LicenseManager lm = licensesForNext();
        vm.expectRevert(abi.encodeWithSelector(ClaimManagerBound.ClaimManagerBound__ZeroAddress.selector));
        new UsageSettlement(IModelRegistry(address(registry)), ILicenseManager(address(lm)), address(0));
    }

    /// @dev The fixture's LicenseManager names the fixture's UsageSettlement: a second one over it
    /// (a wrong nonce prediction, or a mixed deployment) refuses to exist.
    function test_RevertWhen_constructor_licensesNameAnotherUsageSettlement() public {
        vm.expectRevert(
            abi.encodeWithSelector(
                UsageSettlement.UsageSettlement__WiredElsewhere.selector, address(licenses), address(usage)
            )
        );
        new UsageSettlement(IModelRegistry(address(registry)), ILicenseManager(address(licenses)), address(claims));
    }

    function test_RevertWhen_constructor_licensesNameNoUsageSettlement() public {
        LicenseManager lm = new LicenseManager(IModelRegistry(address(registry)), address(claims), address(0));
        vm.expectRevert(
            abi.encodeWithSelector(UsageSettlement.UsageSettlement__WiredElsewhere.selector, address(lm), address(0))
        );
        new UsageSettlement(IModelRegistry(address(registry)), ILicenseManager(address(lm)), address(claims));
    }

    // ------------------------------------------------------------------ receive

    function test_RevertWhen_receive_notLicenseManager() public {
        address[3] memory senders = [host, address(claims), admin];
        for (uint256 i; i < 3; ++i) {
            vm.deal(senders[i], 1 ether);
            vm.prank(senders[i]);
            vm.expectRevert(
                abi.encodeWithSelector(UsageSettlement.UsageSettlement__UnexpectedPayment.selector, senders[i])
            );
            (bool ok,) = address(usage).call{value: 1 ether}("");
            vm.assertTrue(ok, "expectRevert reports the expected revert as success");
        }
        vm.assertEq(address(usage).balance, 0);
    }

    // ------------------------------------------------------------ depositEscrow

    function test_depositEscrow_addsToEscrow() public {
        vmx.expectEmit(address(usage));
        emit UsageSettlement.EscrowDeposited(licenseId, host, 1 ether, 1 ether);
        deposit(1 ether);
        vm.deal(other, 2 ether);
        vmx.expectEmit(address(usage));
        emit UsageSettlement.EscrowDeposited(licenseId, other, 2 ether, 3 ether);
        vm.prank(other);
        usage.depositEscrow{value: 2 ether}(licenseId);
        (uint64 q, uint256 fee, uint256 escrow) = usage.account(licenseId);
        vm.assertEq(uint256(q), 0);
        vm.assertEq(fee, 0);
        vm.assertEq(escrow, 3 ether);
        vm.assertEq(address(usage).balance, 3 ether);
    }

    function test_RevertWhen_depositEscrow_zero() public {
        vm.prank(host);
        vm.expectRevert(abi.encodeWithSelector(UsageSettlement.UsageSettlement__ZeroValue.selector));
        usage.depositEscrow(licenseId);
    }

    function test_RevertWhen_depositEscrow_notActive() public {
        vm.prank(host);
        licenses.requestExit(licenseId);
        vm.prank(host);
        vm.expectRevert(abi.encodeWithSelector(UsageSettlement.UsageSettlement__NotActive.selector, licenseId));
        usage.depositEscrow{value: 1 ether}(licenseId);
    }

    function test_RevertWhen_depositEscrow_expired() public {
        (, uint256 expiresAt) = licenses.lifecycle(licenseId);
        vm.warp(expiresAt - 1);
        vm.prank(host);
        usage.depositEscrow{value: 1 ether}(licenseId); // the last second still counts
        vm.warp(expiresAt);
        vm.prank(host);
        vm.expectRevert(abi.encodeWithSelector(UsageSettlement.UsageSettlement__Expired.selector, licenseId, expiresAt));
        usage.depositEscrow{value: 1 ether}(licenseId);
    }

    function test_RevertWhen_depositEscrow_unknownLicense() public {
        vm.prank(host);
        vm.expectRevert(abi.encodeWithSelector(LicenseManager.LicenseManager__UnknownLicense.selector, 9));
        usage.depositEscrow{value: 1 ether}(9);
    }

    // ----------------------------------------------------------- withdrawEscrow

    function test_withdrawEscrow_returnsRestAfterExit() public {
        deposit(1 ether);
        settleBy(SIGNER_PK, 300, 0.3 ether);
        exitLicense();
        uint256 before = host.balance;
        vmx.expectEmit(address(usage));
        emit UsageSettlement.EscrowWithdrawn(licenseId, host, 0.7 ether);
        vm.prank(host);
        usage.withdrawEscrow(licenseId);
        vm.assertEq(host.balance, before + 0.7 ether);
        (,, uint256 escrow) = usage.account(licenseId);
        vm.assertEq(escrow, 0);
        vm.assertEq(address(usage).balance, 0.3 ether);
    }

    function test_RevertWhen_withdrawEscrow_notHost() public {
        deposit(1 ether);
        exitLicense();
        vm.prank(other);
        vm.expectRevert(abi.encodeWithSelector(UsageSettlement.UsageSettlement__NotHost.selector, licenseId, other));
        usage.withdrawEscrow(licenseId);
    }

    function test_RevertWhen_withdrawEscrow_active() public {
        deposit(1 ether);
        vm.prank(host);
        vm.expectRevert(abi.encodeWithSelector(UsageSettlement.UsageSettlement__NotExited.selector, licenseId));
        usage.withdrawEscrow(licenseId);
    }

    function test_RevertWhen_withdrawEscrow_exiting() public {
        deposit(1 ether);
        vm.prank(host);
        licenses.requestExit(licenseId);
        vm.warp(block.timestamp + 30 days);
        vm.prank(host);
        vm.expectRevert(abi.encodeWithSelector(UsageSettlement.UsageSettlement__NotExited.selector, licenseId));
        usage.withdrawEscrow(licenseId);
    }

    function test_RevertWhen_withdrawEscrow_nothingLeft() public {
        exitLicense();
        vm.prank(host);
        vm.expectRevert(abi.encodeWithSelector(UsageSettlement.UsageSettlement__NothingToWithdraw.selector));
        usage.withdrawEscrow(licenseId);
    }

    function test_RevertWhen_withdrawEscrow_twice() public {
        deposit(1 ether);
        exitLicense();
        vm.startPrank(host);
        usage.withdrawEscrow(licenseId);
        vm.expectRevert(abi.encodeWithSelector(UsageSettlement.UsageSettlement__NothingToWithdraw.selector));
        usage.withdrawEscrow(licenseId);
        vm.stopPrank();
    }

    function test_RevertWhen_withdrawEscrow_hostRejectsEth() public {
        Actor a = new Actor();
        vm.deal(address(a), 11 ether);
        (,, bytes32 th) = registry.currentTerms(modelId);
        bytes memory acq = abi.encodeCall(LicenseManager.acquireLicense, (modelId, ENDPOINT, th, gateway));
        uint256 id = abi.decode(a.exec(address(licenses), 10 ether, acq), (uint256));
        a.exec(address(usage), 1 ether, abi.encodeCall(UsageSettlement.depositEscrow, (id)));
        a.exec(address(licenses), 0, abi.encodeCall(LicenseManager.requestExit, (id)));
        closeUsage(id);
        vm.warp(block.timestamp + terms.unbondingPeriod);
        a.exec(address(licenses), 0, abi.encodeCall(LicenseManager.withdraw, (id)));
        a.setReject(true);
        vm.expectRevert(abi.encodeWithSelector(UsageSettlement.UsageSettlement__TransferFailed.selector));
        a.exec(address(usage), 0, abi.encodeCall(UsageSettlement.withdrawEscrow, (id)));
    }

    // ------------------------------------------------------------------- settle

    function test_settle_movesDueFromEscrowToRevenue() public {
        deposit(1 ether);
        bytes memory sig = voucherSig(SIGNER_PK, licenseId, 10, 0.01 ether, ROOT);
        vmx.expectEmit(address(usage));
        emit UsageSettlement.VoucherSettled(licenseId, modelId, 10, 0.01 ether, 0.01 ether, ROOT);
        vm.prank(other);
        usage.settle(licenseId, 10, 0.01 ether, ROOT, sig);
        (uint64 q, uint256 fee, uint256 escrow) = usage.account(licenseId);
        vm.assertEq(uint256(q), 10);
        vm.assertEq(fee, 0.01 ether);
        vm.assertEq(escrow, 0.99 ether);
        vm.assertEq(usage.accruedRevenue(modelId), 0.01 ether);
        vm.assertEq(address(usage).balance, 1 ether);
    }

    function test_settle_secondVoucherPaysDifference() public {
        deposit(1 ether);
        settleBy(SIGNER_PK, 10, 0.01 ether);
        bytes memory sig = voucherSig(SIGNER_PK, licenseId, 25, 0.025 ether, ROOT);
        vmx.expectEmit(address(usage));
        emit UsageSettlement.VoucherSettled(licenseId, modelId, 25, 0.025 ether, 0.015 ether, ROOT);
        usage.settle(licenseId, 25, 0.025 ether, ROOT, sig);
        (,, uint256 escrow) = usage.account(licenseId);
        vm.assertEq(escrow, 0.975 ether);
        vm.assertEq(usage.accruedRevenue(modelId), 0.025 ether);
    }

    function test_settle_sameFeeMoreQueriesPaysNothing() public {
        deposit(1 ether);
        settleBy(SIGNER_PK, 10, 0.01 ether);
        settleBy(SIGNER_PK, 11, 0.01 ether);
        (uint64 q,, uint256 escrow) = usage.account(licenseId);
        vm.assertEq(uint256(q), 11);
        vm.assertEq(escrow, 0.99 ether);
    }

    function test_settle_wholeEscrow() public {
        deposit(1 ether);
        settleBy(SIGNER_PK, 1000, 1 ether);
        (,, uint256 escrow) = usage.account(licenseId);
        vm.assertEq(escrow, 0);
        vm.assertEq(usage.accruedRevenue(modelId), 1 ether);
    }

    function test_settle_exactQuota() public {
        deposit(1 ether);
        settleBy(SIGNER_PK, 1_000_000, 1 ether);
        (uint64 q,,) = usage.account(licenseId);
        vm.assertEq(uint256(q), 1_000_000);
    }

    function test_settle_unlimitedQuota() public {
        Terms memory t = copyTerms();
        t.quota = 0;
        vm.prank(admin);
        registry.updateTerms(modelId, t);
        uint256 id = acquire(host, 10 ether);
        bytes memory sig = voucherSig(SIGNER_PK, id, type(uint64).max, 0, ROOT);
        usage.settle(id, type(uint64).max, 0, ROOT, sig);
        (uint64 q,,) = usage.account(id);
        vm.assertEq(uint256(q), type(uint64).max);
    }

    function test_settle_whileExiting() public {
        deposit(1 ether);
        vm.prank(host);
        licenses.requestExit(licenseId);
        settleBy(SIGNER_PK, 5, 0.5 ether);
        vm.assertEq(usage.accruedRevenue(modelId), 0.5 ether);
    }

    function test_settle_newSignerAfterRotation() public {
        deposit(1 ether);
        uint256 newPk = 0x5152;
        vm.prank(admin);
        registry.proposeSigner(modelId, vm.addr(newPk));
        vm.warp(block.timestamp + 1 days);
        settleBy(newPk, 10, 0.1 ether);
        vm.assertEq(usage.accruedRevenue(modelId), 0.1 ether);
    }

    function test_RevertWhen_settle_oldSignerAfterRotation() public {
        deposit(1 ether);
        vm.prank(admin);
        registry.proposeSigner(modelId, vm.addr(0x5152));
        vm.warp(block.timestamp + 1 days);
        bytes memory sig = voucherSig(SIGNER_PK, licenseId, 10, 0.1 ether, ROOT);
        vm.expectRevert(abi.encodeWithSelector(UsageSettlement.UsageSettlement__NotPermissionSigner.selector, signer));
        usage.settle(licenseId, 10, 0.1 ether, ROOT, sig);
    }

    function test_RevertWhen_settle_wrongSigner() public {
        deposit(1 ether);
        bytes memory sig = voucherSig(HOST_PK, licenseId, 10, 0.01 ether, ROOT);
        vm.expectRevert(abi.encodeWithSelector(UsageSettlement.UsageSettlement__NotPermissionSigner.selector, host));
        usage.settle(licenseId, 10, 0.01 ether, ROOT, sig);
    }

    function test_RevertWhen_settle_tamperedFee() public {
        deposit(1 ether);
        bytes memory sig = voucherSig(SIGNER_PK, licenseId, 10, 0.01 ether, ROOT);
        (bytes32 r, bytes32 s, uint8 v) = split(sig);
        address recovered = ecrecover(voucherDigest(licenseId, 10, 0.001 ether, ROOT), v, r, s);
        vm.assertTrue(recovered != signer);
        vm.expectRevert(
            abi.encodeWithSelector(UsageSettlement.UsageSettlement__NotPermissionSigner.selector, recovered)
        );
        usage.settle(licenseId, 10, 0.001 ether, ROOT, sig);
    }

    function test_RevertWhen_settle_replayed() public {
        deposit(1 ether);
        bytes memory sig = voucherSig(SIGNER_PK, licenseId, 10, 0.01 ether, ROOT);
        usage.settle(licenseId, 10, 0.01 ether, ROOT, sig);
        vm.expectRevert(abi.encodeWithSelector(UsageSettlement.UsageSettlement__VoucherNotNewer.selector, 10, 10));
        usage.settle(licenseId, 10, 0.01 ether, ROOT, sig);
    }

    function test_RevertWhen_settle_olderVoucher() public {
        deposit(1 ether);
        bytes memory older = voucherSig(SIGNER_PK, licenseId, 15, 0.015 ether, ROOT);
        settleBy(SIGNER_PK, 20, 0.02 ether);
        vm.expectRevert(abi.encodeWithSelector(UsageSettlement.UsageSettlement__VoucherNotNewer.selector, 20, 15));
        usage.settle(licenseId, 15, 0.015 ether, ROOT, older);
    }

    function test_RevertWhen_settle_zeroQueries() public {
        bytes memory sig = voucherSig(SIGNER_PK, licenseId, 0, 0, ROOT);
        vm.expectRevert(abi.encodeWithSelector(UsageSettlement.UsageSettlement__VoucherNotNewer.selector, 0, 0));
        usage.settle(licenseId, 0, 0, ROOT, sig);
    }

    function test_RevertWhen_settle_feeDecreased() public {
        deposit(1 ether);
        settleBy(SIGNER_PK, 20, 0.02 ether);
        bytes memory sig = voucherSig(SIGNER_PK, licenseId, 30, 0.01 ether, ROOT);
        vm.expectRevert(
            abi.encodeWithSelector(UsageSettlement.UsageSettlement__FeeDecreased.selector, 0.02 ether, 0.01 ether)
        );
        usage.settle(licenseId, 30, 0.01 ether, ROOT, sig);
    }

    function test_RevertWhen_settle_feeTooLarge() public {
        uint256 fee = uint256(type(uint96).max) + 1;
        bytes memory sig = voucherSig(SIGNER_PK, licenseId, 10, fee, ROOT);
        vm.expectRevert(abi.encodeWithSelector(UsageSettlement.UsageSettlement__FeeTooLarge.selector, fee));
        usage.settle(licenseId, 10, fee, ROOT, sig);
    }

    function test_RevertWhen_settle_quotaExceeded() public {
        deposit(1 ether);
        bytes memory sig = voucherSig(SIGNER_PK, licenseId, 1_000_001, 0.5 ether, ROOT);
        vm.expectRevert(
            abi.encodeWithSelector(UsageSettlement.UsageSettlement__QuotaExceeded.selector, 1_000_000, 1_000_001)
        );
        usage.settle(licenseId, 1_000_001, 0.5 ether, ROOT, sig);
    }

    // ------------------------------------------- settle beyond the escrow: the stake pays

    function test_settle_noEscrowTakesFromStake() public {
        bytes memory sig = voucherSig(SIGNER_PK, licenseId, 1, 1, ROOT);
        vmx.expectEmit(address(licenses));
        emit LicenseManager.FeesCollected(licenseId, 1, 10 ether - 1);
        vmx.expectEmit(address(usage));
        emit UsageSettlement.FeesCollectedFromStake(licenseId, modelId, 0, 1, 0);
        vmx.expectEmit(address(usage));
        emit UsageSettlement.VoucherSettled(licenseId, modelId, 1, 1, 1, ROOT);
        usage.settle(licenseId, 1, 1, ROOT, sig);
        vm.assertEq(usage.accruedRevenue(modelId), 1);
        vm.assertEq(uint256(licenses.getLicense(licenseId).stake), 10 ether - 1);
        vm.assertEq(address(usage).balance, 1);
        vm.assertEq(usage.unpaidFees(licenseId), 0);
    }

    function test_settle_escrowThenStake() public {
        deposit(1 ether);
        settleBy(SIGNER_PK, 40, 0.4 ether);
        bytes memory sig = voucherSig(SIGNER_PK, licenseId, 110, 1.1 ether, ROOT);
        vmx.expectEmit(address(usage));
        emit UsageSettlement.FeesCollectedFromStake(licenseId, modelId, 0.6 ether, 0.1 ether, 0);
        vmx.expectEmit(address(usage));
        emit UsageSettlement.VoucherSettled(licenseId, modelId, 110, 1.1 ether, 0.7 ether, ROOT);
        usage.settle(licenseId, 110, 1.1 ether, ROOT, sig);
        (uint64 q, uint256 fee, uint256 escrow) = usage.account(licenseId);
        vm.assertEq(uint256(q), 110);
        vm.assertEq(fee, 1.1 ether);
        vm.assertEq(escrow, 0);
        vm.assertEq(usage.accruedRevenue(modelId), 1.1 ether, "the owners get every fee owed");
        vm.assertEq(uint256(licenses.getLicense(licenseId).stake), 9.9 ether);
        vm.assertEq(address(usage).balance, 1.1 ether);
        vm.assertEq(address(licenses).balance, 9.9 ether);
    }

    /// @dev The stake cannot cover the rest: the voucher still settles, takes everything there
    /// is, and records (and emits) what is still owed.
    function test_settle_shortfallIsRecordedNotReverted() public {
        deposit(1 ether);
        bytes memory sig = voucherSig(SIGNER_PK, licenseId, 15_000, 15 ether, ROOT);
        vmx.expectEmit(address(licenses));
        emit LicenseManager.FeesCollected(licenseId, 10 ether, 0);
        vmx.expectEmit(address(usage));
        emit UsageSettlement.FeesCollectedFromStake(licenseId, modelId, 1 ether, 10 ether, 4 ether);
        vmx.expectEmit(address(usage));
        emit UsageSettlement.VoucherSettled(licenseId, modelId, 15_000, 15 ether, 11 ether, ROOT);
        usage.settle(licenseId, 15_000, 15 ether, ROOT, sig);
        vm.assertEq(usage.unpaidFees(licenseId), 4 ether);
        vm.assertEq(usage.accruedRevenue(modelId), 11 ether);
        vm.assertEq(uint256(licenses.getLicense(licenseId).stake), 0);
        (uint64 q, uint256 fee, uint256 escrow) = usage.account(licenseId);
        vm.assertEq(uint256(q), 15_000);
        vm.assertEq(fee, 15 ether);
        vm.assertEq(escrow, 0);
        // A later voucher finds nothing left: its whole difference is unpaid too, and adds up.
        settleBy(SIGNER_PK, 16_000, 16 ether);
        vm.assertEq(usage.unpaidFees(licenseId), 5 ether);
        vm.assertEq(usage.accruedRevenue(modelId), 11 ether);
    }

    function test_settle_fromStakeWhileExiting() public {
        deposit(0.001 ether);
        vm.prank(host);
        licenses.requestExit(licenseId);
        settleBy(SIGNER_PK, 100, 0.1 ether);
        vm.assertEq(usage.accruedRevenue(modelId), 0.1 ether);
        vm.assertEq(uint256(licenses.getLicense(licenseId).stake), 10 ether - 0.099 ether);
        closeUsage(licenseId);
        vm.warp(block.timestamp + terms.unbondingPeriod);
        uint256 before = host.balance;
        vm.prank(host);
        licenses.withdraw(licenseId);
        vm.assertEq(host.balance, before + 10 ether - 0.099 ether, "the host gets back its stake less the fees");
    }

    /// @dev After the host withdrew its stake (the account was never closed, so it waited the second
    /// unbonding) a voucher still settles: nothing to take, all unpaid.
    function test_settle_afterWithdrawalRecordsAllUnpaid() public {
        vm.prank(host);
        licenses.requestExit(licenseId);
        vm.warp(block.timestamp + 2 * uint256(terms.unbondingPeriod));
        vm.prank(host);
        licenses.withdraw(licenseId);
        settleBy(SIGNER_PK, 10, 0.01 ether);
        vm.assertEq(usage.unpaidFees(licenseId), 0.01 ether);
        vm.assertEq(usage.accruedRevenue(modelId), 0);
    }

    // ------------------------------------------------------------------ close

    function test_close_afterExitWithEverySigmaSettled() public {
        deposit(1 ether);
        settleBy(SIGNER_PK, 10, 0.01 ether);
        vm.prank(host);
        licenses.requestExit(licenseId);
        vm.assertFalse(usage.accountClosed(licenseId));
        vmx.expectEmit(address(usage));
        emit UsageSettlement.UsageClosed(licenseId, modelId, 10);
        vm.prank(address(0xA11CE)); // anyone may send it
        usage.close(licenseId, 10, closureSig(SIGNER_PK, licenseId, 10));
        vm.assertTrue(usage.accountClosed(licenseId));
    }

    function test_close_withNoUsageAtAll() public {
        vm.prank(host);
        licenses.requestExit(licenseId);
        usage.close(licenseId, 0, closureSig(SIGNER_PK, licenseId, 0));
        vm.assertTrue(usage.accountClosed(licenseId));
    }

    /// @dev The host cannot close its own account early: the license must be exiting ...
    function test_RevertWhen_close_licenseActive() public {
        bytes memory sig = closureSig(SIGNER_PK, licenseId, 0);
        vm.expectRevert(abi.encodeWithSelector(UsageSettlement.UsageSettlement__NotExiting.selector, licenseId));
        usage.close(licenseId, 0, sig);
    }

    /// @dev ... and a closure signed before a later voucher settled cannot pass over it, nor one
    /// over σ not settled yet: the count must be exactly what was settled.
    function test_RevertWhen_close_countIsNotWhatWasSettled() public {
        deposit(1 ether);
        bytes memory early = closureSig(SIGNER_PK, licenseId, 0);
        settleBy(SIGNER_PK, 10, 0.01 ether);
        vm.prank(host);
        licenses.requestExit(licenseId);
        vm.expectRevert(abi.encodeWithSelector(UsageSettlement.UsageSettlement__UsageNotSettled.selector, 10, 0));
        usage.close(licenseId, 0, early);
        bytes memory ahead = closureSig(SIGNER_PK, licenseId, 12);
        vm.expectRevert(abi.encodeWithSelector(UsageSettlement.UsageSettlement__UsageNotSettled.selector, 10, 12));
        usage.close(licenseId, 12, ahead);
    }

    function test_RevertWhen_close_notByThePermissionSigner() public {
        vm.prank(host);
        licenses.requestExit(licenseId);
        uint256 hostPk = 0xB0B;
        bytes memory sig = closureSig(hostPk, licenseId, 0);
        vm.expectRevert(
            abi.encodeWithSelector(UsageSettlement.UsageSettlement__NotPermissionSigner.selector, vm.addr(hostPk))
        );
        usage.close(licenseId, 0, sig);
    }

    /// @dev Once closed, no voucher settles: the signer declared it had issued nothing more.
    function test_RevertWhen_settleOrCloseAfterClosed() public {
        deposit(1 ether);
        vm.prank(host);
        licenses.requestExit(licenseId);
        closeUsage(licenseId);
        bytes memory sig = voucherSig(SIGNER_PK, licenseId, 3, 0.003 ether, ROOT);
        vm.expectRevert(abi.encodeWithSelector(UsageSettlement.UsageSettlement__AccountClosed.selector, licenseId));
        usage.settle(licenseId, 3, 0.003 ether, ROOT, sig);
        bytes memory again = closureSig(SIGNER_PK, licenseId, 0);
        vm.expectRevert(abi.encodeWithSelector(UsageSettlement.UsageSettlement__AccountClosed.selector, licenseId));
        usage.close(licenseId, 0, again);
    }

    function test_closureTypehash() public view {
        vm.assertEq(usage.USAGE_CLOSURE_TYPEHASH(), keccak256("UsageClosure(uint256 licenseId,uint64 cumulativeQueries)"));
    }

    function test_unpaidFees_startsAtZero() public view {
        vm.assertEq(usage.unpaidFees(licenseId), 0);
        vm.assertEq(usage.unpaidFees(12345), 0);
    }

    function test_RevertWhen_settle_highS() public {
        deposit(1 ether);
        bytes memory sig = malleate(voucherSig(SIGNER_PK, licenseId, 10, 0.01 ether, ROOT));
        // The malleated signature is valid for ecrecover: only the EIP-2 check rejects it.
        (bytes32 r, bytes32 s, uint8 v) = split(sig);
        vm.assertEq(ecrecover(voucherDigest(licenseId, 10, 0.01 ether, ROOT), v, r, s), signer);
        expectBadSignature();
        usage.settle(licenseId, 10, 0.01 ether, ROOT, sig);
    }

    function test_RevertWhen_settle_badV() public {
        deposit(1 ether);
        (bytes32 r, bytes32 s, uint8 v) = split(voucherSig(SIGNER_PK, licenseId, 10, 0.01 ether, ROOT));
        bytes memory sig = abi.encodePacked(r, s, v - 27);
        expectBadSignature();
        usage.settle(licenseId, 10, 0.01 ether, ROOT, sig);
        sig = abi.encodePacked(r, s, uint8(29));
        expectBadSignature();
        usage.settle(licenseId, 10, 0.01 ether, ROOT, sig);
    }

    function test_RevertWhen_settle_wrongLength() public {
        deposit(1 ether);
        bytes memory sig = voucherSig(SIGNER_PK, licenseId, 10, 0.01 ether, ROOT);
        (bytes32 r, bytes32 s,) = split(sig);
        expectBadSignature();
        usage.settle(licenseId, 10, 0.01 ether, ROOT, abi.encodePacked(r, s));
        expectBadSignature();
        usage.settle(licenseId, 10, 0.01 ether, ROOT, abi.encodePacked(sig, uint8(0)));
    }

    function test_RevertWhen_settle_unrecoverable() public {
        bytes memory sig = abi.encodePacked(bytes32(0), bytes32(uint256(1)), uint8(27));
        expectBadSignature();
        usage.settle(licenseId, 10, 0.01 ether, ROOT, sig);
    }

    function test_RevertWhen_settle_unknownLicense() public {
        bytes memory sig = voucherSig(SIGNER_PK, 99, 10, 0.01 ether, ROOT);
        vm.expectRevert(abi.encodeWithSelector(LicenseManager.LicenseManager__UnknownLicense.selector, 99));
        usage.settle(99, 10, 0.01 ether, ROOT, sig);
    }

    function test_RevertWhen_settle_voucherForOtherLicense() public {
        uint256 second = acquire(host, 10 ether);
        deposit(1 ether);
        bytes memory sig = voucherSig(SIGNER_PK, second, 10, 0.01 ether, ROOT);
        (bytes32 r, bytes32 s, uint8 v) = split(sig);
        address recovered = ecrecover(voucherDigest(licenseId, 10, 0.01 ether, ROOT), v, r, s);
        vm.expectRevert(
            abi.encodeWithSelector(UsageSettlement.UsageSettlement__NotPermissionSigner.selector, recovered)
        );
        usage.settle(licenseId, 10, 0.01 ether, ROOT, sig);
    }

    // ----------------------------------------------------------- depositRevenue

    function test_depositRevenue_creditsModel() public {
        vm.deal(address(claims), 2 ether);
        vmx.expectEmit(address(usage));
        emit UsageSettlement.RevenueDeposited(modelId, address(claims), 2 ether);
        vm.prank(address(claims));
        usage.depositRevenue{value: 2 ether}(modelId);
        vm.assertEq(usage.accruedRevenue(modelId), 2 ether);
        vm.assertEq(address(usage).balance, 2 ether);
        vm.assertEq(usage.withdrawable(modelId, ownerA), 1.5 ether);
    }

    function test_RevertWhen_depositRevenue_notClaimManager() public {
        vm.deal(other, 1 ether);
        vm.prank(other);
        vm.expectRevert(abi.encodeWithSelector(UsageSettlement.UsageSettlement__NotClaimManager.selector, other));
        usage.depositRevenue{value: 1 ether}(modelId);
    }

    // ---------------------------------------------------------- withdrawRevenue

    function test_withdrawRevenue_paysProRataShare() public {
        depositRevenue(modelId, 4 ether);
        vmx.expectEmit(address(usage));
        emit UsageSettlement.RevenueWithdrawn(modelId, ownerA, 3 ether);
        vm.prank(ownerA);
        uint256 paid = usage.withdrawRevenue(modelId);
        vm.assertEq(paid, 3 ether);
        vm.assertEq(ownerA.balance, 3 ether);
        vm.assertEq(usage.withdrawnBy(modelId, ownerA), 3 ether);
        vm.assertEq(usage.withdrawable(modelId, ownerA), 0);
        vm.assertEq(usage.withdrawable(modelId, ownerB), 1 ether);
        vm.assertEq(address(usage).balance, 1 ether);
    }

    function test_withdrawRevenue_onlyNewRevenueLater() public {
        deposit(1 ether);
        settleBy(SIGNER_PK, 10, 0.4 ether);
        vm.prank(ownerA);
        usage.withdrawRevenue(modelId);
        settleBy(SIGNER_PK, 20, 0.8 ether);
        vm.prank(ownerA);
        vm.assertEq(usage.withdrawRevenue(modelId), 0.3 ether);
        vm.prank(ownerB);
        vm.assertEq(usage.withdrawRevenue(modelId), 0.2 ether);
        vm.assertEq(usage.withdrawnBy(modelId, ownerA), 0.6 ether);
        vm.assertEq(address(usage).balance, 0.2 ether);
    }

    function test_RevertWhen_withdrawRevenue_nothingAccrued() public {
        vm.prank(ownerA);
        vm.expectRevert(abi.encodeWithSelector(UsageSettlement.UsageSettlement__NothingToWithdraw.selector));
        usage.withdrawRevenue(modelId);
    }

    function test_RevertWhen_withdrawRevenue_twice() public {
        depositRevenue(modelId, 4 ether);
        vm.startPrank(ownerB);
        usage.withdrawRevenue(modelId);
        vm.expectRevert(abi.encodeWithSelector(UsageSettlement.UsageSettlement__NothingToWithdraw.selector));
        usage.withdrawRevenue(modelId);
        vm.stopPrank();
    }

    function test_RevertWhen_withdrawRevenue_notOwner() public {
        depositRevenue(modelId, 4 ether);
        vm.prank(other);
        vm.expectRevert(abi.encodeWithSelector(UsageSettlement.UsageSettlement__NotAnOwner.selector, modelId, other));
        usage.withdrawRevenue(modelId);
    }

    function test_RevertWhen_withdrawRevenue_unknownModel() public {
        vm.prank(ownerA);
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.ModelRegistry__UnknownModel.selector, 7));
        usage.withdrawRevenue(7);
    }

    function test_RevertWhen_withdrawRevenue_ownerRejectsEth() public {
        Actor a = new Actor();
        uint256 id = registerBase(address(a), bytes32(0));
        depositRevenue(id, 1 ether);
        a.setReject(true);
        vm.expectRevert(abi.encodeWithSelector(UsageSettlement.UsageSettlement__TransferFailed.selector));
        a.exec(address(usage), 0, abi.encodeCall(UsageSettlement.withdrawRevenue, (id)));
    }

    // -------------------------------------------------------------------- views

    function test_withdrawable_roundsDown() public {
        depositRevenue(modelId, 10);
        vm.assertEq(usage.withdrawable(modelId, ownerA), 7);
        vm.assertEq(usage.withdrawable(modelId, ownerB), 2);
    }

    function test_RevertWhen_withdrawable_notOwner() public {
        vm.expectRevert(abi.encodeWithSelector(UsageSettlement.UsageSettlement__NotAnOwner.selector, modelId, host));
        usage.withdrawable(modelId, host);
    }

    function test_account_unknownLicenseIsEmpty() public view {
        (uint64 q, uint256 fee, uint256 escrow) = usage.account(12345);
        vm.assertEq(uint256(q) + fee + escrow, 0);
    }

    function test_accruedRevenue_sumsSettlementsAndDeposits() public {
        deposit(1 ether);
        settleBy(SIGNER_PK, 10, 0.25 ether);
        depositRevenue(modelId, 2 ether);
        vm.assertEq(usage.accruedRevenue(modelId), 2.25 ether);
        vm.assertEq(usage.accruedRevenue(modelId + 1), 0);
    }

    function test_withdrawnBy_startsAtZero() public view {
        vm.assertEq(usage.withdrawnBy(modelId, ownerA), 0);
    }

    function test_wiring_fixture() public view {
        (address r, address l) = usage.wiring();
        vm.assertEq(r, address(registry));
        vm.assertEq(l, address(licenses));
        vm.assertEq(usage.claimManager(), address(claims));
    }

    function test_domainSeparator_isOwnDomain() public view {
        vm.assertEq(usage.domainSeparator(), domainOf(address(usage)));
        vmx.assertNotEq(usage.domainSeparator(), licenses.domainSeparator());
    }

    function test_USAGE_VOUCHER_TYPEHASH_matchesSpec() public view {
        vm.assertEq(
            usage.USAGE_VOUCHER_TYPEHASH(),
            keccak256(
                "UsageVoucher(uint256 licenseId,uint64 cumulativeQueries,uint256 cumulativeFee,bytes32 usageRoot)"
            )
        );
    }

    // --------------------------------------------------------------------- fuzz

    /// @dev Random cumulative vouchers: each settle pays exactly the fee difference, from the
    /// escrow first and then from the stake; only what both lack is left unpaid, and every wei
    /// that left the escrow or the stake reached the revenue.
    function testFuzz_settle_paysExactDifferences(uint256 escrow, uint256 seed, uint256 steps) public {
        escrow = bound(escrow, 1, 100 ether);
        steps = bound(steps, 1, 8);
        deposit(escrow);
        uint64 q;
        uint256 fee;
        for (uint256 i; i < steps; ++i) {
            uint256 dq = bound(uint256(keccak256(abi.encode(seed, i, "q"))), 1, 1_000);
            uint256 df = bound(uint256(keccak256(abi.encode(seed, i, "f"))), 0, escrow / 2 + 6 ether);
            q += uint64(dq);
            fee += df;
            settleBy(SIGNER_PK, q, fee);
            checkPaid(escrow, 10 ether, q, fee);
        }
        vm.assertLe(usage.accruedRevenue(modelId), escrow + 10 ether);
        vm.assertEq(address(usage).balance + address(licenses).balance, escrow + 10 ether);
    }

    /// @dev After settling `fee` in all against `escrow` and `stake` deposited: the escrow paid
    /// first, the stake the rest, and only what both lacked is unpaid.
    function checkPaid(uint256 escrow, uint256 stake, uint64 q, uint256 fee) internal view {
        (uint64 sq, uint256 sf, uint256 left) = usage.account(licenseId);
        vm.assertEq(uint256(sq), uint256(q));
        vm.assertEq(sf, fee);
        uint256 fromStake = fee > escrow ? fee - escrow : 0;
        uint256 unpaid = fromStake > stake ? fromStake - stake : 0;
        vm.assertEq(left, fee < escrow ? escrow - fee : 0);
        vm.assertEq(uint256(licenses.getLicense(licenseId).stake), stake - (fromStake - unpaid));
        vm.assertEq(usage.unpaidFees(licenseId), unpaid);
        vm.assertEq(usage.accruedRevenue(modelId), fee - unpaid, "owed == paid + unpaid");
    }

    function testFuzz_settle_rejectsStaleOrCheaperVouchers(uint64 q1, uint64 q2, uint256 f1, uint256 f2) public {
        q1 = uint64(bound(q1, 1, 1_000_000));
        q2 = uint64(bound(q2, 0, 1_000_000));
        f1 = bound(f1, 0, 1 ether);
        f2 = bound(f2, 0, 1 ether);
        deposit(2 ether);
        settleBy(SIGNER_PK, q1, f1);
        bytes memory sig = voucherSig(SIGNER_PK, licenseId, q2, f2, ROOT);
        if (q2 <= q1) {
            vm.expectRevert(abi.encodeWithSelector(UsageSettlement.UsageSettlement__VoucherNotNewer.selector, q1, q2));
        } else if (f2 < f1) {
            vm.expectRevert(abi.encodeWithSelector(UsageSettlement.UsageSettlement__FeeDecreased.selector, f1, f2));
        }
        usage.settle(licenseId, q2, f2, ROOT, sig);
        bool ok = q2 > q1 && f2 >= f1;
        vm.assertEq(usage.accruedRevenue(modelId), ok ? f2 : f1);
    }

    function testFuzz_settle_oldSignerOnlyBeforeSwitch(uint256 wait) public {
        deposit(1 ether);
        vm.prank(admin);
        registry.proposeSigner(modelId, vm.addr(0x5152));
        uint256 switchAt = block.timestamp + 1 days;
        vm.warp(block.timestamp + bound(wait, 0, 3 days));
        bytes memory sig = voucherSig(SIGNER_PK, licenseId, 10, 0.1 ether, ROOT);
        bool valid = block.timestamp < switchAt;
        if (!valid) {
            vm.expectRevert(
                abi.encodeWithSelector(UsageSettlement.UsageSettlement__NotPermissionSigner.selector, signer)
            );
        }
        usage.settle(licenseId, 10, 0.1 ether, ROOT, sig);
        vm.assertEq(usage.accruedRevenue(modelId), valid ? 0.1 ether : 0);
    }

    /// @dev Owners' pro-rata withdrawals, interleaved with new revenue, never exceed what accrued
    /// and leave less than one wei per owner behind.
    function testFuzz_withdrawRevenue_proRata(uint256 n, uint256 seed, uint256 first, uint256 second) public {
        n = bound(n, 1, 8);
        first = bound(first, 0, 1e27);
        second = bound(second, 1, 1e27);
        address[] memory o = new address[](n);
        uint256[] memory s = new uint256[](n);
        uint256 total;
        for (uint256 i; i < n; ++i) {
            o[i] = address(uint160(0x10000 + i));
            s[i] = bound(uint256(keccak256(abi.encode(seed, i))), 1, 1e9);
            total += s[i];
        }
        vm.prank(other);
        uint256 id = registry.registerModel(o, s, signer, terms, bytes32(0), bytes32(0));

        depositRevenue(id, first);
        for (uint256 i; i < n; ++i) {
            // Some owners withdraw between the two deposits.
            if (uint256(keccak256(abi.encode(seed, i, "early"))) % 2 == 0) _withdrawIfAny(id, o[i]);
        }
        depositRevenue(id, second);
        uint256 sum;
        for (uint256 i; i < n; ++i) {
            _withdrawIfAny(id, o[i]);
            uint256 got = usage.withdrawnBy(id, o[i]);
            vm.assertEq(got, (first + second) * s[i] / total);
            vm.assertEq(o[i].balance, got);
            sum += got;
        }
        vm.assertLe(sum, first + second);
        vm.assertLt(first + second - sum, n);
        vm.assertEq(address(usage).balance, first + second - sum);
    }

    function _withdrawIfAny(uint256 id, address owner) internal {
        uint256 due = usage.withdrawable(id, owner);
        if (due == 0) {
            vm.expectRevert(abi.encodeWithSelector(UsageSettlement.UsageSettlement__NothingToWithdraw.selector));
        }
        vm.prank(owner);
        usage.withdrawRevenue(id);
    }
}
