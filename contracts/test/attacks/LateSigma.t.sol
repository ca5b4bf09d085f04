// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ClaimHelpers} from "../base/ClaimHelpers.sol";
import {ClaimManager} from "../../src/ClaimManager.sol";
import {ClaimKind} from "../../src/lib/OMLTypes.sol";

/// @dev Issue 13, item 1: "a σ obtained after the fact refutes nothing". The cheating host serves
/// a fingerprint query without σ, waits for the claim, reads its queryHash from ClaimOpened and
/// buys a σ for it from the permission service (which stamps its own clock). Before the fix that
/// σ refuted the claim, took the claimant's bond and had the honest attesters penalized. Now a σ
/// counts only if issued no later than the answer was served (and no earlier than the license).
contract LateSigmaAttackTest is ClaimHelpers {
    uint64 internal servedAt;

    function setUp() public override {
        super.setUp();
        servedAt = licenseStart(licenseId) + 1 hours;
    }

    /// @dev The claim about an answer the host served (and receipted) at `servedAt` without σ.
    function openOnUnpermittedAnswer(uint256 i) internal returns (uint256 id, ClaimManager.ClaimRecord memory r) {
        return openAs(claimant, answeredAt(claimInput(i), servedAt), firstVerifiers(3));
    }

    function test_lateSigma_boughtAfterClaimOpened_cannotRefute() public {
        (uint256 id, ClaimManager.ClaimRecord memory r) = openOnUnpermittedAnswer(0);
        // The claim can only be seen clock-skew after the answer: any σ bought from then on is
        // stamped after the answer was served.
        vm.assertGe(block.timestamp, uint256(servedAt) + CLOCK_SKEW);
        uint64 boughtAt = uint64(block.timestamp);
        bytes memory sigma = permissionSig(SIGNER_PK, licenseId, r.queryHash, 1, boughtAt);
        vm.prank(host);
        vm.expectRevert(
            abi.encodeWithSelector(ClaimManager.ClaimManager__PermissionAfterAnswer.selector, boughtAt, servedAt)
        );
        claims.refute(id, r, 1, boughtAt, sigma);
        // Even one second after the answer is too late.
        sigma = permissionSig(SIGNER_PK, licenseId, r.queryHash, 1, servedAt + 1);
        vm.prank(host);
        vm.expectRevert(
            abi.encodeWithSelector(ClaimManager.ClaimManager__PermissionAfterAnswer.selector, servedAt + 1, servedAt)
        );
        claims.refute(id, r, 1, servedAt + 1, sigma);

        // So the cheater is slashed, and the honest attesters keep their stake.
        uint256 stakeBefore = licenses.getLicense(licenseId).stake;
        vm.warp(r.deadline);
        claims.execute(id, r);
        vm.assertEq(licenses.getLicense(licenseId).stake, stakeBefore - r.slashAmount, "the cheater is slashed");
        vm.assertGt(r.slashAmount, 0);
        vm.expectRevert(
            abi.encodeWithSelector(
                ClaimManager.ClaimManager__WrongStatus.selector, id, ClaimManager.ClaimStatus.Executed
            )
        );
        claims.penalizeAttesters(id, r, addressesOf(sortByAddress(firstVerifiers(3))));
        address[] memory att = addressesOf(firstVerifiers(3));
        for (uint256 i; i < att.length; ++i) {
            (uint256 stake,,,) = verifiers.verifierInfo(att[i]);
            vm.assertEq(stake, VERIFIER_MIN_STAKE, "attesters untouched");
        }
    }

    /// @dev A σ stamped before the license began (backdated by a lenient or compromised signer,
    /// or left over from an earlier license period) clears nothing either.
    function test_lateSigma_issuedBeforeLicense_cannotRefute() public {
        (uint256 id, ClaimManager.ClaimRecord memory r) = openOnUnpermittedAnswer(1);
        uint64 start = licenseStart(licenseId);
        vm.assertEq(r.notBefore, start);
        bytes memory sigma = permissionSig(SIGNER_PK, licenseId, r.queryHash, 1, start - 1);
        vm.prank(host);
        vm.expectRevert(
            abi.encodeWithSelector(ClaimManager.ClaimManager__PermissionBeforeLicense.selector, start - 1, start)
        );
        claims.refute(id, r, 1, start - 1, sigma);
    }

    /// @dev The honest boundaries: a σ issued at the very second the answer was served, or at the
    /// very second the license began, refutes.
    function test_lateSigma_issuedExactlyAtServedAt_refutes() public {
        (uint256 id, ClaimManager.ClaimRecord memory r) = openOnUnpermittedAnswer(2);
        bytes memory sigma = permissionSig(SIGNER_PK, licenseId, r.queryHash, 1, servedAt);
        uint256 before = host.balance;
        vm.prank(host);
        claims.refute(id, r, 1, servedAt, sigma);
        vm.assertEq(uint256(claims.claimStatus(id)), uint256(ClaimManager.ClaimStatus.Refuted));
        vm.assertEq(host.balance, before + r.bond, "the honest host takes the bond");
    }

    function test_lateSigma_issuedExactlyAtLicenseStart_refutes() public {
        (uint256 id, ClaimManager.ClaimRecord memory r) = openOnUnpermittedAnswer(3);
        uint64 start = licenseStart(licenseId);
        bytes memory sigma = permissionSig(SIGNER_PK, licenseId, r.queryHash, 1, start);
        claims.refute(id, r, 1, start, sigma);
        vm.assertEq(uint256(claims.claimStatus(id)), uint256(ClaimManager.ClaimStatus.Refuted));
    }

    /// @dev The serving time is attested and recorded: the accused cannot pass a record with a
    /// later servedAt to make its late σ fit.
    function test_lateSigma_cannotMoveServedAtInTheRecord() public {
        (uint256 id, ClaimManager.ClaimRecord memory r) = openOnUnpermittedAnswer(0);
        uint64 boughtAt = uint64(block.timestamp);
        bytes memory sigma = permissionSig(SIGNER_PK, licenseId, r.queryHash, 1, boughtAt);
        ClaimManager.ClaimRecord memory moved = copyRecord(r);
        moved.servedAt = boughtAt;
        vm.prank(host);
        vm.expectRevert(abi.encodeWithSelector(ClaimManager.ClaimManager__RecordMismatch.selector, id));
        claims.refute(id, moved, 1, boughtAt, sigma);
    }

    /// @dev The same holds for LEAK claims (refutable with σ too): the leaked copy's answer time
    /// is attested by the quorum, and a σ bought once the claim is seen comes too late.
    function test_lateSigma_leakClaim_cannotRefute() public {
        ClaimManager.ClaimInput memory c = claimInput(1);
        c.kind = ClaimKind.LEAK;
        c = answeredAt(c, servedAt);
        (uint256 id, ClaimManager.ClaimRecord memory r) = openAs(claimant, c, firstVerifiers(3));
        uint64 boughtAt = uint64(block.timestamp);
        bytes memory sigma = permissionSig(SIGNER_PK, licenseId, r.queryHash, 1, boughtAt);
        vm.expectRevert(
            abi.encodeWithSelector(ClaimManager.ClaimManager__PermissionAfterAnswer.selector, boughtAt, servedAt)
        );
        claims.refute(id, r, 1, boughtAt, sigma);
    }
}
