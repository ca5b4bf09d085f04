// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ClaimHelpers} from "../base/ClaimHelpers.sol";
import {ClaimManager} from "../../src/ClaimManager.sol";
import {ClaimKind} from "../../src/lib/OMLTypes.sol";

/// @dev Issue 13, item 3, last clause: "no claim kind slashes without a refutation or appeal path
/// with attester penalties (ALIGNMENT_BREACH stays disabled on chain until it has one)". Before the
/// fix a quorum opened unrefutable ALIGNMENT_BREACH claims that drained an honest host. The
/// production deployment enables UNPERMITTED_USE only (enabledKinds = 1): every other kind is
/// refused before anything else is looked at.
contract AlignmentBreachDisabledAttackTest is ClaimHelpers {
    uint8 internal constant PRODUCTION_KINDS = 1; // bit 0: UNPERMITTED_USE

    function enabledClaimKinds() internal pure override returns (uint8) {
        return PRODUCTION_KINDS;
    }

    function expectDisabled(ClaimManager.ClaimInput memory c) internal {
        bytes[] memory sigs = signAttestation(c, sortedVerifierPks());
        vm.prank(claimant);
        vm.expectRevert(abi.encodeWithSelector(ClaimManager.ClaimManager__KindDisabled.selector, c.kind));
        claims.openClaim{value: terms.claimBond}(c, sigs);
    }

    function test_alignmentBreachDisabled_productionConfig() public view {
        (, uint8 kinds,) = claims.config();
        vm.assertEq(uint256(kinds), 1);
    }

    /// @dev The attack of the issue: a unanimous quorum attests an "alignment breach" of the
    /// honest host. Refused: the host keeps its stake.
    function test_alignmentBreachDisabled_alignmentBreach_reverts() public {
        ClaimManager.ClaimInput memory c;
        c.kind = ClaimKind.ALIGNMENT_BREACH;
        c.subjectId = licenseId;
        c.evidenceHash = keccak256("a transcript nobody can refute");
        c.servedAt = licenseStart(licenseId);
        expectDisabled(c);
        vm.assertEq(licenses.getLicense(licenseId).stake, 10 ether);
        vm.assertEq(claims.claimCount(), 0);
    }

    function test_alignmentBreachDisabled_leak_reverts() public {
        ClaimManager.ClaimInput memory c = claimInput(1);
        c.kind = ClaimKind.LEAK;
        expectDisabled(answeredAt(c, c.servedAt));
    }

    function test_alignmentBreachDisabled_lineage_reverts() public {
        // A derived model and a family whose lineage root holds the fixture's leaves: a claim that
        // would open under ALL_KINDS.
        address[] memory o = new address[](1);
        o[0] = ownerA;
        uint256[] memory s = new uint256[](1);
        s[0] = 1;
        vm.prank(admin);
        uint256 family = registry.registerModel(o, s, signer, terms, fingerprintRoot, keccak256("family"));
        vm.warp(block.timestamp + 1); // a family accuses only models registered after its root
        vm.deal(admin, terms.registrationStake);
        vm.prank(admin);
        uint256 derived = registry.registerDerivedModel{value: terms.registrationStake}(
            modelId, o, s, signer, terms, bytes32(0), keccak256("derived")
        );
        ClaimManager.ClaimInput memory c = claimInput(2);
        c.kind = ClaimKind.LINEAGE;
        c.subjectId = derived;
        c.familyId = family;
        // Everything else about it holds: the family's root is the one the leaf is proven against.
        (uint256 stake, bytes32 root,,) = registry.lineageClaimInfo(derived, family);
        vm.assertEq(root, fingerprintRoot);
        vm.assertEq(stake, terms.registrationStake);
        expectDisabled(answeredAt(c, c.servedAt));
    }

    /// @dev The one kind enabled works as before.
    function test_alignmentBreachDisabled_unpermittedUseStillOpens() public {
        (uint256 id, ClaimManager.ClaimRecord memory r) = openAs(claimant, claimInput(0), firstVerifiers(3));
        vm.assertTrue(claims.matchesRecord(id, r));
    }
}
