// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ClaimHelpers, TestMerkle} from "../base/ClaimHelpers.sol";
import {ClaimManager} from "../../src/ClaimManager.sol";
import {ClaimKind} from "../../src/lib/OMLTypes.sol";

/// @dev "One answer, two leaves": the owners commit a license's fingerprints, so a greedy owner can
/// put the same key in twice under two salts (even with two responses). When the host really did
/// serve that key once without σ, claims keyed by leaf let the owner's prover open two claims on
/// the one receipt and take two slashes for one offence. Claims are now keyed by the license's
/// answer to the query (ClaimManager.claimKey), whatever leaf proves it.
contract OneAnswerTwoLeavesAttackTest is ClaimHelpers {
    uint256 internal constant STAKE = 10 ether;
    uint256 internal lic;
    ClaimManager.ClaimInput internal first;
    ClaimManager.ClaimInput internal second;

    function setUp() public override {
        super.setUp();
        lic = acquire(host, STAKE);
        bytes32 q = keccak256("the one key");
        bytes32[] memory ls = new bytes32[](3);
        ls[0] = leafOf(q, keccak256("response"), keccak256("salt A"));
        ls[1] = leafOf(q, keccak256("another response"), keccak256("salt B"));
        ls[2] = leafOf(keccak256("an honest key"), keccak256("r"), keccak256("s"));
        vm.prank(admin);
        licenses.setFingerprintCommitment(lic, TestMerkle.root(ls), keccak256("weights"));

        first = inputFor(q, keccak256("response"), keccak256("salt A"), TestMerkle.proof(ls, ls[0]));
        second = inputFor(q, keccak256("another response"), keccak256("salt B"), TestMerkle.proof(ls, ls[1]));
    }

    /// @dev The host's one answer to `q`, served without σ, claimed through one of its leaves.
    function inputFor(bytes32 q, bytes32 response, bytes32 salt, bytes32[] memory proof)
        internal
        view
        returns (ClaimManager.ClaimInput memory c)
    {
        c.kind = ClaimKind.UNPERMITTED_USE;
        c.subjectId = lic;
        c.queryHash = q;
        c.responseHash = response;
        c.salt = salt;
        c.proof = proof;
        c.evidenceHash = keccak256(abi.encode("transcript", salt));
        c = answeredAt(c, licenseStart(lic) + 60);
    }

    /// @dev Opens `c` with a quorum's attestations, expecting the revert `err`.
    function expectOpenReverts(ClaimManager.ClaimInput memory c, bytes memory err) internal {
        bytes[] memory sigs = signAttestation(c, sortByAddress(firstVerifiers(3)));
        uint256 bond = terms.claimBond;
        vm.deal(claimant, claimant.balance + bond);
        vm.prank(claimant);
        vm.expectRevert(err);
        claims.openClaim{value: bond}(c, sigs);
    }

    function test_oneAnswerTwoLeaves_secondClaimRefusedWhileTheFirstIsOpen() public {
        (uint256 id,) = openAs(claimant, first, firstVerifiers(3));
        bytes32 key = claims.claimKey(false, lic, 0, first.queryHash);
        vm.assertEq(claims.claimOf(key), id);
        expectOpenReverts(second, abi.encodeWithSelector(ClaimManager.ClaimManager__AnswerUnderClaim.selector, key, id));
        vm.assertEq(claims.openClaims(false, lic), 1, "one offence, one claim");
    }

    function test_oneAnswerTwoLeaves_secondClaimRefusedAfterTheFirstExecuted() public {
        (uint256 id, ClaimManager.ClaimRecord memory r) = openAs(claimant, first, firstVerifiers(3));
        vm.warp(r.deadline);
        claims.execute(id, r);
        uint256 stakeLeft = licenses.getLicense(lic).stake;
        bytes32 key = claims.claimKey(false, lic, 0, first.queryHash);
        expectOpenReverts(
            second, abi.encodeWithSelector(ClaimManager.ClaimManager__AnswerAlreadyClaimed.selector, key, id)
        );
        vm.assertEq(licenses.getLicense(lic).stake, stakeLeft, "slashed once");
    }

    /// @dev The family is part of the key, so a stray one on a license claim would be a way around
    /// it: refused.
    function test_oneAnswerTwoLeaves_strayFamilyRefused() public {
        openAs(claimant, first, firstVerifiers(3));
        ClaimManager.ClaimInput memory c = second;
        c.familyId = modelId;
        expectOpenReverts(c, abi.encodeWithSelector(ClaimManager.ClaimManager__UnexpectedFamily.selector, modelId));
    }

    /// @dev Keys are per license: the same query served without σ by two hosts is two offences.
    function test_oneAnswerTwoLeaves_sameQueryOnAnotherLicenseIsAnotherOffence() public view {
        vm.assertTrue(
            claims.claimKey(false, lic, 0, first.queryHash) != claims.claimKey(false, licenseId, 0, first.queryHash)
        );
        vm.assertTrue(
            claims.claimKey(false, lic, 0, first.queryHash) != claims.claimKey(true, lic, 0, first.queryHash),
            "a license and a model with the same id are different subjects"
        );
    }
}
