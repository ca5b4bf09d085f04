// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ClaimHelpers} from "../base/ClaimHelpers.sol";
import {ClaimManager} from "../../src/ClaimManager.sol";
import {ClaimKind} from "../../src/lib/OMLTypes.sol";

/// @dev Issue 13, item 2 (second half): a host that strips the receipts from its answers leaves no
/// evidence it cannot deny, so before OBSERVED_USE it could serve every key without σ and never be
/// convicted. Now verifiers holding a stake quorum that each saw its endpoint serve fingerprints
/// without σ (services/verifier/observe) open an OBSERVED_USE claim; the time is theirs, and the
/// host's σ, if it had one, still refutes.
contract ReceiptStrippingAttackTest is ClaimHelpers {
    /// @dev The quorum's claim that the license served fixture key `i` without σ at `servedAt`.
    function observed(uint256 i, uint64 servedAt) internal view returns (ClaimManager.ClaimInput memory c) {
        c = claimInput(i);
        c.kind = ClaimKind.OBSERVED_USE;
        c.servedAt = servedAt;
        c.answerHash = bytes32(0);
        c.receipt = "";
    }

    function test_receiptStripping_observedByAQuorum_isSlashed() public {
        uint64 seenAt = licenseStart(licenseId) + 1 hours;
        (uint256 id, ClaimManager.ClaimRecord memory r) = openAs(claimant, observed(0, seenAt), firstVerifiers(3));
        vm.assertEq(uint256(r.kind), uint256(ClaimKind.OBSERVED_USE));
        vm.assertEq(r.servedAt, seenAt, "the quorum's time");
        // The cheater buys σ once it sees the claim: issued after the observation, it clears nothing.
        uint64 boughtAt = uint64(block.timestamp);
        bytes memory late = permissionSig(SIGNER_PK, licenseId, r.queryHash, 1, boughtAt);
        vm.prank(host);
        vm.expectRevert(
            abi.encodeWithSelector(ClaimManager.ClaimManager__PermissionAfterAnswer.selector, boughtAt, seenAt)
        );
        claims.refute(id, r, 1, boughtAt, late);
        uint256 stake = licenses.getLicense(licenseId).stake;
        vm.warp(r.deadline);
        claims.execute(id, r);
        vm.assertEq(licenses.getLicense(licenseId).stake, stake - r.slashAmount, "slashed");
    }

    /// @dev Verifiers misled (the owners' permission service said no σ existed) observe an honest
    /// host's answer: the σ it held when it answered refutes, and the attesters pay for it.
    function test_receiptStripping_misledQuorumOnAnHonestAnswer_isRefuted() public {
        uint64 seenAt = licenseStart(licenseId) + 1 hours;
        uint256 stake = licenses.getLicense(licenseId).stake;
        (uint256 id, ClaimManager.ClaimRecord memory r) = openAs(claimant, observed(1, seenAt), firstVerifiers(3));
        bytes memory sigma = permissionSig(SIGNER_PK, licenseId, r.queryHash, 4, seenAt - 1);
        vm.prank(host);
        claims.refute(id, r, 4, seenAt - 1, sigma);
        claims.penalizeAttesters(id, r, addressesOf(sortByAddress(firstVerifiers(3))));
        vm.assertEq(uint256(claims.claimStatus(id)), uint256(ClaimManager.ClaimStatus.AttestersPenalized));
        vm.assertEq(licenses.getLicense(licenseId).stake, stake, "the honest host keeps its stake");
    }

    /// @dev A prover or a minority of stake alone convicts nobody.
    function test_receiptStripping_belowQuorum_cannotOpen() public {
        ClaimManager.ClaimInput memory c = observed(0, licenseStart(licenseId) + 1 hours);
        vm.warp(uint256(c.servedAt) + CLOCK_SKEW);
        uint256[] memory two = sortByAddress(firstVerifiers(2));
        bytes[] memory sigs = signAttestation(c, two);
        vm.prank(claimant);
        vm.expectRevert();
        claims.openClaim{value: terms.claimBond}(c, sigs);
        vm.assertEq(claims.claimCount(), 0);
    }

    /// @dev The quorum's time must be in the past by a clock skew, like any answer's: verifiers
    /// cannot date an observation ahead to make any σ the host holds look early enough to miss.
    function test_receiptStripping_observationInTheFuture_refused() public {
        uint64 ahead = uint64(block.timestamp + 1 days);
        ClaimManager.ClaimInput memory c = observed(0, ahead);
        bytes[] memory sigs = signAttestation(c, sortByAddress(firstVerifiers(3)));
        vm.prank(claimant);
        vm.expectRevert(
            abi.encodeWithSelector(
                ClaimManager.ClaimManager__OpenedTooEarly.selector, ahead, uint256(ahead) + CLOCK_SKEW
            )
        );
        claims.openClaim{value: terms.claimBond}(c, sigs);
    }

    /// @dev An observed claim carries no receipt (a receipt makes it an UNPERMITTED_USE claim).
    function test_receiptStripping_observedClaimWithAReceipt_refused() public {
        ClaimManager.ClaimInput memory c = answeredAt(claimInput(0), licenseStart(licenseId) + 1 hours);
        c.kind = ClaimKind.OBSERVED_USE;
        vm.warp(uint256(c.servedAt) + CLOCK_SKEW);
        bytes[] memory sigs = signAttestation(c, sortByAddress(firstVerifiers(3)));
        vm.prank(claimant);
        vm.expectRevert(abi.encodeWithSelector(ClaimManager.ClaimManager__UnexpectedReceipt.selector));
        claims.openClaim{value: terms.claimBond}(c, sigs);
    }

    /// @dev One answer, one claim: observed and receipted claims share the license's key of the query.
    function test_receiptStripping_receiptedClaimBlocksAnObservedOneOnTheSameAnswer() public {
        uint64 servedAt = licenseStart(licenseId) + 1 hours;
        (uint256 id,) = openAs(claimant, answeredAt(claimInput(2), servedAt), firstVerifiers(3));
        ClaimManager.ClaimInput memory c = observed(2, servedAt + 5);
        vm.warp(uint256(c.servedAt) + CLOCK_SKEW);
        bytes[] memory sigs = signAttestation(c, sortByAddress(firstVerifiers(3)));
        vm.prank(claimant);
        vm.expectRevert(
            abi.encodeWithSelector(
                ClaimManager.ClaimManager__AnswerUnderClaim.selector,
                claims.claimKey(false, licenseId, 0, queryHashes[2]),
                id
            )
        );
        claims.openClaim{value: terms.claimBond}(c, sigs);
    }
}
