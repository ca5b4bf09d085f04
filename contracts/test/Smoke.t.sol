// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {OMLFixture} from "./base/OMLFixture.sol";
import {ClaimManager} from "../src/ClaimManager.sol";

contract SmokeTest is OMLFixture {
    function test_fullCycle() public {
        (uint256 id, ClaimManager.ClaimRecord memory r) = openClaimOn(0);
        vm.assertTrue(claims.matchesRecord(id, r), "record");
        vm.warp(block.timestamp + terms.challengeWindow);
        claims.execute(id, r);
        vm.assertEq(uint256(claims.claimStatus(id)), uint256(ClaimManager.ClaimStatus.Executed));
    }

    function test_gas() public {
        vm.prank(host);
        usage.depositEscrow{value: 1 ether}(licenseId);
        bytes memory v1 = voucherSig(SIGNER_PK, licenseId, 10, 0.01 ether, keccak256("r1"));
        bytes memory v2 = voucherSig(SIGNER_PK, licenseId, 20, 0.02 ether, keccak256("r2"));
        usage.settle(licenseId, 10, 0.01 ether, keccak256("r1"), v1);
        usage.settle(licenseId, 20, 0.02 ether, keccak256("r2"), v2);
        openClaimOn(1);
        (uint256 id, ClaimManager.ClaimRecord memory r) = openClaimOn(0);
        bytes memory sig = permissionSig(SIGNER_PK, licenseId, r.queryHash, 7, uint64(block.timestamp));
        vm.prank(host);
        claims.refute(id, r, 7, uint64(block.timestamp), sig);
    }
}
