// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ClaimHelpers} from "../base/ClaimHelpers.sol";
import {ClaimManager} from "../../src/ClaimManager.sol";
import {VerifierRegistry} from "../../src/VerifierRegistry.sol";
import {Terms} from "../../src/lib/OMLTypes.sol";

/// @dev Issue 13, low: "attesters cannot leave before the window in which they can be penalized
/// ends" (and, item 3, stake that joins after a claim was seen cannot count in it). A claim's
/// challenge window must end before its attesters could withdraw (the verifiers' unbonding
/// period) and before any stake could activate (their activation delay): a model whose terms ask
/// for a longer window cannot have claims opened under them.
contract AttesterEarlyExitAttackTest is ClaimHelpers {
    /// @dev A license under terms with challenge window `window` (the rest as the fixture's).
    function licenseWithWindow(uint32 window, bytes32 tag)
        internal
        returns (uint256 lic, ClaimManager.ClaimInput[] memory inputs)
    {
        Terms memory t = terms;
        t.challengeWindow = window;
        t.unbondingPeriod = window + 7 days;
        vm.prank(admin);
        registry.updateTerms(modelId, t);
        (lic, inputs) = licenseWithFingerprints(host, 10 ether, 2, tag);
        vm.warp(block.timestamp + CLOCK_SKEW);
    }

    function test_attesterEarlyExit_maxWindowBelowVerifierDelays() public view {
        (,, uint256 maxWindow) = claims.config();
        (, uint32 unbonding, uint32 activation,) = verifiers.config();
        vm.assertEq(maxWindow, uint256(activation) - 1, "the shorter of the two delays, less a second");
        vm.assertLt(maxWindow, unbonding);
    }

    /// @dev A window as long as the activation delay: stake joined once the claim is seen could
    /// count before the window ends. Refused.
    function test_attesterEarlyExit_windowAtActivationDelay_reverts() public {
        (, ClaimManager.ClaimInput[] memory inputs) = licenseWithWindow(VERIFIER_ACTIVATION, "long");
        bytes[] memory sigs = signAttestation(inputs[0], firstVerifiers(3));
        vm.prank(claimant);
        vm.expectRevert(
            abi.encodeWithSelector(
                ClaimManager.ClaimManager__WindowTooLong.selector, VERIFIER_ACTIVATION, VERIFIER_ACTIVATION
            )
        );
        claims.openClaim{value: terms.claimBond}(inputs[0], sigs);
    }

    /// @dev One second shorter is the longest window allowed.
    function test_attesterEarlyExit_windowJustBelowDelay_opens() public {
        (, ClaimManager.ClaimInput[] memory inputs) = licenseWithWindow(VERIFIER_ACTIVATION - 1, "edge");
        (uint256 id, ClaimManager.ClaimRecord memory r) = openAs(claimant, inputs[0], firstVerifiers(3));
        vm.assertEq(r.deadline, block.timestamp + VERIFIER_ACTIVATION - 1);
        vm.assertTrue(claims.matchesRecord(id, r));
    }

    /// @dev An attester that asks to leave the moment the claim opens is still there to pay when
    /// the claim is refuted: its stake unbonds for longer than the window.
    function test_attesterEarlyExit_leaverStillPenalized() public {
        (uint256 id, ClaimManager.ClaimRecord memory r) = openAs(claimant, claimInput(0), firstVerifiers(3));
        address[] memory att = sortedAttesters(3);
        address leaver = att[0];
        vm.prank(leaver);
        verifiers.requestLeave();
        uint256 unbondAt = block.timestamp + VERIFIER_UNBONDING;
        // Gone from the active set at once, but not able to withdraw within the window.
        vm.assertFalse(verifiers.isActive(leaver));
        vm.warp(r.deadline - 1);
        vm.prank(leaver);
        vm.expectRevert(
            abi.encodeWithSelector(VerifierRegistry.VerifierRegistry__StillUnbonding.selector, leaver, unbondAt)
        );
        verifiers.withdraw();
        // The host refutes at the last second; the leaver pays like the others.
        claims.refute(id, r, 1, r.servedAt, sigmaFor(r, 1));
        uint256 penalty = VERIFIER_MIN_STAKE * VERIFIER_PENALTY_BPS / 10_000;
        uint256 hostBefore = host.balance;
        vmc.expectEmit(address(verifiers));
        emit VerifierRegistry.VerifierPenalized(leaver, penalty, VERIFIER_MIN_STAKE - penalty, false);
        claims.penalizeAttesters(id, r, att);
        vm.assertEq(host.balance, hostBefore + 3 * penalty, "all three attesters paid");
        // It leaves with what is left, only after unbonding.
        vm.warp(unbondAt);
        uint256 before = leaver.balance;
        vm.prank(leaver);
        verifiers.withdraw();
        vm.assertEq(leaver.balance, before + VERIFIER_MIN_STAKE - penalty);
    }
}

/// @dev A deployment whose verifiers unbond in one day (shorter than their two-day activation
/// delay): a one-day challenge window would let an attester withdraw as the window ends, so no
/// claim under such terms opens.
contract ShortVerifierUnbondingAttackTest is ClaimHelpers {
    function verifierUnbonding() internal pure override returns (uint32) {
        return 1 days;
    }

    function test_attesterEarlyExit_windowAtUnbonding_reverts() public {
        (,, uint256 maxWindow) = claims.config();
        vm.assertEq(maxWindow, 1 days - 1, "bounded by the shorter unbonding");
        ClaimManager.ClaimInput memory c = claimInput(0);
        bytes[] memory sigs = signAttestation(c, firstVerifiers(3));
        vm.prank(claimant);
        vm.expectRevert(abi.encodeWithSelector(ClaimManager.ClaimManager__WindowTooLong.selector, 1 days, 1 days));
        claims.openClaim{value: terms.claimBond}(c, sigs);
        // Terms with a window below the unbonding open.
        Terms memory t = terms;
        t.challengeWindow = 1 days - 1;
        vm.prank(admin);
        registry.updateTerms(modelId, t);
        (, ClaimManager.ClaimInput[] memory inputs) = licenseWithFingerprints(host, 10 ether, 1, "short");
        (uint256 id,) = openAs(claimant, inputs[0], firstVerifiers(3));
        vm.assertEq(uint256(claims.claimStatus(id)), uint256(ClaimManager.ClaimStatus.Open));
    }
}
