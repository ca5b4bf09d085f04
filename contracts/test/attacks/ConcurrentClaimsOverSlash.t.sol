// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ClaimHelpers, TestMerkle} from "../base/ClaimHelpers.sol";
import {ClaimManager} from "../../src/ClaimManager.sol";
import {Terms, ClaimKind} from "../../src/lib/OMLTypes.sol";

/// @dev Issue 13, item 3: "two open claims each snapshot the full stake". Several claims opened
/// together against one stake each reserved stake × slashBps of the whole stake, so together they
/// promised more than there was (and rewarded their claimants on amounts no execute could take).
/// Now each claim reserves only what the open ones left: the pending slashes of a subject never
/// exceed its stake, a claim that finds nothing left is refused, executing them all takes exactly
/// what they reserved, and a refutation frees its reservation.
contract ConcurrentClaimsOverSlashAttackTest is ClaimHelpers {
    uint256 internal constant STAKE = 10 ether;

    function stakeOf(uint256 lic) internal view returns (uint256) {
        return licenses.getLicense(lic).stake;
    }

    function test_concurrentClaims_twoClaimsReserveAtMostTheStake_thirdReverts() public {
        // slashBps 50 %: the first two reserve 5 + 5 of the 10 staked, nothing is left.
        (, ClaimManager.ClaimRecord memory r1) = openAs(claimant, claimInput(0), firstVerifiers(3));
        (, ClaimManager.ClaimRecord memory r2) = openAs(claimant, claimInput(1), firstVerifiers(3));
        vm.assertEq(r1.slashAmount + r2.slashAmount, STAKE);
        vm.assertEq(claims.pendingSlash(false, licenseId), STAKE);
        ClaimManager.ClaimInput memory c = claimInput(2);
        bytes[] memory sigs = signAttestation(c, firstVerifiers(3));
        vm.prank(claimant);
        vm.expectRevert(abi.encodeWithSelector(ClaimManager.ClaimManager__NothingLeftToSlash.selector, licenseId));
        claims.openClaim{value: terms.claimBond}(c, sigs);
    }

    /// @dev Three concurrent claims at 40 %: 4 + 4 + the 2 left; a fourth finds nothing. Executing
    /// them all takes exactly the stake, never more, and every execute finds its whole amount.
    function test_concurrentClaims_threeClaimsCappedAndExecutedWithinStake() public {
        Terms memory t = terms;
        t.slashBps = 4_000;
        vm.prank(admin);
        registry.updateTerms(modelId, t);
        (uint256 lic, ClaimManager.ClaimInput[] memory inputs) = licenseWithFingerprints(host, STAKE, 4, "three");
        uint256[] memory ids = new uint256[](3);
        ClaimManager.ClaimRecord[] memory rs = new ClaimManager.ClaimRecord[](3);
        for (uint256 i; i < 3; ++i) {
            (ids[i], rs[i]) = openAs(claimant, inputs[i], firstVerifiers(3));
        }
        vm.assertEq(rs[0].slashAmount, 4 ether);
        vm.assertEq(rs[1].slashAmount, 4 ether);
        vm.assertEq(rs[2].slashAmount, 2 ether, "only what the first two left");
        vm.assertEq(rs[2].reward, uint256(2 ether) * terms.claimantRewardBps / 10_000, "rewarded on what it can take");
        vm.assertEq(claims.pendingSlash(false, lic), STAKE);
        bytes[] memory sigs = signAttestation(inputs[3], firstVerifiers(3));
        vm.prank(claimant);
        vm.expectRevert(abi.encodeWithSelector(ClaimManager.ClaimManager__NothingLeftToSlash.selector, lic));
        claims.openClaim{value: terms.claimBond}(inputs[3], sigs);

        vm.warp(rs[2].deadline);
        uint256 total;
        for (uint256 i; i < 3; ++i) {
            uint256 before = stakeOf(lic);
            claims.execute(ids[i], rs[i]);
            vm.assertEq(before - stakeOf(lic), rs[i].slashAmount, "each execute takes what it reserved");
            total += before - stakeOf(lic);
            vm.assertLe(claims.pendingSlash(false, lic), stakeOf(lic));
        }
        vm.assertEq(total, STAKE, "together exactly the stake");
        vm.assertEq(stakeOf(lic), 0);
        vm.assertEq(claims.pendingSlash(false, lic), 0);
        vm.assertEq(address(claims).balance, 0);
    }

    /// @dev Refuting a claim frees its reservation: a new claim can reserve it again.
    function test_concurrentClaims_refutationFreesReservation() public {
        (uint256 id1, ClaimManager.ClaimRecord memory r1) = openAs(claimant, claimInput(0), firstVerifiers(3));
        openAs(claimant, claimInput(1), firstVerifiers(3));
        vm.assertEq(claims.pendingSlash(false, licenseId), STAKE);
        claims.refute(id1, r1, 1, r1.servedAt, sigmaFor(r1, 1));
        vm.assertEq(claims.pendingSlash(false, licenseId), STAKE - r1.slashAmount);
        (, ClaimManager.ClaimRecord memory r3) = openAs(claimant, claimInput(2), firstVerifiers(3));
        vm.assertEq(r3.slashAmount, r1.slashAmount, "the freed amount is reservable again");
        vm.assertEq(claims.pendingSlash(false, licenseId), STAKE);
        vm.assertEq(stakeOf(licenseId), STAKE, "a refutation never touches the stake");
    }

    /// @dev Stake added while claims are open backs new claims (each reserves of the stake at
    /// its own opening), and the earlier reservations stay as they were.
    function test_concurrentClaims_addedStakeBacksNewClaims() public {
        (, ClaimManager.ClaimRecord memory r1) = openAs(claimant, claimInput(0), firstVerifiers(3));
        openAs(claimant, claimInput(1), firstVerifiers(3));
        vm.prank(host);
        licenses.addStake{value: 10 ether}(licenseId);
        (, ClaimManager.ClaimRecord memory r3) = openAs(claimant, claimInput(2), firstVerifiers(3));
        vm.assertEq(r1.slashAmount, 5 ether);
        vm.assertEq(r3.slashAmount, 10 ether, "half of 20, all of what was free");
        vm.assertEq(claims.pendingSlash(false, licenseId), 20 ether);
    }

    /// @dev The same cap holds for registration stakes (LINEAGE claims).
    function test_concurrentClaims_lineageReservationsWithinRegistrationStake() public {
        bytes32[] memory ls = new bytes32[](3);
        ClaimManager.ClaimInput[] memory cs = new ClaimManager.ClaimInput[](3);
        for (uint256 i; i < 3; ++i) {
            cs[i].kind = ClaimKind.LINEAGE;
            cs[i].queryHash = keccak256(abi.encode("lq", i));
            cs[i].responseHash = keccak256(abi.encode("lr", i));
            cs[i].salt = keccak256(abi.encode("ls", i));
            cs[i].evidenceHash = keccak256(abi.encode("le", i));
            cs[i].servedAt = uint64(block.timestamp - CLOCK_SKEW);
            ls[i] = leafOf(cs[i].queryHash, cs[i].responseHash, cs[i].salt);
        }
        Terms memory ft = terms;
        ft.slashBps = 6_000;
        address[] memory o = new address[](1);
        o[0] = ownerB;
        uint256[] memory s = new uint256[](1);
        s[0] = 1;
        vm.prank(admin);
        uint256 family = registry.registerModel(o, s, signer, ft, TestMerkle.root(ls), keccak256("fam"));
        vm.warp(block.timestamp + 1); // a family accuses only models registered after its root
        vm.deal(admin, terms.registrationStake);
        vm.prank(admin);
        uint256 derived = registry.registerDerivedModel{value: terms.registrationStake}(
            modelId, o, s, signer, terms, bytes32(0), keccak256("derived")
        );
        for (uint256 i; i < 3; ++i) {
            cs[i].subjectId = derived;
            cs[i].familyId = family;
            cs[i].proof = TestMerkle.proof(ls, ls[i]);
        }
        (, ClaimManager.ClaimRecord memory r1) = openAs(claimant, cs[0], firstVerifiers(3));
        (, ClaimManager.ClaimRecord memory r2) = openAs(claimant, cs[1], firstVerifiers(3));
        vm.assertEq(r1.slashAmount, 3 ether); // 60 % of 5
        vm.assertEq(r2.slashAmount, 2 ether, "the 2 left, not another 3");
        vm.assertEq(claims.pendingSlash(true, derived), 5 ether);
        vm.assertEq(claims.pendingSlash(false, derived), 0, "license books untouched");
        bytes[] memory sigs = signAttestation(cs[2], firstVerifiers(3));
        vm.prank(claimant);
        vm.expectRevert(abi.encodeWithSelector(ClaimManager.ClaimManager__NothingLeftToSlash.selector, derived));
        claims.openClaim{value: terms.claimBond}(cs[2], sigs);
    }
}
