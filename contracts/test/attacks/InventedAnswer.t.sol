// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ClaimHelpers} from "../base/ClaimHelpers.sol";
import {ClaimManager} from "../../src/ClaimManager.sol";
import {ClaimKind} from "../../src/lib/OMLTypes.sol";

/// @dev Issue 13, item 2: "no conviction on evidence the host never produced". Whoever holds
/// unused fingerprint keys (the owners, their provers: they gain from a slash) writes a
/// transcript in which the honest host "answered" a key, all verifiers attest it, the watcher
/// finds no σ, and the host is slashed although its endpoint was never contacted. Now an
/// UNPERMITTED_USE claim must carry the accused gateway's own signed receipt of that very answer
/// (license, query, answer hash, serving time, σ reference): without it, or with one signed by
/// anyone else or for anything else, the claim does not open, whatever the quorum says.
contract InventedAnswerAttackTest is ClaimHelpers {
    uint256 internal constant PROVER_PK = 0x9807;

    /// @dev Fixture claim `i` served an hour into the license with the gateway's genuine receipt.
    function genuine(uint256 i) internal view returns (ClaimManager.ClaimInput memory) {
        return answeredAt(claimInput(i), licenseStart(licenseId) + 1 hours);
    }

    /// @dev Attests `c` with all four verifiers (a unanimous, honest quorum) and expects `err`.
    function expectOpenReverts(ClaimManager.ClaimInput memory c, bytes memory err) internal {
        if (block.timestamp < uint256(c.servedAt) + CLOCK_SKEW) vm.warp(uint256(c.servedAt) + CLOCK_SKEW);
        bytes[] memory sigs = signAttestation(c, sortedVerifierPks());
        vm.prank(claimant);
        vm.expectRevert(err);
        claims.openClaim{value: terms.claimBond}(c, sigs);
    }

    /// @dev The address a receipt signature recovers to over the digest of what `c` claims.
    function recoveredFrom(ClaimManager.ClaimInput memory c) internal view returns (address) {
        return recoverOf(
            claims.receiptDigest(c.subjectId, c.queryHash, c.answerHash, c.servedAt, c.receiptPermission), c.receipt
        );
    }

    function notByAccused(address signer_) internal view returns (bytes memory) {
        return abi.encodeWithSelector(ClaimManager.ClaimManager__ReceiptNotByAccused.selector, signer_, gateway);
    }

    function test_inventedAnswer_withoutReceipt_reverts() public {
        ClaimManager.ClaimInput memory c = genuine(0);
        c.receipt = "";
        expectOpenReverts(c, abi.encodeWithSelector(ClaimManager.ClaimManager__ReceiptRequired.selector));
    }

    /// @dev The prover (or any owner) signs the receipt itself: it is not the accused gateway.
    function test_inventedAnswer_receiptByProver_reverts() public {
        ClaimManager.ClaimInput memory c = genuine(0);
        c.receipt = sign(
            PROVER_PK, claims.receiptDigest(c.subjectId, c.queryHash, c.answerHash, c.servedAt, c.receiptPermission)
        );
        expectOpenReverts(c, notByAccused(vm.addr(PROVER_PK)));
        c.receipt = sign(
            ADMIN_PK, claims.receiptDigest(c.subjectId, c.queryHash, c.answerHash, c.servedAt, c.receiptPermission)
        );
        expectOpenReverts(c, notByAccused(admin));
        // Not even the permission signer's key can speak for the host's gateway.
        c.receipt = sign(
            SIGNER_PK, claims.receiptDigest(c.subjectId, c.queryHash, c.answerHash, c.servedAt, c.receiptPermission)
        );
        expectOpenReverts(c, notByAccused(signer));
    }

    /// @dev The license fixed its receipt signer at acquisition: a signature by the host's own
    /// account key (a key that may be shared, or leaked) is not the gateway's and proves nothing.
    function test_inventedAnswer_receiptByHostAccountKey_reverts() public {
        vm.assertTrue(host != gateway);
        ClaimManager.ClaimInput memory c = genuine(0);
        c.receipt = sign(
            HOST_PK, claims.receiptDigest(c.subjectId, c.queryHash, c.answerHash, c.servedAt, c.receiptPermission)
        );
        expectOpenReverts(c, notByAccused(host));
    }

    /// @dev A genuine receipt for another serving time is no receipt for this one (so a claimant
    /// cannot move an answer before the σ the host held).
    function test_inventedAnswer_receiptForAnotherServedAt_reverts() public {
        ClaimManager.ClaimInput memory c = genuine(0);
        c.servedAt -= 30 minutes;
        address recovered = recoveredFrom(c);
        vm.assertTrue(recovered != gateway);
        expectOpenReverts(c, notByAccused(recovered));
    }

    function test_inventedAnswer_receiptForAnotherAnswer_reverts() public {
        ClaimManager.ClaimInput memory c = genuine(0);
        c.answerHash = keccak256("an answer the host never gave");
        address recovered = recoveredFrom(c);
        vm.assertTrue(recovered != gateway);
        expectOpenReverts(c, notByAccused(recovered));
        // Nor may the σ reference the gateway stated be dropped (the host served with σ).
        c = genuine(0);
        c.receiptPermission = keccak256("a sigma");
        c = answeredAt(c, c.servedAt);
        c.receiptPermission = bytes32(0);
        recovered = recoveredFrom(c);
        expectOpenReverts(c, notByAccused(recovered));
    }

    /// @dev The gateway's receipt of query 1 (a query it did answer) used on the leaf of query 0.
    function test_inventedAnswer_receiptForAnotherQuery_reverts() public {
        ClaimManager.ClaimInput memory other = genuine(1);
        ClaimManager.ClaimInput memory c = genuine(0);
        c.receipt = other.receipt;
        c.answerHash = other.answerHash;
        address recovered = recoveredFrom(c);
        vm.assertTrue(recovered != gateway);
        expectOpenReverts(c, notByAccused(recovered));
    }

    /// @dev A receipt of the same gateway for another license (the fixture's licenses share a
    /// gateway key) does not carry over: the license id is signed.
    function test_inventedAnswer_receiptForAnotherLicense_reverts() public {
        uint256 other = acquire(host, 10 ether);
        ClaimManager.ClaimInput memory c = genuine(0);
        ClaimManager.ClaimInput memory o = genuine(0);
        o.subjectId = other;
        o = answeredAt(o, c.servedAt > licenseStart(other) ? c.servedAt : licenseStart(other));
        c.servedAt = o.servedAt;
        c.receipt = o.receipt;
        address recovered = recoveredFrom(c);
        vm.assertTrue(recovered != gateway);
        expectOpenReverts(c, notByAccused(recovered));
    }

    /// @dev Only UNPERMITTED_USE rests on a receipt; no other kind may carry one (so a receipt
    /// never pretends to be evidence where it is not checked).
    function test_inventedAnswer_receiptOnOtherKinds_reverts() public {
        ClaimManager.ClaimInput memory c = genuine(2);
        c.kind = ClaimKind.LEAK;
        expectOpenReverts(c, abi.encodeWithSelector(ClaimManager.ClaimManager__UnexpectedReceipt.selector));
        c.kind = ClaimKind.ALIGNMENT_BREACH;
        c.evidenceHash = keccak256("alignment transcript");
        expectOpenReverts(c, abi.encodeWithSelector(ClaimManager.ClaimManager__UnexpectedReceipt.selector));
    }

    /// @dev The control: the same claim with the gateway's genuine receipt opens.
    function test_inventedAnswer_genuineReceiptOpens() public {
        ClaimManager.ClaimInput memory c = genuine(0);
        vm.assertEq(recoveredFrom(c), gateway);
        (uint256 id, ClaimManager.ClaimRecord memory r) = openAs(claimant, c, sortedVerifierPks());
        vm.assertTrue(claims.matchesRecord(id, r));
        vm.assertEq(r.servedAt, c.servedAt, "the receipt's time is the record's");
    }
}
