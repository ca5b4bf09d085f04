// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ClaimHelpers} from "../base/ClaimHelpers.sol";
import {ClaimManager} from "../../src/ClaimManager.sol";
import {VerifierRegistry} from "../../src/VerifierRegistry.sol";

/// @dev Issue 13, item 3: "quorum is stake, not head count". Before the fix three fresh 1-ETH
/// accounts raised a head-count quorum so that the four honest verifiers could no longer open any
/// claim, and eight of them opened claims on their own. Now fresh stake counts only after an
/// activation delay longer than any challenge window (accounts made once a claim is seen sway
/// nothing), and a quorum is two thirds of the active stake, however many heads hold it.
contract SybilVerifiersAttackTest is ClaimHelpers {
    uint256 internal constant SYBIL_PK = 0x5B00;

    function sybilPks(uint256 n, uint256 offset) internal pure returns (uint256[] memory pks) {
        pks = new uint256[](n);
        for (uint256 i; i < n; ++i) {
            pks[i] = SYBIL_PK + offset + i + 1;
        }
    }

    function joinAll(uint256[] memory pks, uint256 stakeEach) internal {
        for (uint256 i; i < pks.length; ++i) {
            address a = vm.addr(pks[i]);
            vm.deal(a, stakeEach);
            vm.prank(a);
            verifiers.join{value: stakeEach}();
        }
    }

    function activateAll(uint256[] memory pks) internal {
        for (uint256 i; i < pks.length; ++i) {
            verifiers.activate(vm.addr(pks[i]));
        }
    }

    function concat(uint256[] memory a, uint256[] memory b) internal pure returns (uint256[] memory c) {
        c = new uint256[](a.length + b.length);
        for (uint256 i; i < a.length; ++i) {
            c[i] = a[i];
        }
        for (uint256 i; i < b.length; ++i) {
            c[a.length + i] = b[i];
        }
    }

    function expectOpenReverts(ClaimManager.ClaimInput memory c, uint256[] memory pks, bytes memory err) internal {
        bytes[] memory sigs = signAttestation(c, sortByAddress(pks));
        vm.prank(claimant);
        vm.expectRevert(err);
        claims.openClaim{value: terms.claimBond}(c, sigs);
    }

    /// @dev Three sybils join as a claim is about to be opened: they can neither attest nor move
    /// the quorum, and the honest three of four still open the claim.
    function test_sybils_joinedNotActivated_cannotAttestNorBlock() public {
        uint256 activeBefore = verifiers.activeStake();
        uint256 quorumBefore = verifiers.quorumStake();
        uint256[] memory sybils = sybilPks(3, 0);
        joinAll(sybils, VERIFIER_MIN_STAKE);
        vm.assertEq(verifiers.activeStake(), activeBefore, "joined stake does not count");
        vm.assertEq(verifiers.quorumStake(), quorumBefore, "the quorum did not move");
        vm.assertEq(verifiers.activeCount(), 4);
        ClaimManager.ClaimInput memory c = claimInput(0);
        // The sybils attest alone, or together with honest verifiers: not active.
        expectOpenReverts(c, sybils, abi.encodeWithSelector(ClaimManager.ClaimManager__AttesterNotActive.selector));
        expectOpenReverts(
            c,
            concat(sybils, firstVerifiers(1)),
            abi.encodeWithSelector(ClaimManager.ClaimManager__AttesterNotActive.selector)
        );
        // Three honest verifiers of four still hold two thirds of the active stake.
        (uint256 id,) = openAs(claimant, c, firstVerifiers(3));
        vm.assertEq(uint256(claims.claimStatus(id)), uint256(ClaimManager.ClaimStatus.Open));
    }

    /// @dev The delay cannot be skipped, by the joiner or anyone.
    function test_sybils_activationBeforeDelay_reverts() public {
        uint256[] memory sybils = sybilPks(1, 0);
        joinAll(sybils, VERIFIER_MIN_STAKE);
        address s = vm.addr(sybils[0]);
        uint256 readyAt = block.timestamp + VERIFIER_ACTIVATION;
        vm.expectRevert(
            abi.encodeWithSelector(VerifierRegistry.VerifierRegistry__NotYetActivatable.selector, s, readyAt)
        );
        verifiers.activate(s);
        vm.warp(readyAt - 1);
        vm.prank(s);
        vm.expectRevert(
            abi.encodeWithSelector(VerifierRegistry.VerifierRegistry__NotYetActivatable.selector, s, readyAt)
        );
        verifiers.activate(s);
        // Longer than any challenge window the ClaimManager accepts.
        (,, uint256 maxWindow) = claims.config();
        vm.assertGt(VERIFIER_ACTIVATION, maxWindow);
    }

    /// @dev Once active, weight is stake: one verifier holding two thirds of the active stake is
    /// a quorum alone, and the four honest heads (a third of it) are not.
    function test_sybils_activated_oneHeavyVerifierIsAQuorum() public {
        uint256[] memory whale = sybilPks(1, 0);
        joinAll(whale, 8 ether);
        vm.warp(block.timestamp + VERIFIER_ACTIVATION);
        activateAll(whale);
        vm.assertEq(verifiers.activeStake(), 12 ether);
        ClaimManager.ClaimInput memory c = claimInput(0);
        expectOpenReverts(
            c,
            sortedVerifierPks(),
            abi.encodeWithSelector(ClaimManager.ClaimManager__QuorumNotReached.selector, 4 ether, 12 ether)
        );
        (uint256 id,) = openAs(claimant, c, whale);
        vm.assertEq(uint256(claims.claimStatus(id)), uint256(ClaimManager.ClaimStatus.Open), "8 of 12: two thirds");
    }

    /// @dev Many small verifiers are many heads but little stake: ten of eleven heads holding a
    /// third of the stake do not make a quorum.
    function test_sybils_activated_manySmallBelowTwoThirds_revert() public {
        uint256[] memory whale = sybilPks(1, 0);
        uint256[] memory small = sybilPks(6, 100);
        joinAll(whale, 20 ether);
        joinAll(small, VERIFIER_MIN_STAKE);
        vm.warp(block.timestamp + VERIFIER_ACTIVATION);
        activateAll(whale);
        activateAll(small);
        vm.assertEq(verifiers.activeCount(), 11);
        vm.assertEq(verifiers.activeStake(), 30 ether);
        uint256[] memory heads = concat(small, sortedVerifierPks());
        expectOpenReverts(
            claimInput(0),
            heads,
            abi.encodeWithSelector(ClaimManager.ClaimManager__QuorumNotReached.selector, 10 ether, 30 ether)
        );
    }

    /// @dev Exactly two thirds of the stake is a quorum, one wei less is not (signed × 3 >=
    /// active × 2), whatever the number of heads on either side.
    function test_sybils_quorumBoundaryIsTwoThirdsOfStake() public {
        uint256[] memory a = sybilPks(1, 0);
        uint256[] memory b = sybilPks(1, 1);
        joinAll(a, 5 ether - 1);
        joinAll(b, 3 ether + 1);
        vm.warp(block.timestamp + VERIFIER_ACTIVATION);
        activateAll(a);
        activateAll(b);
        vm.assertEq(verifiers.activeStake(), 12 ether);
        vm.assertEq(verifiers.quorumStake(), 8 ether);
        // Four heads, one wei short.
        expectOpenReverts(
            claimInput(0),
            concat(a, firstVerifiers(3)),
            abi.encodeWithSelector(ClaimManager.ClaimManager__QuorumNotReached.selector, 8 ether - 1, 12 ether)
        );
        // Two heads, exactly two thirds.
        (uint256 id,) = openAs(claimant, claimInput(0), concat(a, b));
        vm.assertEq(uint256(claims.claimStatus(id)), uint256(ClaimManager.ClaimStatus.Open));
    }
}
