// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ClaimHelpers} from "../base/ClaimHelpers.sol";
import {ClaimManager} from "../../src/ClaimManager.sol";
import {ModelRegistry} from "../../src/ModelRegistry.sol";

/// @dev Issue 13, item 7: "a replaced signer key clears nothing new". The permission signer's key
/// leaks to a cheating host, which signs itself a σ for every claim against it. Rotation takes a
/// day, during which the thief's σ kept clearing claims. Now the admin revokes the key at once:
/// σ by it with an issue time from the revocation on clear nothing. σ issued before still do, so
/// an honest host keeps what it was given (a revocation cannot reach back, or a greedy admin
/// could void the σ of hosts it wants slashed).
contract LeakedSignerAttackTest is ClaimHelpers {
    uint256 internal constant NEW_PK = 0x5252;
    address internal newSigner;

    function setUp() public override {
        super.setUp();
        newSigner = vm.addr(NEW_PK);
    }

    function revoke() internal returns (uint64 revokedAt) {
        revokedAt = uint64(block.timestamp);
        vmc.expectEmit(address(registry));
        emit ModelRegistry.SignerRevoked(modelId, signer, newSigner);
        vm.prank(admin);
        registry.revokeSigner(modelId, newSigner);
    }

    /// @dev The thief's σ for answers it served without σ after the revocation clear nothing,
    /// even issued at the revocation's very second; the new signer's do.
    function test_leakedSigner_revokedKeyCannotRefute() public {
        uint64 revokedAt = revoke();
        uint64 servedAt = revokedAt + 1 hours;
        (uint256 id, ClaimManager.ClaimRecord memory r) =
            openAs(claimant, answeredAt(claimInput(0), servedAt), firstVerifiers(3));
        bytes memory stolen = permissionSig(SIGNER_PK, licenseId, r.queryHash, 1, servedAt);
        vm.prank(host);
        vm.expectRevert(abi.encodeWithSelector(ClaimManager.ClaimManager__NotPermissionSigner.selector, signer));
        claims.refute(id, r, 1, servedAt, stolen);
        stolen = permissionSig(SIGNER_PK, licenseId, r.queryHash, 1, revokedAt);
        vm.prank(host);
        vm.expectRevert(abi.encodeWithSelector(ClaimManager.ClaimManager__NotPermissionSigner.selector, signer));
        claims.refute(id, r, 1, revokedAt, stolen);
        // The new signer's σ (what an honest host would have held) refutes.
        bytes memory fresh = permissionSig(NEW_PK, licenseId, r.queryHash, 1, servedAt);
        claims.refute(id, r, 1, servedAt, fresh);
        vm.assertEq(uint256(claims.claimStatus(id)), uint256(ClaimManager.ClaimStatus.Refuted));
    }

    /// @dev The thief backdates: a σ "issued" a second before the revocation, for an answer it
    /// served without σ after it. Its issue time passes every time check, but a revoked key's σ
    /// clears only answers served before the revocation (found by review of the first fix).
    function test_leakedSigner_backdatedSigmaForALaterAnswerCannotRefute() public {
        vm.warp(block.timestamp + 1 hours);
        uint64 revokedAt = revoke();
        uint64 servedAt = revokedAt + 10 minutes;
        (uint256 id, ClaimManager.ClaimRecord memory r) =
            openAs(claimant, answeredAt(claimInput(2), servedAt), firstVerifiers(3));
        uint64 backdated = revokedAt - 1;
        bytes memory stolen = permissionSig(SIGNER_PK, licenseId, r.queryHash, 1, backdated);
        vm.assertTrue(registry.isPermissionSigner(modelId, signer, backdated), "the date alone passes");
        vm.assertFalse(registry.permissionClears(modelId, signer, backdated, servedAt), "but not for this answer");
        vm.prank(host);
        vm.expectRevert(abi.encodeWithSelector(ClaimManager.ClaimManager__NotPermissionSigner.selector, signer));
        claims.refute(id, r, 1, backdated, stolen);
        vm.assertEq(registry.signerRevokedAt(modelId, signer), revokedAt);
    }

    /// @dev An honest host that obtained σ from the old key before the revocation still refutes a
    /// claim opened after it.
    function test_leakedSigner_sigmaIssuedBeforeRevokeStillRefutes() public {
        uint64 servedAt = licenseStart(licenseId) + 1 hours;
        vm.warp(servedAt + 1 hours);
        uint64 revokedAt = revoke();
        (uint256 id, ClaimManager.ClaimRecord memory r) =
            openAs(claimant, answeredAt(claimInput(1), servedAt), firstVerifiers(3));
        bytes memory held = permissionSig(SIGNER_PK, licenseId, r.queryHash, 1, servedAt - 1 minutes);
        uint256 before = host.balance;
        vm.prank(host);
        claims.refute(id, r, 1, servedAt - 1 minutes, held);
        vm.assertEq(host.balance, before + r.bond);
        // One second before the revocation is the last issue time the old key speaks for.
        vm.assertTrue(registry.isPermissionSigner(modelId, signer, revokedAt - 1));
        vm.assertFalse(registry.isPermissionSigner(modelId, signer, revokedAt));
    }

    function test_leakedSigner_onlyAdminCanRevoke() public {
        address[3] memory outsiders = [host, signer, claimant];
        for (uint256 i; i < 3; ++i) {
            vm.prank(outsiders[i]);
            vm.expectRevert(
                abi.encodeWithSelector(ModelRegistry.ModelRegistry__NotAdmin.selector, modelId, outsiders[i])
            );
            registry.revokeSigner(modelId, outsiders[i]);
        }
        vm.assertEq(registry.permissionSigner(modelId), signer);
    }

    function test_leakedSigner_revokeToZeroOrSame_reverts() public {
        vm.startPrank(admin);
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.ModelRegistry__ZeroSigner.selector));
        registry.revokeSigner(modelId, address(0));
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.ModelRegistry__SameSigner.selector, signer));
        registry.revokeSigner(modelId, signer);
        vm.stopPrank();
        vm.assertTrue(registry.isPermissionSigner(modelId, signer, uint64(block.timestamp)));
    }

    /// @dev The key leaked while a rotation to it was pending: revoking the signer in force drops
    /// the rotation too, so the leaked key never takes over.
    function test_leakedSigner_revokeDropsPendingRotation() public {
        uint256 leakedPk = 0x5353;
        vm.prank(admin);
        registry.proposeSigner(modelId, vm.addr(leakedPk));
        revoke();
        vm.warp(block.timestamp + registry.SIGNER_ROTATION_DELAY());
        vm.assertEq(registry.permissionSigner(modelId), newSigner, "the dropped rotation never happens");
        uint64 servedAt = uint64(block.timestamp);
        (uint256 id, ClaimManager.ClaimRecord memory r) =
            openAs(claimant, answeredAt(claimInput(2), servedAt), firstVerifiers(3));
        bytes memory sigma = permissionSig(leakedPk, licenseId, r.queryHash, 1, servedAt);
        vm.expectRevert(
            abi.encodeWithSelector(ClaimManager.ClaimManager__NotPermissionSigner.selector, vm.addr(leakedPk))
        );
        claims.refute(id, r, 1, servedAt, sigma);
    }

    /// @dev The rotated-in key leaks after its rotation came due: revoking settles the rotation
    /// first and revokes that key, while the original signer keeps its σ issued before the switch.
    function test_leakedSigner_revokeAfterDueRotation() public {
        uint256 rotatedPk = 0x5454;
        uint64 proposedAt = uint64(block.timestamp);
        vm.prank(admin);
        registry.proposeSigner(modelId, vm.addr(rotatedPk));
        uint64 switchAt = uint64(proposedAt + registry.SIGNER_ROTATION_DELAY());
        vm.warp(switchAt + 1 hours);
        vmc.expectEmit(address(registry));
        emit ModelRegistry.SignerRevoked(modelId, vm.addr(rotatedPk), newSigner);
        vm.prank(admin);
        registry.revokeSigner(modelId, newSigner);
        uint64 revokedAt = uint64(block.timestamp);
        vm.assertTrue(registry.isPermissionSigner(modelId, signer, switchAt - 1));
        vm.assertFalse(registry.isPermissionSigner(modelId, signer, switchAt));
        vm.assertTrue(registry.isPermissionSigner(modelId, vm.addr(rotatedPk), revokedAt - 1));
        vm.assertFalse(registry.isPermissionSigner(modelId, vm.addr(rotatedPk), revokedAt));
        vm.assertTrue(registry.isPermissionSigner(modelId, newSigner, revokedAt));
    }
}
