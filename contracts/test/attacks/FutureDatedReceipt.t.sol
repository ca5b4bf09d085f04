// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ClaimHelpers} from "../base/ClaimHelpers.sol";
import {ClaimManager} from "../../src/ClaimManager.sol";
import {ClaimKind} from "../../src/lib/OMLTypes.sol";

/// @dev Issue 13, items 1 and 7, timing. A claim about an answer would be visible before the
/// clock skew after its serving time had passed, leaving the host time to buy a σ stamped
/// "before the answer" after the claim was seen: such a claim does not open yet. A receipt dated
/// further ahead than the skew is a lie no honest gateway tells (it stamps its own clock): the
/// claim opens at once with servedAt 0 and no σ can refute it, or a host could postpone every
/// claim past its own exit. An answer dated before the license began could never be covered by
/// any σ (σ count only from the license's start): a claim about one is refused.
contract FutureDatedReceiptAttackTest is ClaimHelpers {
    function attested(ClaimManager.ClaimInput memory c) internal view returns (bytes[] memory) {
        return signAttestation(c, firstVerifiers(3));
    }

    function test_futureDatedReceipt_withinSkew_openedTooEarly() public {
        // Up to one skew ahead of the chain (a gateway clock slightly fast): waits for its time.
        uint64 servedAt = uint64(block.timestamp + CLOCK_SKEW);
        ClaimManager.ClaimInput memory c = answeredAt(claimInput(0), servedAt);
        bytes[] memory sigs = attested(c);
        uint256 openableAt = uint256(servedAt) + CLOCK_SKEW;
        vm.prank(claimant);
        vm.expectRevert(
            abi.encodeWithSelector(ClaimManager.ClaimManager__OpenedTooEarly.selector, servedAt, openableAt)
        );
        claims.openClaim{value: terms.claimBond}(c, sigs);
        // Served (the answer's time has come) but the skew has not passed: still too early.
        vm.warp(openableAt - 1);
        vm.prank(claimant);
        vm.expectRevert(
            abi.encodeWithSelector(ClaimManager.ClaimManager__OpenedTooEarly.selector, servedAt, openableAt)
        );
        claims.openClaim{value: terms.claimBond}(c, sigs);
        // From then on the claim opens, and a σ bought now is stamped after the answer.
        vm.warp(openableAt);
        vm.prank(claimant);
        uint256 id = claims.openClaim{value: terms.claimBond}(c, sigs);
        ClaimManager.ClaimRecord memory r = recordFor(c, claimant, sortedAttesters(3));
        vm.assertTrue(claims.matchesRecord(id, r));
        vm.assertEq(r.servedAt, servedAt);
        bytes memory sigma = permissionSig(SIGNER_PK, licenseId, r.queryHash, 1, uint64(block.timestamp));
        vm.expectRevert(
            abi.encodeWithSelector(
                ClaimManager.ClaimManager__PermissionAfterAnswer.selector, uint64(block.timestamp), servedAt
            )
        );
        claims.refute(id, r, 1, uint64(block.timestamp), sigma);
    }

    /// @dev An answer served just now is not claimable before the skew either.
    function test_futureDatedReceipt_servedNow_openedTooEarly() public {
        uint64 servedAt = uint64(block.timestamp);
        ClaimManager.ClaimInput memory c = answeredAt(claimInput(0), servedAt);
        bytes[] memory sigs = attested(c);
        vm.prank(claimant);
        vm.expectRevert(
            abi.encodeWithSelector(
                ClaimManager.ClaimManager__OpenedTooEarly.selector, servedAt, uint256(servedAt) + CLOCK_SKEW
            )
        );
        claims.openClaim{value: terms.claimBond}(c, sigs);
    }

    /// @dev The host's gateway dates its receipt far ahead (hoping claims wait until it has
    /// exited): the claim opens at once, its record says servedAt 0, and no σ refutes it, not
    /// even one issued at the receipt's own time.
    function test_futureDatedReceipt_beyondSkew_opensAtOnceUnrefutable() public {
        uint64 servedAt = uint64(block.timestamp + CLOCK_SKEW + 1);
        ClaimManager.ClaimInput memory c = answeredAt(claimInput(0), servedAt);
        bytes[] memory sigs = attested(c);
        vm.prank(claimant);
        uint256 id = claims.openClaim{value: terms.claimBond}(c, sigs);
        ClaimManager.ClaimRecord memory r = recordFor(c, claimant, sortedAttesters(3));
        vm.assertFalse(claims.matchesRecord(id, r), "not the receipt's time");
        r.servedAt = 0;
        vm.assertTrue(claims.matchesRecord(id, r), "servedAt 0: nothing can refute");
        bytes memory sigma = permissionSig(SIGNER_PK, licenseId, r.queryHash, 1, servedAt);
        vm.prank(host);
        vm.expectRevert(abi.encodeWithSelector(ClaimManager.ClaimManager__PermissionAfterAnswer.selector, servedAt, 0));
        claims.refute(id, r, 1, servedAt, sigma);
        uint64 start = licenseStart(licenseId);
        sigma = permissionSig(SIGNER_PK, licenseId, r.queryHash, 1, start);
        vm.prank(host);
        vm.expectRevert(abi.encodeWithSelector(ClaimManager.ClaimManager__PermissionAfterAnswer.selector, start, 0));
        claims.refute(id, r, 1, start, sigma);
        uint256 before = licenses.getLicense(licenseId).stake;
        vm.warp(r.deadline);
        claims.execute(id, r);
        vm.assertEq(licenses.getLicense(licenseId).stake, before - r.slashAmount, "the liar is slashed");
    }

    /// @dev The skew holds for kinds without a receipt too (their time is the quorum's).
    function test_futureDatedReceipt_leakOpenedTooEarly_reverts() public {
        ClaimManager.ClaimInput memory c = claimInput(1);
        c.kind = ClaimKind.LEAK;
        c = answeredAt(c, uint64(block.timestamp));
        bytes[] memory sigs = attested(c);
        vm.prank(claimant);
        vm.expectRevert(
            abi.encodeWithSelector(
                ClaimManager.ClaimManager__OpenedTooEarly.selector, c.servedAt, uint256(c.servedAt) + CLOCK_SKEW
            )
        );
        claims.openClaim{value: terms.claimBond}(c, sigs);
    }

    function test_futureDatedReceipt_servedBeforeLicense_reverts() public {
        uint64 start = licenseStart(licenseId);
        ClaimManager.ClaimInput memory c = answeredAt(claimInput(0), start - 1);
        bytes[] memory sigs = attested(c);
        vm.prank(claimant);
        vm.expectRevert(
            abi.encodeWithSelector(ClaimManager.ClaimManager__ServedBeforeLicense.selector, start - 1, start)
        );
        claims.openClaim{value: terms.claimBond}(c, sigs);
        // Served at the license's first second: opens.
        (uint256 id,) = openAs(claimant, answeredAt(claimInput(0), start), firstVerifiers(3));
        vm.assertEq(uint256(claims.claimStatus(id)), uint256(ClaimManager.ClaimStatus.Open));
    }
}
