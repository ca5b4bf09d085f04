// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {OMLFixture} from "../base/OMLFixture.sol";
import {ClaimHandler} from "./ClaimHandler.sol";
import {ClaimManager} from "../../src/ClaimManager.sol";
import {ClaimKind} from "../../src/lib/OMLTypes.sol";

/// @dev Protocol-wide invariants under random sequences of every user action (see ClaimHandler):
/// (a) each contract's ETH balance equals its books, (b) no stake leaves while unbonding or while a
/// claim is open, (c) a refuted claim never slashes, (d) a leaf is never used twice, (e) a slash
/// never exceeds the snapshotted stake, (f) an honest host (σ issued before each answer, every
/// claim answered within its window) never loses stake, (g) the pending slashes of a subject never
/// exceed its stake (less fees taken from it since: fees come first), (h) the attacks of issue 13
/// tried inline never succeed, (i) the fees a settled voucher owes are paid in full from escrow and
/// then stake, or the shortfall is exactly what the stake could not cover; plus the consistency of
/// the claim counters and records.
contract ClaimInvariantsTest is OMLFixture {
    ClaimHandler internal handler;

    function setUp() public override {
        super.setUp();
        uint256[] memory pks = new uint256[](4);
        for (uint256 i; i < 4; ++i) {
            pks[i] = verifierPks[i];
        }
        handler = new ClaimHandler(registry, licenses, usage, verifiers, claims, SIGNER_PK, admin, modelId, pks);
        handler.setUpScenario();

        // Weighted: claims are the subject, so their actions come up more often.
        bytes4[49] memory w = [
            ClaimHandler.openClaim.selector,
            ClaimHandler.openClaim.selector,
            ClaimHandler.openClaim.selector,
            ClaimHandler.openClaim.selector,
            ClaimHandler.openClaim.selector,
            ClaimHandler.refute.selector,
            ClaimHandler.refute.selector,
            ClaimHandler.refute.selector,
            ClaimHandler.execute.selector,
            ClaimHandler.execute.selector,
            ClaimHandler.execute.selector,
            ClaimHandler.penalizeAttesters.selector,
            ClaimHandler.penalizeAttesters.selector,
            ClaimHandler.replayRefuted.selector,
            ClaimHandler.honestServe.selector,
            ClaimHandler.honestServe.selector,
            ClaimHandler.claimHonest.selector,
            ClaimHandler.claimHonest.selector,
            ClaimHandler.claimHonest.selector,
            ClaimHandler.honestRefute.selector,
            ClaimHandler.honestAcquire.selector,
            ClaimHandler.acquireLicense.selector,
            ClaimHandler.acquireLicense.selector,
            ClaimHandler.addStake.selector,
            ClaimHandler.depositEscrow.selector,
            ClaimHandler.settle.selector,
            ClaimHandler.settle.selector,
            ClaimHandler.requestExit.selector,
            ClaimHandler.requestExit.selector,
            ClaimHandler.closeUsage.selector,
            ClaimHandler.closeUsage.selector,
            ClaimHandler.withdraw.selector,
            ClaimHandler.withdraw.selector,
            ClaimHandler.withdrawEscrow.selector,
            ClaimHandler.withdrawRevenue.selector,
            ClaimHandler.withdrawOwed.selector,
            ClaimHandler.verifierJoin.selector,
            ClaimHandler.verifierAddStake.selector,
            ClaimHandler.verifierActivate.selector,
            ClaimHandler.verifierActivate.selector,
            ClaimHandler.verifierLeave.selector,
            ClaimHandler.verifierWithdraw.selector,
            ClaimHandler.registerDerived.selector,
            ClaimHandler.requestRetirement.selector,
            ClaimHandler.withdrawRegistration.selector,
            ClaimHandler.warp.selector,
            ClaimHandler.updateTerms.selector,
            ClaimHandler.rotateSigner.selector,
            ClaimHandler.revokeSigner.selector
        ];
        bytes4[] memory s = new bytes4[](w.length);
        for (uint256 i; i < w.length; ++i) {
            s[i] = w[i];
        }
        targetContract(address(handler));
        targetSelector(FuzzSelector(address(handler), s));
    }

    // ------------------------------------------------------- (a) ETH books

    function invariant_a_licenseManagerBalanceIsSumOfStakes() public view {
        uint256 sum;
        uint256 n = licenses.licenseCount();
        for (uint256 id = 1; id <= n; ++id) {
            sum += licenses.getLicense(id).stake;
        }
        vm.assertEq(address(licenses).balance, sum, "LicenseManager: balance == sum of stakes");
    }

    function invariant_a_usageSettlementBalanceIsEscrowPlusUnwithdrawnRevenue() public view {
        uint256 sum;
        uint256 n = licenses.licenseCount();
        for (uint256 id = 1; id <= n; ++id) {
            (,, uint256 escrow) = usage.account(id);
            sum += escrow;
        }
        uint256 m = registry.modelCount();
        for (uint256 id = 1; id <= m; ++id) {
            uint256 accrued = usage.accruedRevenue(id);
            address[] memory owners = registry.owners(id);
            uint256 withdrawn;
            for (uint256 j; j < owners.length; ++j) {
                withdrawn += usage.withdrawnBy(id, owners[j]);
            }
            vm.assertLe(withdrawn, accrued, "owners never take more than accrued");
            sum += accrued - withdrawn;
        }
        vm.assertEq(address(usage).balance, sum, "UsageSettlement: balance == escrows + accrued - withdrawn");
    }

    function invariant_a_claimManagerBalanceIsOpenBondsPlusOwed() public view {
        uint256 sum;
        uint256 n = claims.claimCount();
        for (uint256 id = 1; id <= n; ++id) {
            if (claims.claimStatus(id) == ClaimManager.ClaimStatus.Open) sum += handler.record(id).bond;
        }
        vm.assertEq(address(claims).balance, sum + claims.totalOwed(), "ClaimManager: balance == open bonds + owed");
        vm.assertEq(claims.totalOwed(), claims.owedTo(address(handler.refuser())), "only the refusing claimant is owed");
    }

    function invariant_a_verifierRegistryBalanceIsTotalStaked() public view {
        address[] memory vs = handler.verifierAddresses();
        uint256 sum;
        uint256 active;
        uint256 activeStake;
        for (uint256 i; i < vs.length; ++i) {
            (uint256 stake, uint256 pending,,) = verifiers.verifierInfo(vs[i]);
            sum += stake + pending;
            if (verifiers.isActive(vs[i])) {
                ++active;
                activeStake += stake;
            }
        }
        vm.assertEq(address(verifiers).balance, verifiers.totalStaked(), "VerifierRegistry: balance == totalStaked");
        vm.assertEq(verifiers.totalStaked(), sum, "totalStaked == sum of counted and pending stakes");
        vm.assertEq(verifiers.activeCount(), active, "active count");
        vm.assertEq(verifiers.activeStake(), activeStake, "active stake == counted stake of the active");
    }

    function invariant_a_modelRegistryBalanceIsTotalRegistrationStake() public view {
        uint256 sum;
        uint256 m = registry.modelCount();
        for (uint256 id = 1; id <= m; ++id) {
            (,, uint96 stake,,) = registry.modelInfo(id);
            sum += stake;
        }
        vm.assertEq(
            address(registry).balance,
            registry.totalRegistrationStake(),
            "ModelRegistry: balance == totalRegistrationStake"
        );
        vm.assertEq(registry.totalRegistrationStake(), sum, "totalRegistrationStake == sum of stakes");
    }

    // ----------------------------------------- (b) no early stake withdrawal

    function invariant_b_noStakeLeavesWhileUnbondingOrClaimOpen() public view {
        vm.assertEq(handler.licenseWithdrawViolations(), 0, "license stake left early or under claim");
        vm.assertEq(handler.verifierWithdrawViolations(), 0, "verifier stake left while unbonding");
        vm.assertEq(handler.registrationWithdrawViolations(), 0, "registration stake left early or under claim");
    }

    /// @dev Every subject's stake is exactly what the handler's books say: deposits minus the
    /// measured slashes of executed claims minus fees taken from it minus withdrawals. Nothing
    /// else moves a stake.
    function invariant_b_stakesMatchGhostBooks() public view {
        uint256[] memory ids = handler.licenseIds();
        for (uint256 i; i < ids.length; ++i) {
            vm.assertEq(licenses.getLicense(ids[i]).stake, handler.expectedLicenseStake(ids[i]), "license stake");
        }
        uint256[] memory ds = handler.derivedIds();
        for (uint256 i; i < ds.length; ++i) {
            (,, uint96 stake,,) = registry.modelInfo(ds[i]);
            vm.assertEq(stake, handler.expectedRegistrationStake(ds[i]), "registration stake");
        }
    }

    // ------------------------------------------------- (c) refuted never slash

    /// @dev The attestations of a refuted claim cannot open it again (and have its attesters
    /// penalized again).
    function invariant_c_refutedAttestationsNeverReplay() public view {
        vm.assertEq(handler.replayViolations(), 0, "a refuted claim's attestations were replayed");
    }

    function invariant_c_refutedClaimNeverSlashes() public view {
        vm.assertEq(handler.refuteStakeChanges(), 0, "a refutation or penalty moved the accused's stake");
        uint256[] memory ids = handler.claimIds();
        for (uint256 i; i < ids.length; ++i) {
            ClaimManager.ClaimStatus s = claims.claimStatus(ids[i]);
            ClaimHandler.Ghost memory g = handler.ghost(ids[i]);
            if (s == ClaimManager.ClaimStatus.Refuted || s == ClaimManager.ClaimStatus.AttestersPenalized) {
                vm.assertTrue(g.refuted, "refuted through refute only");
                vm.assertFalse(g.executed, "a refuted claim was executed");
                vm.assertEq(g.slashed, 0, "a refuted claim slashed");
                ClaimKind k = handler.record(ids[i]).kind;
                vm.assertTrue(k == ClaimKind.UNPERMITTED_USE || k == ClaimKind.LEAK, "only refutable kinds");
            }
            if (g.refuted) vm.assertFalse(g.executed, "refuted and executed");
        }
    }

    // ---------------------------------------------------- (d) leaf used once

    function invariant_d_leafNeverUsedTwice() public view {
        vm.assertEq(handler.leafReuseViolations(), 0, "a claim opened on a leaf under claim or spent");
        uint256[] memory ids = handler.claimIds();
        bytes32[] memory spent = new bytes32[](ids.length);
        uint256 n;
        for (uint256 i; i < ids.length; ++i) {
            if (claims.claimStatus(ids[i]) != ClaimManager.ClaimStatus.Executed) continue;
            bytes32 key = handler.offenceKey(handler.record(ids[i]));
            for (uint256 j; j < n; ++j) {
                vm.assertTrue(spent[j] != key, "two executed claims on one offence");
            }
            spent[n++] = key;
            vm.assertEq(claims.claimOf(key), ids[i], "an executed offence stays spent by its claim");
        }
        // At most one open claim per leaf, and it holds the leaf.
        for (uint256 i; i < ids.length; ++i) {
            if (claims.claimStatus(ids[i]) != ClaimManager.ClaimStatus.Open) continue;
            bytes32 key = handler.offenceKey(handler.record(ids[i]));
            vm.assertEq(claims.claimOf(key), ids[i], "an open claim holds its offence");
            for (uint256 j; j < n; ++j) {
                vm.assertTrue(spent[j] != key, "an open claim on a spent offence");
            }
        }
    }

    // ------------------------------------------------ (e) slash within snapshot

    function invariant_e_slashNeverExceedsSnapshot() public view {
        uint256[] memory ids = handler.claimIds();
        for (uint256 i; i < ids.length; ++i) {
            ClaimHandler.Ghost memory g = handler.ghost(ids[i]);
            ClaimManager.ClaimRecord memory r = handler.record(ids[i]);
            vm.assertLe(r.slashAmount, g.snapshot, "slash amount within the snapshot");
            vm.assertLe(r.reward, r.slashAmount, "reward within the slash");
            if (!g.executed) {
                vm.assertEq(g.slashed, 0);
                continue;
            }
            vm.assertLe(g.slashed, r.slashAmount, "slashed more than snapshot x slashBps");
            vm.assertLe(g.slashed, g.snapshot, "slashed more than the snapshot");
            // Reservations never exceed the stake, so every execute finds its whole amount, unless
            // fees were taken from the stake (fees come first; the claim gets what is left).
            bool feesTaken = r.kind != ClaimKind.LINEAGE && handler.feesFromStake(r.subjectId) != 0;
            if (!feesTaken) vm.assertEq(g.slashed, r.slashAmount, "an execute found less than its claim reserved");
        }
    }

    // --------------------------------------------- (f) the honest host is safe

    /// @dev The honest host held σ issued before each answer and answers every claim within its
    /// window: no claim against it executes, every one whose window closed was refuted, its
    /// stakes are exactly what it deposited less what it withdrew, and no forged claim opened.
    function invariant_f_honestHostNeverLosesStake() public view {
        vm.assertEq(handler.honestSlashed(), 0, "the honest host was slashed");
        vm.assertEq(handler.honestRefuteFailures(), 0, "the honest host's sigma did not refute");
        vm.assertEq(handler.forgedClaimsOpened(), 0, "a claim opened without the host's genuine receipt");
        uint256[] memory ids = handler.honestClaimIds();
        for (uint256 i; i < ids.length; ++i) {
            ClaimManager.ClaimStatus s = claims.claimStatus(ids[i]);
            vm.assertTrue(s != ClaimManager.ClaimStatus.Executed, "a claim against the honest host executed");
            if (block.timestamp >= handler.record(ids[i]).deadline) {
                vm.assertTrue(
                    s == ClaimManager.ClaimStatus.Refuted || s == ClaimManager.ClaimStatus.AttestersPenalized,
                    "a claim against the honest host outlived its window"
                );
            }
        }
        uint256[] memory lics = handler.honestLicenseIds();
        for (uint256 i; i < lics.length; ++i) {
            vm.assertEq(licenses.getLicense(lics[i]).stake, handler.expectedLicenseStake(lics[i]), "honest stake moved");
        }
    }

    // ----------------------------------------- (g) pending slashes within stake

    /// @dev For every license and derived model, the pending slashes (the open claims'
    /// reservations, by the contract and by the handler's records) never exceed the stake, plus,
    /// for a license, the fees taken from its stake (fees come first: they may eat into what the
    /// open claims reserved, and those claims then take what is left).
    function invariant_g_pendingSlashWithinStake() public view {
        uint256[] memory ids = handler.claimIds();
        uint256[] memory lics = handler.licenseIds();
        for (uint256 i; i < lics.length; ++i) {
            uint256 pending = claims.pendingSlash(false, lics[i]);
            vm.assertLe(
                pending,
                licenses.getLicense(lics[i]).stake + handler.feesFromStake(lics[i]),
                "license: pending slashes above stake"
            );
            vm.assertEq(pending, _reservedOn(ids, lics[i], false), "license: pending == open claims' slashes");
        }
        uint256[] memory ds = handler.derivedIds();
        for (uint256 i; i < ds.length; ++i) {
            uint256 pending = claims.pendingSlash(true, ds[i]);
            (,, uint96 stake,,) = registry.modelInfo(ds[i]);
            vm.assertLe(pending, stake, "model: pending slashes above stake");
            vm.assertEq(pending, _reservedOn(ids, ds[i], true), "model: pending == open claims' slashes");
        }
    }

    // ---------------------------------------------- (h) attacks tried inline

    function invariant_h_attacksFail() public view {
        vm.assertEq(handler.lateSigmaAccepted(), 0, "a sigma issued after the answer or before the license refuted");
        vm.assertEq(handler.subQuorumOpened(), 0, "a claim opened below two thirds of the active stake");
        vm.assertEq(handler.overReservations(), 0, "a claim reserved stake already reserved");
        vm.assertEq(handler.attesterEscapes(), 0, "an attester withdrew while its claim was open");
        vm.assertEq(handler.earlyActivations(), 0, "verifier stake counted before its delay");
    }

    // ------------------------------------- (i) fees paid from escrow plus stake

    /// @dev Fees owed by settled vouchers are paid in full from escrow plus stake, or the
    /// shortfall equals what the stake could not cover: for every license, what its vouchers owe
    /// (the contract's settledFee and the handler's books) is what the escrow paid plus what the
    /// stake paid plus the recorded unpaid fees; and no settle ever took stake while escrow was
    /// left, or left fees unpaid while stake was (checked at each settle: feeViolations).
    function invariant_i_feesPaidFromEscrowPlusStake() public view {
        vm.assertEq(handler.feeViolations(), 0, "a settle paid other than escrow, then stake, then unpaid");
        uint256[] memory lics = handler.licenseIds();
        uint256 paid;
        for (uint256 i; i < lics.length; ++i) {
            uint256 id = lics[i];
            (, uint256 settledFee,) = usage.account(id);
            uint256 unpaid = usage.unpaidFees(id);
            vm.assertEq(settledFee, handler.feesOwed(id), "settled fees == the vouchers' fees");
            vm.assertEq(
                settledFee,
                handler.feesFromEscrow(id) + handler.feesFromStake(id) + unpaid,
                "owed == from escrow + from stake + unpaid"
            );
            paid += handler.feesFromEscrow(id) + handler.feesFromStake(id);
        }
        // The fixture model's revenue is the fees paid plus the slashes sent to its owners.
        vm.assertLe(paid, usage.accruedRevenue(handler.modelId()), "fees paid reached the owners' revenue");
    }

    // --------------------------------------------------- claim bookkeeping

    function invariant_claimCountersAndRecordsAgree() public view {
        vm.assertEq(handler.recordMismatches(), 0, "openClaim stored another record than the oracle's");
        vm.assertEq(handler.payoutMismatches(), 0, "a payout differed from the books");
        vm.assertEq(handler.unexpectedOpenRefusals(), 0, "a valid claim on a free leaf was refused");
        uint256[] memory ids = handler.claimIds();
        vm.assertEq(ids.length, claims.claimCount(), "every claim is the handler's");
        uint256[] memory lics = handler.licenseIds();
        for (uint256 i; i < lics.length; ++i) {
            vm.assertEq(claims.openClaims(false, lics[i]), _openOn(ids, lics[i], false), "open claims on a license");
        }
        uint256[] memory ds = handler.derivedIds();
        for (uint256 i; i < ds.length; ++i) {
            vm.assertEq(claims.openClaims(true, ds[i]), _openOn(ids, ds[i], true), "open claims on a model");
        }
        for (uint256 i; i < ids.length; ++i) {
            vm.assertTrue(claims.matchesRecord(ids[i], handler.record(ids[i])), "record");
        }
    }

    function _reservedOn(uint256[] memory ids, uint256 subject, bool lineage) internal view returns (uint256 sum) {
        for (uint256 i; i < ids.length; ++i) {
            if (claims.claimStatus(ids[i]) != ClaimManager.ClaimStatus.Open) continue;
            ClaimManager.ClaimRecord memory r = handler.record(ids[i]);
            if (r.subjectId == subject && (r.kind == ClaimKind.LINEAGE) == lineage) sum += r.slashAmount;
        }
    }

    function _openOn(uint256[] memory ids, uint256 subject, bool lineage) internal view returns (uint256 n) {
        for (uint256 i; i < ids.length; ++i) {
            if (claims.claimStatus(ids[i]) != ClaimManager.ClaimStatus.Open) continue;
            ClaimManager.ClaimRecord memory r = handler.record(ids[i]);
            if (r.subjectId == subject && (r.kind == ClaimKind.LINEAGE) == lineage) ++n;
        }
    }
}
