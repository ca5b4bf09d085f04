// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {UnitHelpers, Actor, ClaimManagerStub} from "./base/UnitHelpers.sol";
import {ModelRegistry} from "../src/ModelRegistry.sol";
import {ClaimManager} from "../src/ClaimManager.sol";
import {ClaimManagerBound} from "../src/lib/ClaimManagerBound.sol";
import {Terms, ClaimKind} from "../src/lib/OMLTypes.sol";

contract ModelRegistryTest is UnitHelpers {
    address internal other = address(0x0123);
    address internal newSigner = address(0x5152);

    // ------------------------------------------------------------------ helpers

    function owners3() internal pure returns (address[] memory o, uint256[] memory s) {
        o = new address[](3);
        s = new uint256[](3);
        o[0] = address(0x1001);
        o[1] = address(0x1002);
        o[2] = address(0x1003);
        s[0] = 5;
        s[1] = 3;
        s[2] = 2;
    }

    function expectInvalidTerms(string memory reason) internal {
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.ModelRegistry__InvalidTerms.selector, reason));
    }

    function registerWith(Terms memory t) internal returns (uint256) {
        (address[] memory o, uint256[] memory s) = oneOwner(other);
        vm.prank(other);
        return registry.registerModel(o, s, signer, t, bytes32(0), bytes32(0));
    }

    function registerOwners(address[] memory o, uint256[] memory s) internal returns (uint256) {
        vm.prank(other);
        return registry.registerModel(o, s, signer, terms, bytes32(0), bytes32(0));
    }

    /// @dev Opens a LINEAGE claim against `subject` for fixture leaf `i`, proven against `family`,
    /// whose lineage root must be the fixture's fingerprint root.
    function openLineageClaim(uint256 subject, uint256 family, uint256 i) internal returns (uint256 id) {
        ClaimManager.ClaimInput memory c = claimInput(i);
        c.kind = ClaimKind.LINEAGE;
        c.subjectId = subject;
        c.familyId = family;
        c = answeredAt(c, c.servedAt); // a LINEAGE claim carries no receipt
        bytes[] memory sigs = attest(c, leaves[i], 3);
        vm.prank(claimant);
        id = claims.openClaim{value: terms.claimBond}(c, sigs);
    }

    function retire(uint256 id, address by) internal returns (uint256 unbondAt) {
        vm.prank(by);
        registry.requestRetirement(id);
        unbondAt = block.timestamp + terms.unbondingPeriod;
    }

    /// @dev Retires `id` for good: requests retirement, waits it out and withdraws the stake.
    function withdrawAll(uint256 id, address by) internal {
        vm.warp(retire(id, by));
        vm.prank(by);
        registry.withdrawRegistration(id);
    }

    /// @dev A model derived from `parentId` by `by` with terms `t`, staking what the registry asks.
    function registerDerivedWith(address by, uint256 parentId, Terms memory t) internal returns (uint256 id) {
        (address[] memory o, uint256[] memory s) = oneOwner(by);
        uint256 stake = requiredStake(parentId);
        vm.deal(by, by.balance + stake);
        vm.prank(by);
        id = registry.registerDerivedModel{value: stake}(parentId, o, s, signer, t, bytes32(0), keccak256("d"));
    }

    /// @dev The largest registrationStake over the current terms of `cursor` and its ancestors.
    function requiredStake(uint256 cursor) internal view returns (uint256 stake) {
        while (cursor != 0) {
            (, Terms memory t,) = registry.currentTerms(cursor);
            if (t.registrationStake > stake) stake = t.registrationStake;
            (, cursor,,,) = registry.modelInfo(cursor);
        }
    }

    // -------------------------------------------------------------- constructor

    function test_constructor_storesClaimManager() public {
        ModelRegistry r = new ModelRegistry(address(0xC0FFEE), 9 days);
        vm.assertEq(r.claimManager(), address(0xC0FFEE));
        vm.assertEq(r.minRetirementUnbonding(), 9 days);
    }

    function test_minRetirementUnbonding_fixture() public view {
        vm.assertEq(registry.minRetirementUnbonding(), MIN_RETIREMENT_UNBONDING);
    }

    function test_RevertWhen_constructor_zeroMinRetirementUnbonding() public {
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.ModelRegistry__ZeroMinRetirementUnbonding.selector));
        new ModelRegistry(address(0xC0FFEE), 0);
    }

    function test_claimManager_fixtureIsWired() public view {
        vm.assertEq(registry.claimManager(), address(claims));
    }

    function test_RevertWhen_constructor_zeroClaimManager() public {
        vm.expectRevert(abi.encodeWithSelector(ClaimManagerBound.ClaimManagerBound__ZeroAddress.selector));
        new ModelRegistry(address(0), MIN_RETIREMENT_UNBONDING);
    }

    // ------------------------------------------------------------ registerModel

    function test_registerModel_storesModelAndEmits() public {
        (address[] memory o, uint256[] memory s) = owners3();
        Terms memory t = copyTerms();
        vmx.expectEmit(address(registry));
        emit ModelRegistry.OwnerShare(2, o[0], 5);
        vmx.expectEmit(address(registry));
        emit ModelRegistry.OwnerShare(2, o[1], 3);
        vmx.expectEmit(address(registry));
        emit ModelRegistry.OwnerShare(2, o[2], 2);
        vmx.expectEmit(address(registry));
        emit ModelRegistry.ModelRegistered(2, 0, other, signer, keccak256("lr"), keccak256("wh"), 0);
        vmx.expectEmit(address(registry));
        emit ModelRegistry.TermsUpdated(2, 1, keccak256(abi.encode(t)), t);
        vm.prank(other);
        uint256 id = registry.registerModel(o, s, signer, t, keccak256("lr"), keccak256("wh"));

        vm.assertEq(id, 2);
        vm.assertEq(registry.modelCount(), 2);
        (address adm, uint256 parent, uint96 stake, bytes32 lr, bytes32 wh) = registry.modelInfo(id);
        vm.assertEq(adm, other);
        vm.assertEq(parent, 0);
        vm.assertEq(uint256(stake), 0);
        vm.assertEq(lr, keccak256("lr"));
        vm.assertEq(wh, keccak256("wh"));
        (uint256 sh, uint256 total) = registry.sharesOf(id, o[1]);
        vm.assertEq(sh, 3);
        vm.assertEq(total, 10);
        vm.assertEq(registry.permissionSigner(id), signer);
    }

    function test_registerModel_ownersListInOrder() public {
        (address[] memory o, uint256[] memory s) = owners3();
        uint256 id = registerOwners(o, s);
        address[] memory got = registry.owners(id);
        vm.assertEq(got.length, 3);
        for (uint256 i; i < 3; ++i) {
            vm.assertEq(got[i], o[i]);
        }
    }

    function test_RevertWhen_registerModel_noOwners() public {
        address[] memory o = new address[](0);
        uint256[] memory s = new uint256[](0);
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.ModelRegistry__NoOwners.selector));
        registerOwners(o, s);
    }

    function test_RevertWhen_registerModel_tooManyOwners() public {
        address[] memory o = new address[](33);
        uint256[] memory s = new uint256[](33);
        for (uint256 i; i < 33; ++i) {
            o[i] = address(uint160(0x1000 + i));
            s[i] = 1;
        }
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.ModelRegistry__TooManyOwners.selector, 33));
        registerOwners(o, s);
    }

    function test_registerModel_maxOwnersAccepted() public {
        address[] memory o = new address[](32);
        uint256[] memory s = new uint256[](32);
        for (uint256 i; i < 32; ++i) {
            o[i] = address(uint160(0x1000 + i));
            s[i] = i + 1;
        }
        uint256 id = registerOwners(o, s);
        (, uint256 total) = registry.sharesOf(id, o[0]);
        vm.assertEq(total, 32 * 33 / 2);
        vm.assertEq(registry.owners(id).length, 32);
    }

    function test_RevertWhen_registerModel_lengthMismatch() public {
        (address[] memory o,) = owners3();
        uint256[] memory s = new uint256[](2);
        s[0] = 1;
        s[1] = 1;
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.ModelRegistry__LengthMismatch.selector));
        registerOwners(o, s);
    }

    function test_RevertWhen_registerModel_zeroOwner() public {
        (address[] memory o, uint256[] memory s) = owners3();
        o[1] = address(0);
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.ModelRegistry__InvalidOwner.selector, address(0)));
        registerOwners(o, s);
    }

    function test_RevertWhen_registerModel_duplicateOwner() public {
        (address[] memory o, uint256[] memory s) = owners3();
        o[2] = o[0];
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.ModelRegistry__DuplicateOwner.selector, o[0]));
        registerOwners(o, s);
    }

    function test_RevertWhen_registerModel_zeroShares() public {
        (address[] memory o, uint256[] memory s) = owners3();
        s[1] = 0;
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.ModelRegistry__ZeroShares.selector, o[1]));
        registerOwners(o, s);
    }

    function test_RevertWhen_registerModel_zeroSigner() public {
        (address[] memory o, uint256[] memory s) = oneOwner(other);
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.ModelRegistry__ZeroSigner.selector));
        registry.registerModel(o, s, address(0), terms, bytes32(0), bytes32(0));
    }

    function test_RevertWhen_registerModel_zeroLicensePeriod() public {
        Terms memory t = copyTerms();
        t.licensePeriod = 0;
        expectInvalidTerms("licensePeriod");
        registerWith(t);
    }

    function test_RevertWhen_registerModel_zeroChallengeWindow() public {
        Terms memory t = copyTerms();
        t.challengeWindow = 0;
        expectInvalidTerms("challengeWindow");
        registerWith(t);
    }

    function test_RevertWhen_registerModel_unbondingNotLongerThanWindow() public {
        Terms memory t = copyTerms();
        t.unbondingPeriod = t.challengeWindow;
        expectInvalidTerms("unbondingPeriod");
        registerWith(t);
    }

    function test_RevertWhen_registerModel_zeroSlashBps() public {
        Terms memory t = copyTerms();
        t.slashBps = 0;
        expectInvalidTerms("slashBps");
        registerWith(t);
    }

    function test_RevertWhen_registerModel_slashBpsAboveMax() public {
        Terms memory t = copyTerms();
        t.slashBps = 10_001;
        expectInvalidTerms("slashBps");
        registerWith(t);
    }

    function test_RevertWhen_registerModel_rewardBpsAboveMax() public {
        Terms memory t = copyTerms();
        t.claimantRewardBps = 10_001;
        expectInvalidTerms("claimantRewardBps");
        registerWith(t);
    }

    function test_RevertWhen_registerModel_zeroMinStake() public {
        Terms memory t = copyTerms();
        t.minStake = 0;
        expectInvalidTerms("minStake");
        registerWith(t);
    }

    function test_RevertWhen_registerModel_zeroClaimBond() public {
        Terms memory t = copyTerms();
        t.claimBond = 0;
        expectInvalidTerms("claimBond");
        registerWith(t);
    }

    function test_registerModel_boundaryTermsAccepted() public {
        Terms memory t = copyTerms();
        t.slashBps = 10_000;
        t.claimantRewardBps = 10_000;
        t.unbondingPeriod = t.challengeWindow + 1;
        t.quota = 0;
        t.pricePerQuery = 0;
        t.registrationStake = 0;
        uint256 id = registerWith(t);
        (uint32 v,, bytes32 h) = registry.currentTerms(id);
        vm.assertEq(uint256(v), 1);
        vm.assertEq(h, keccak256(abi.encode(t)));
    }

    // ----------------------------------------------------- registerDerivedModel

    function test_registerDerivedModel_locksParentStake() public {
        (address[] memory o, uint256[] memory s) = oneOwner(other);
        vm.deal(other, 5 ether);
        vmx.expectEmit(address(registry));
        emit ModelRegistry.ModelRegistered(2, modelId, other, signer, bytes32(0), keccak256("d"), 5 ether);
        vm.prank(other);
        uint256 id =
            registry.registerDerivedModel{value: 5 ether}(modelId, o, s, signer, terms, bytes32(0), keccak256("d"));

        (, uint256 parent, uint96 stake,,) = registry.modelInfo(id);
        vm.assertEq(parent, modelId);
        vm.assertEq(uint256(stake), 5 ether);
        vm.assertEq(registry.totalRegistrationStake(), 5 ether);
        vm.assertEq(address(registry).balance, 5 ether);
    }

    function test_RevertWhen_registerDerivedModel_wrongStake() public {
        (address[] memory o, uint256[] memory s) = oneOwner(other);
        vm.deal(other, 10 ether);
        vm.prank(other);
        vm.expectRevert(
            abi.encodeWithSelector(ModelRegistry.ModelRegistry__WrongRegistrationStake.selector, 5 ether, 4 ether)
        );
        registry.registerDerivedModel{value: 4 ether}(modelId, o, s, signer, terms, bytes32(0), bytes32(0));
    }

    function test_RevertWhen_registerDerivedModel_parentTakesNoDerivations() public {
        Terms memory t = copyTerms();
        t.registrationStake = 0;
        uint256 parent = registerWith(t);
        (address[] memory o, uint256[] memory s) = oneOwner(other);
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.ModelRegistry__WrongRegistrationStake.selector, 0, 0));
        registry.registerDerivedModel(parent, o, s, signer, terms, bytes32(0), bytes32(0));
    }

    function test_RevertWhen_registerDerivedModel_unknownParent() public {
        (address[] memory o, uint256[] memory s) = oneOwner(other);
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.ModelRegistry__UnknownModel.selector, 42));
        registry.registerDerivedModel(42, o, s, signer, terms, bytes32(0), bytes32(0));
    }

    function test_registerDerivedModel_usesParentCurrentTerms() public {
        Terms memory t = copyTerms();
        t.registrationStake = 2 ether;
        vm.prank(admin);
        registry.updateTerms(modelId, t);
        uint256 id = registerDerived(other, modelId);
        (,, uint96 stake,,) = registry.modelInfo(id);
        vm.assertEq(uint256(stake), 2 ether);
    }

    function test_registerDerivedModel_recordsLineage() public {
        vm.warp(block.timestamp + 10);
        uint256 child = registerDerived(other, modelId);
        (uint40 at, uint40 rootAt, uint8 depth, uint40 unbondAt, bool retired) = registry.lineageInfo(child);
        vm.assertEq(uint256(at), block.timestamp);
        vm.assertEq(uint256(rootAt), 0, "registered without a root");
        vm.assertEq(uint256(depth), 1);
        vm.assertEq(uint256(unbondAt), 0);
        vm.assertFalse(retired);
        uint256 grandchild = registerDerived(address(0xCC), child);
        (,, depth,,) = registry.lineageInfo(grandchild);
        vm.assertEq(uint256(depth), 2);
        (at, rootAt, depth,,) = registry.lineageInfo(modelId);
        vm.assertEq(uint256(at), 1_700_000_000, "the fixture registered its model at its start");
        vm.assertEq(uint256(rootAt), 1_700_000_000, "with its root");
        vm.assertEq(uint256(depth), 0);
    }

    function test_RevertWhen_lineageInfo_unknownModel() public {
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.ModelRegistry__UnknownModel.selector, 8));
        registry.lineageInfo(8);
    }

    function test_RevertWhen_registerDerivedModel_tooDeep() public {
        uint256 cursor = modelId;
        for (uint256 i; i < 16; ++i) {
            cursor = registerDerived(address(uint160(0x2000 + i)), cursor);
        }
        (address[] memory o, uint256[] memory s) = oneOwner(other);
        vm.deal(other, 5 ether);
        vm.prank(other);
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.ModelRegistry__LineageTooDeep.selector));
        registry.registerDerivedModel{value: 5 ether}(cursor, o, s, signer, terms, bytes32(0), bytes32(0));
    }

    /// @dev The stake is the largest any declared ancestor asks, whichever it is.
    function test_registerDerivedModel_stakeIsFamilyMaximum() public {
        Terms memory cheap = copyTerms();
        cheap.registrationStake = 1 ether;
        uint256 child = registerDerivedWith(other, modelId, cheap);
        (,, uint96 childStake,,) = registry.modelInfo(child);
        vm.assertEq(uint256(childStake), 5 ether, "its parent asks 5");
        (address[] memory o, uint256[] memory s) = oneOwner(address(0xCC));
        vm.deal(address(0xCC), 10 ether);
        vm.prank(address(0xCC));
        vm.expectRevert(
            abi.encodeWithSelector(ModelRegistry.ModelRegistry__WrongRegistrationStake.selector, 5 ether, 1 ether)
        );
        registry.registerDerivedModel{value: 1 ether}(child, o, s, signer, terms, bytes32(0), bytes32(0));
        // A dearer parent under a cheaper grandparent sets the price itself.
        Terms memory dear = copyTerms();
        dear.registrationStake = 7 ether;
        vm.prank(other);
        registry.updateTerms(child, dear);
        uint256 grandchild = registerDerivedWith(address(0xCC), child, terms);
        (,, uint96 stake,,) = registry.modelInfo(grandchild);
        vm.assertEq(uint256(stake), 7 ether);
    }

    function test_RevertWhen_registerDerivedModel_unbondingBelowParent() public {
        Terms memory t = copyTerms();
        t.unbondingPeriod = terms.unbondingPeriod - 1;
        (address[] memory o, uint256[] memory s) = oneOwner(other);
        vm.deal(other, 5 ether);
        vm.prank(other);
        vm.expectRevert(
            abi.encodeWithSelector(
                ModelRegistry.ModelRegistry__UnbondingTooShort.selector, terms.unbondingPeriod, t.unbondingPeriod
            )
        );
        registry.registerDerivedModel{value: 5 ether}(modelId, o, s, signer, t, bytes32(0), bytes32(0));
    }

    function test_registerDerivedModel_unbondingEqualToFamilyAccepted() public {
        Terms memory t = copyTerms();
        t.unbondingPeriod = 9 days;
        uint256 child = registerDerivedWith(other, modelId, t);
        uint256 grandchild = registerDerivedWith(address(0xCC), child, t);
        vm.assertEq(uint256(registry.terms(grandchild, 1).unbondingPeriod), 9 days);
    }

    function test_RevertWhen_registerDerivedModel_parentRetired() public {
        uint256 parent = registerDerived(other, modelId);
        withdrawAll(parent, other);
        (address[] memory o, uint256[] memory s) = oneOwner(address(0xCC));
        vm.deal(address(0xCC), 5 ether);
        vm.prank(address(0xCC));
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.ModelRegistry__Retired.selector, parent));
        registry.registerDerivedModel{value: 5 ether}(parent, o, s, signer, terms, bytes32(0), bytes32(0));
    }

    /// @dev A retired ancestor's last terms still count: retiring it lowers nothing below it.
    function test_registerDerivedModel_retiredGrandparentStillCounts() public {
        Terms memory dear = copyTerms();
        dear.registrationStake = 8 ether;
        dear.unbondingPeriod = 10 days;
        uint256 grandparent = registerDerivedWith(other, modelId, dear);
        uint256 parent = registerDerivedWith(address(0xCC), grandparent, dear);
        Terms memory cheap = copyTerms();
        cheap.registrationStake = 1 ether;
        cheap.unbondingPeriod = 10 days;
        vm.prank(address(0xCC));
        registry.updateTerms(parent, cheap);
        vm.prank(other);
        registry.requestRetirement(grandparent);
        vm.warp(block.timestamp + 10 days);
        vm.prank(other);
        registry.withdrawRegistration(grandparent);
        (address[] memory o, uint256[] memory s) = oneOwner(address(0xDD));
        vm.deal(address(0xDD), 8 ether);
        vm.prank(address(0xDD));
        uint256 id = registry.registerDerivedModel{value: 8 ether}(parent, o, s, signer, dear, bytes32(0), bytes32(0));
        (,, uint96 stake,,) = registry.modelInfo(id);
        vm.assertEq(uint256(stake), 8 ether);
    }

    function test_registerModel_recordsRootTime() public {
        vm.warp(block.timestamp + 100);
        uint256 id = registerBase(other, keccak256("r"));
        (uint40 at, uint40 rootAt, uint8 depth,,) = registry.lineageInfo(id);
        vm.assertEq(uint256(at), block.timestamp);
        vm.assertEq(uint256(rootAt), block.timestamp);
        vm.assertEq(uint256(depth), 0);
    }

    // -------------------------------------------------------------- updateTerms

    function test_updateTerms_publishesNewVersion() public {
        Terms memory t = copyTerms();
        t.pricePerQuery = 7 wei;
        vmx.expectEmit(address(registry));
        emit ModelRegistry.TermsUpdated(modelId, 2, keccak256(abi.encode(t)), t);
        vm.prank(admin);
        registry.updateTerms(modelId, t);

        (uint32 v, Terms memory cur, bytes32 h) = registry.currentTerms(modelId);
        vm.assertEq(uint256(v), 2);
        vm.assertEq(uint256(cur.pricePerQuery), 7);
        vm.assertEq(h, keccak256(abi.encode(t)));
        vm.assertEq(uint256(registry.terms(modelId, 1).pricePerQuery), uint256(terms.pricePerQuery));
        vm.assertEq(uint256(licenses.getLicense(licenseId).termsVersion), 1);
    }

    function test_RevertWhen_updateTerms_notAdmin() public {
        vm.prank(other);
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.ModelRegistry__NotAdmin.selector, modelId, other));
        registry.updateTerms(modelId, terms);
    }

    function test_RevertWhen_updateTerms_unknownModel() public {
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.ModelRegistry__UnknownModel.selector, 9));
        registry.updateTerms(9, terms);
    }

    function test_RevertWhen_updateTerms_invalidTerms() public {
        Terms memory t = copyTerms();
        t.unbondingPeriod = 1;
        expectInvalidTerms("unbondingPeriod");
        vm.prank(admin);
        registry.updateTerms(modelId, t);
    }

    function test_RevertWhen_updateTerms_derivedBelowParentUnbonding() public {
        uint256 id = registerDerived(other, modelId);
        Terms memory t = copyTerms();
        t.unbondingPeriod = terms.unbondingPeriod - 1;
        vm.prank(other);
        vm.expectRevert(
            abi.encodeWithSelector(
                ModelRegistry.ModelRegistry__UnbondingTooShort.selector, terms.unbondingPeriod, t.unbondingPeriod
            )
        );
        registry.updateTerms(id, t);
    }

    /// @dev The floor is the ancestors' current unbonding: raised above the child's, the child must follow.
    function test_updateTerms_derivedFollowsRaisedAncestor() public {
        uint256 child = registerDerived(other, modelId);
        uint256 grandchild = registerDerived(address(0xCC), child);
        Terms memory t = copyTerms();
        t.unbondingPeriod = 20 days;
        vm.prank(admin);
        registry.updateTerms(modelId, t);
        Terms memory same = copyTerms();
        vm.prank(address(0xCC));
        vm.expectRevert(
            abi.encodeWithSelector(ModelRegistry.ModelRegistry__UnbondingTooShort.selector, 20 days, 7 days)
        );
        registry.updateTerms(grandchild, same);
        vm.prank(address(0xCC));
        registry.updateTerms(grandchild, t);
        vm.assertEq(uint256(registry.terms(grandchild, 2).unbondingPeriod), 20 days);
    }

    function test_updateTerms_baseModelMayShortenUnbonding() public {
        Terms memory t = copyTerms();
        t.unbondingPeriod = terms.challengeWindow + 1;
        vm.prank(admin);
        registry.updateTerms(modelId, t);
        (, Terms memory cur,) = registry.currentTerms(modelId);
        vm.assertEq(uint256(cur.unbondingPeriod), uint256(t.unbondingPeriod));
    }

    function test_RevertWhen_updateTerms_retired() public {
        uint256 id = registerDerived(other, modelId);
        withdrawAll(id, other);
        vm.prank(other);
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.ModelRegistry__Retired.selector, id));
        registry.updateTerms(id, terms);
    }

    // ----------------------------------------------------------- setLineageRoot

    function test_setLineageRoot_setsOnce() public {
        uint256 id = registerWith(terms);
        vmx.expectEmit(address(registry));
        emit ModelRegistry.LineageRootSet(id, keccak256("root"));
        vm.prank(other);
        registry.setLineageRoot(id, keccak256("root"));
        (,,, bytes32 lr,) = registry.modelInfo(id);
        vm.assertEq(lr, keccak256("root"));
    }

    function test_RevertWhen_setLineageRoot_alreadySet() public {
        expectInvalidTerms("lineage root");
        vm.prank(admin);
        registry.setLineageRoot(modelId, keccak256("other"));
    }

    function test_RevertWhen_setLineageRoot_zero() public {
        uint256 id = registerWith(terms);
        expectInvalidTerms("lineage root");
        vm.prank(other);
        registry.setLineageRoot(id, bytes32(0));
    }

    function test_setLineageRoot_recordsTime() public {
        uint256 id = registerWith(terms);
        vm.warp(block.timestamp + 1 hours);
        vm.prank(other);
        registry.setLineageRoot(id, keccak256("root"));
        (uint40 at, uint40 rootAt,,,) = registry.lineageInfo(id);
        vm.assertEq(uint256(at), block.timestamp - 1 hours);
        vm.assertEq(uint256(rootAt), block.timestamp);
    }

    function test_RevertWhen_setLineageRoot_retired() public {
        uint256 id = registerDerived(other, modelId);
        withdrawAll(id, other);
        vm.prank(other);
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.ModelRegistry__Retired.selector, id));
        registry.setLineageRoot(id, keccak256("root"));
    }

    function test_RevertWhen_setLineageRoot_notAdmin() public {
        uint256 id = registerWith(terms);
        vm.prank(admin);
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.ModelRegistry__NotAdmin.selector, id, admin));
        registry.setLineageRoot(id, keccak256("root"));
    }

    // ------------------------------------------------------------- proposeSigner

    function test_proposeSigner_takesOverAfterDelay() public {
        uint256 at = block.timestamp + registry.SIGNER_ROTATION_DELAY();
        vmx.expectEmit(address(registry));
        emit ModelRegistry.SignerRotationProposed(modelId, newSigner, at);
        vm.prank(admin);
        registry.proposeSigner(modelId, newSigner);

        vm.warp(at - 1);
        vm.assertEq(registry.permissionSigner(modelId), signer);
        vm.assertFalse(registry.isPermissionSigner(modelId, newSigner, uint64(at - 1)));
        vm.warp(at);
        vm.assertEq(registry.permissionSigner(modelId), newSigner);
        vm.assertTrue(registry.isPermissionSigner(modelId, newSigner, uint64(at)));
    }

    function test_proposeSigner_replacesPendingProposal() public {
        vm.startPrank(admin);
        registry.proposeSigner(modelId, newSigner);
        vm.warp(block.timestamp + 12 hours);
        registry.proposeSigner(modelId, address(0x5153));
        vm.stopPrank();
        vm.warp(block.timestamp + 12 hours);
        vm.assertEq(registry.permissionSigner(modelId), signer);
        vm.warp(block.timestamp + 12 hours);
        vm.assertEq(registry.permissionSigner(modelId), address(0x5153));
    }

    function test_RevertWhen_proposeSigner_zero() public {
        vm.prank(admin);
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.ModelRegistry__ZeroSigner.selector));
        registry.proposeSigner(modelId, address(0));
    }

    function test_RevertWhen_proposeSigner_notAdmin() public {
        vm.prank(signer);
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.ModelRegistry__NotAdmin.selector, modelId, signer));
        registry.proposeSigner(modelId, newSigner);
    }

    // -------------------------------------------------------------- revokeSigner

    /// @dev A compromised signer is replaced at once: its σ count only for issue times before
    /// now, the new signer's from now on (no rotation delay).
    function test_revokeSigner_replacesAtOnce() public {
        uint64 at = uint64(block.timestamp);
        vmx.expectEmit(address(registry));
        emit ModelRegistry.SignerRevoked(modelId, signer, newSigner);
        vm.prank(admin);
        registry.revokeSigner(modelId, newSigner);
        vm.assertEq(registry.permissionSigner(modelId), newSigner);
        vm.assertTrue(registry.isPermissionSigner(modelId, signer, at - 1), "earlier sigma stay valid");
        vm.assertFalse(registry.isPermissionSigner(modelId, signer, at), "from now on: void");
        vm.assertTrue(registry.isPermissionSigner(modelId, newSigner, at));
        // Still true long after: the record of the revocation does not move.
        vm.warp(block.timestamp + 30 days);
        vm.assertTrue(registry.isPermissionSigner(modelId, signer, at - 1));
        vm.assertFalse(registry.isPermissionSigner(modelId, signer, at));
    }

    function test_revokeSigner_dropsPendingRotation() public {
        vm.startPrank(admin);
        registry.proposeSigner(modelId, address(0x5153));
        registry.revokeSigner(modelId, newSigner);
        vm.stopPrank();
        vm.warp(block.timestamp + 2 days);
        vm.assertEq(registry.permissionSigner(modelId), newSigner);
        vm.assertFalse(registry.isPermissionSigner(modelId, address(0x5153), uint64(block.timestamp)));
    }

    /// @dev A rotation already due is written first: the key revoked is the rotated-in one, and the
    /// original signer keeps its σ issued before the switch.
    function test_revokeSigner_settlesDueRotationFirst() public {
        address rotated = address(0x5153);
        uint256 switchAt = block.timestamp + registry.SIGNER_ROTATION_DELAY();
        vm.prank(admin);
        registry.proposeSigner(modelId, rotated);
        vm.warp(switchAt + 1);
        vmx.expectEmit(address(registry));
        emit ModelRegistry.SignerRevoked(modelId, rotated, newSigner);
        vm.prank(admin);
        registry.revokeSigner(modelId, newSigner);
        vm.assertTrue(registry.isPermissionSigner(modelId, signer, uint64(switchAt - 1)));
        vm.assertFalse(registry.isPermissionSigner(modelId, signer, uint64(switchAt)));
        vm.assertTrue(registry.isPermissionSigner(modelId, rotated, uint64(switchAt)));
        vm.assertFalse(registry.isPermissionSigner(modelId, rotated, uint64(block.timestamp)));
        // Revoking to the key that just rotated in is no replacement at all.
        vm.prank(admin);
        registry.proposeSigner(modelId, rotated);
        vm.warp(block.timestamp + registry.SIGNER_ROTATION_DELAY());
        vm.prank(admin);
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.ModelRegistry__SameSigner.selector, rotated));
        registry.revokeSigner(modelId, rotated);
    }

    function test_RevertWhen_revokeSigner_zero() public {
        vm.prank(admin);
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.ModelRegistry__ZeroSigner.selector));
        registry.revokeSigner(modelId, address(0));
    }

    function test_RevertWhen_revokeSigner_same() public {
        vm.prank(admin);
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.ModelRegistry__SameSigner.selector, signer));
        registry.revokeSigner(modelId, signer);
    }

    function test_RevertWhen_revokeSigner_notAdmin() public {
        vm.prank(signer);
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.ModelRegistry__NotAdmin.selector, modelId, signer));
        registry.revokeSigner(modelId, newSigner);
    }

    function test_RevertWhen_revokeSigner_unknownModel() public {
        vm.prank(admin);
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.ModelRegistry__UnknownModel.selector, 9));
        registry.revokeSigner(9, newSigner);
    }

    function testFuzz_revokeSigner_revokedOnlyBefore(uint256 issuedAt, uint256 later) public {
        uint256 at = block.timestamp;
        vm.prank(admin);
        registry.revokeSigner(modelId, newSigner);
        issuedAt = bound(issuedAt, 0, at + 365 days);
        vm.warp(bound(later, at, at + 365 days));
        vm.assertEq(registry.isPermissionSigner(modelId, signer, uint64(issuedAt)), issuedAt < at);
        vm.assertTrue(registry.isPermissionSigner(modelId, newSigner, uint64(issuedAt)));
    }

    // ------------------------------------------------------- isPermissionSigner

    function test_isPermissionSigner_currentSignerAnyTime() public view {
        vm.assertTrue(registry.isPermissionSigner(modelId, signer, 0));
        vm.assertTrue(registry.isPermissionSigner(modelId, signer, type(uint64).max));
    }

    function test_isPermissionSigner_rejectsOthers() public view {
        vm.assertFalse(registry.isPermissionSigner(modelId, other, 0));
        vm.assertFalse(registry.isPermissionSigner(modelId, address(0), 0));
        vm.assertFalse(registry.isPermissionSigner(99, signer, 0));
    }

    function test_isPermissionSigner_oldSignerAfterSettledRotation() public {
        vm.prank(admin);
        registry.proposeSigner(modelId, newSigner);
        uint256 switchAt = block.timestamp + 1 days;
        vm.warp(switchAt + 5 days);
        // A second proposal writes the due rotation to storage.
        vm.prank(admin);
        registry.proposeSigner(modelId, address(0x5153));
        vm.assertTrue(registry.isPermissionSigner(modelId, signer, uint64(switchAt - 1)));
        vm.assertFalse(registry.isPermissionSigner(modelId, signer, uint64(switchAt)));
        vm.assertTrue(registry.isPermissionSigner(modelId, newSigner, uint64(block.timestamp)));
        vm.assertFalse(registry.isPermissionSigner(modelId, address(0x5153), uint64(block.timestamp)));
    }

    /// @dev A host that served a query under the first signer must still be able to refute after
    /// two rotations: the first signer's σ stay valid for issue times before its own switch.
    function test_isPermissionSigner_firstSignerSurvivesSecondRotation() public {
        address third = address(0x5153);
        uint256 firstSwitch = block.timestamp + 1 days;
        vm.prank(admin);
        registry.proposeSigner(modelId, newSigner);
        vm.warp(firstSwitch);
        vm.prank(admin);
        registry.proposeSigner(modelId, third);
        uint256 secondSwitch = block.timestamp + 1 days;
        vm.warp(secondSwitch);
        // Due but not yet written.
        vm.assertTrue(registry.isPermissionSigner(modelId, signer, uint64(firstSwitch - 1)));
        vm.assertTrue(registry.isPermissionSigner(modelId, newSigner, uint64(secondSwitch - 1)));
        vm.prank(admin);
        registry.proposeSigner(modelId, address(0x5154));
        // Written.
        vm.assertTrue(registry.isPermissionSigner(modelId, signer, uint64(firstSwitch - 1)));
        vm.assertFalse(registry.isPermissionSigner(modelId, signer, uint64(firstSwitch)));
        vm.assertTrue(registry.isPermissionSigner(modelId, newSigner, uint64(secondSwitch - 1)));
        vm.assertFalse(registry.isPermissionSigner(modelId, newSigner, uint64(secondSwitch)));
        vm.assertEq(registry.permissionSigner(modelId), third);
    }

    /// @dev The same through ClaimManager.refute: two quick rotations must not strip an honest host of
    /// the σ it was issued, or the admin could slash it for a permitted query.
    function test_isPermissionSigner_hostRefutesAfterTwoRotations() public {
        // Issued when the host served the answer (at the license's start, as the fixture claims say).
        uint64 issuedAt = licenseStart(licenseId);
        bytes memory sigma = permissionSig(SIGNER_PK, licenseId, queryHashes[0], 1, issuedAt);
        vm.startPrank(admin);
        registry.proposeSigner(modelId, newSigner);
        vm.warp(block.timestamp + 1 days);
        registry.proposeSigner(modelId, address(0x5153));
        vm.warp(block.timestamp + 1 days);
        vm.stopPrank();
        (uint256 id, ClaimManager.ClaimRecord memory r) = openClaimOn(0);
        vm.prank(host);
        claims.refute(id, r, 1, issuedAt, sigma);
        vm.assertEq(uint256(claims.claimStatus(id)), uint256(ClaimManager.ClaimStatus.Refuted));
    }

    function testFuzz_isPermissionSigner_oldSignerOnlyBeforeSwitch(uint256 issuedAt, uint256 later, bool settle)
        public
    {
        vm.prank(admin);
        registry.proposeSigner(modelId, newSigner);
        uint256 switchAt = block.timestamp + 1 days;
        issuedAt = bound(issuedAt, 0, switchAt + 365 days);
        vm.warp(bound(later, switchAt, switchAt + 365 days));
        if (settle) {
            vm.prank(admin);
            registry.proposeSigner(modelId, address(0x5153));
        }
        vm.assertEq(registry.isPermissionSigner(modelId, signer, uint64(issuedAt)), issuedAt < switchAt);
        vm.assertTrue(registry.isPermissionSigner(modelId, newSigner, uint64(issuedAt)));
    }

    function testFuzz_isPermissionSigner_newSignerNeverBeforeSwitch(uint256 issuedAt, uint256 wait) public {
        vm.prank(admin);
        registry.proposeSigner(modelId, newSigner);
        vm.warp(block.timestamp + bound(wait, 0, 1 days - 1));
        vm.assertFalse(registry.isPermissionSigner(modelId, newSigner, uint64(issuedAt)));
        vm.assertTrue(registry.isPermissionSigner(modelId, signer, uint64(issuedAt)));
    }

    // --------------------------------------------------------- requestRetirement

    function test_requestRetirement_startsUnbonding() public {
        uint256 id = registerDerived(other, modelId);
        uint256 at = block.timestamp + terms.unbondingPeriod;
        vmx.expectEmit(address(registry));
        emit ModelRegistry.RetirementRequested(id, at);
        vm.prank(other);
        registry.requestRetirement(id);
    }

    /// @dev The protocol minimum applies when the terms' own unbonding is shorter.
    function test_requestRetirement_atLeastProtocolMinimum() public {
        registry = new ModelRegistry(address(claims), 30 days);
        uint256 parent = registerBase(admin, bytes32(0));
        uint256 id = registerDerived(other, parent);
        uint256 at = block.timestamp + 30 days;
        vmx.expectEmit(address(registry));
        emit ModelRegistry.RetirementRequested(id, at);
        vm.prank(other);
        registry.requestRetirement(id);
        (,,, uint40 unbondAt,) = registry.lineageInfo(id);
        vm.assertEq(uint256(unbondAt), at);
    }

    /// @dev Terms published after the request do not move the unbonding it fixed.
    function test_requestRetirement_fixedAgainstLaterTerms() public {
        Terms memory longer = copyTerms();
        longer.unbondingPeriod = 20 days;
        uint256 id = registerDerivedWith(other, modelId, longer);
        vm.prank(other);
        registry.requestRetirement(id);
        uint256 at = block.timestamp + 20 days;
        vm.prank(other);
        registry.updateTerms(id, terms); // 7 days: as short as the family allows
        vm.warp(block.timestamp + 7 days);
        vm.prank(other);
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.ModelRegistry__StillUnbonding.selector, id, at));
        registry.withdrawRegistration(id);
        vm.warp(at);
        vm.prank(other);
        registry.withdrawRegistration(id);
    }

    function test_RevertWhen_requestRetirement_retired() public {
        uint256 id = registerDerived(other, modelId);
        withdrawAll(id, other);
        vm.prank(other);
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.ModelRegistry__NothingStaked.selector, id));
        registry.requestRetirement(id);
    }

    function test_RevertWhen_requestRetirement_baseModel() public {
        vm.prank(admin);
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.ModelRegistry__NothingStaked.selector, modelId));
        registry.requestRetirement(modelId);
    }

    function test_RevertWhen_requestRetirement_twice() public {
        uint256 id = registerDerived(other, modelId);
        retire(id, other);
        vm.prank(other);
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.ModelRegistry__AlreadyRetiring.selector, id));
        registry.requestRetirement(id);
    }

    function test_RevertWhen_requestRetirement_notAdmin() public {
        uint256 id = registerDerived(other, modelId);
        vm.prank(admin);
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.ModelRegistry__NotAdmin.selector, id, admin));
        registry.requestRetirement(id);
    }

    // -------------------------------------------------------- withdrawRegistration

    function test_withdrawRegistration_paysAdminAfterUnbonding() public {
        uint256 id = registerDerived(other, modelId);
        uint256 at = retire(id, other);
        vm.warp(at);
        uint256 before = other.balance;
        vmx.expectEmit(address(registry));
        emit ModelRegistry.RegistrationWithdrawn(id, other, 5 ether);
        vmx.expectEmit(address(registry));
        emit ModelRegistry.ModelRetired(id);
        vm.prank(other);
        registry.withdrawRegistration(id);
        vm.assertEq(other.balance, before + 5 ether);
        vm.assertEq(registry.totalRegistrationStake(), 0);
        vm.assertEq(address(registry).balance, 0);
        (,, uint96 stake,,) = registry.modelInfo(id);
        vm.assertEq(uint256(stake), 0);
    }

    /// @dev A Retired model takes no new license, but what licenses and claims already rely on
    /// stays readable: old terms, claim terms, signers, owners.
    function test_withdrawRegistration_retiresModel() public {
        uint256 id = registerDerived(other, modelId);
        withdrawAll(id, other);
        (,,,, bool retired) = registry.lineageInfo(id);
        vm.assertTrue(retired);
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.ModelRegistry__Retired.selector, id));
        registry.currentTerms(id);
        vm.assertEq(uint256(registry.terms(id, 1).minStake), uint256(terms.minStake));
        (uint96 bond,,,,) = registry.claimTerms(id, 1);
        vm.assertEq(uint256(bond), uint256(terms.claimBond));
        vm.assertEq(registry.permissionSigner(id), signer);
        vm.assertTrue(registry.isPermissionSigner(id, signer, uint64(block.timestamp)));
        vm.assertTrue(registry.permissionClears(id, signer, uint64(block.timestamp), uint64(block.timestamp)));
        vm.assertEq(registry.adminOf(id), other);
        (uint256 sh,) = registry.sharesOf(id, other);
        vm.assertEq(sh, 1);
        // Its licenses' signers can still be rotated or revoked.
        vm.prank(other);
        registry.revokeSigner(id, newSigner);
        vm.prank(other);
        registry.proposeSigner(id, address(0x5153));
    }

    function test_RevertWhen_withdrawRegistration_notRetiring() public {
        uint256 id = registerDerived(other, modelId);
        vm.prank(other);
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.ModelRegistry__NotRetiring.selector, id));
        registry.withdrawRegistration(id);
    }

    function test_RevertWhen_withdrawRegistration_stillUnbonding() public {
        uint256 id = registerDerived(other, modelId);
        uint256 at = retire(id, other);
        vm.warp(at - 1);
        vm.prank(other);
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.ModelRegistry__StillUnbonding.selector, id, at));
        registry.withdrawRegistration(id);
    }

    function test_RevertWhen_withdrawRegistration_lineageClaimOpen() public {
        uint256 family = registerBase(address(0xFA), fingerprintRoot);
        vm.warp(block.timestamp + 1); // the family's root must predate the subject
        uint256 id = registerDerived(other, modelId);
        openLineageClaim(id, family, 2);
        vm.assertEq(claims.openClaims(true, id), 1);
        uint256 at = retire(id, other);
        vm.warp(at + 30 days);
        vm.prank(other);
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.ModelRegistry__StillUnbonding.selector, id, at));
        registry.withdrawRegistration(id);
    }

    function test_RevertWhen_withdrawRegistration_twice() public {
        uint256 id = registerDerived(other, modelId);
        vm.warp(retire(id, other));
        vm.startPrank(other);
        registry.withdrawRegistration(id);
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.ModelRegistry__NothingStaked.selector, id));
        registry.withdrawRegistration(id);
        vm.stopPrank();
    }

    function test_RevertWhen_withdrawRegistration_notAdmin() public {
        uint256 id = registerDerived(other, modelId);
        vm.warp(retire(id, other));
        vm.prank(admin);
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.ModelRegistry__NotAdmin.selector, id, admin));
        registry.withdrawRegistration(id);
    }

    function test_RevertWhen_withdrawRegistration_adminRejectsEth() public {
        Actor a = new Actor();
        vm.deal(address(a), 5 ether);
        (address[] memory o, uint256[] memory s) = oneOwner(other);
        bytes memory reg =
            abi.encodeCall(ModelRegistry.registerDerivedModel, (modelId, o, s, signer, terms, bytes32(0), bytes32(0)));
        uint256 id = abi.decode(a.exec(address(registry), 5 ether, reg), (uint256));
        a.exec(address(registry), 0, abi.encodeCall(ModelRegistry.requestRetirement, (id)));
        vm.warp(block.timestamp + terms.unbondingPeriod);
        a.setReject(true);
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.ModelRegistry__TransferFailed.selector));
        a.exec(address(registry), 0, abi.encodeCall(ModelRegistry.withdrawRegistration, (id)));
    }

    // --------------------------------------------------------- lineageClaimInfo

    function test_lineageClaimInfo_returnsClaimInputs() public {
        uint256 family = registerBase(address(0xFA), keccak256("fam"));
        vm.warp(block.timestamp + 1);
        uint256 id = registerDerived(other, modelId);
        (uint256 stake, bytes32 root, uint32 version, address accused) = registry.lineageClaimInfo(id, family);
        vm.assertEq(stake, 5 ether);
        vm.assertEq(root, keccak256("fam"));
        vm.assertEq(uint256(version), 1);
        vm.assertEq(accused, other);
    }

    function test_RevertWhen_lineageClaimInfo_familyIsSubject() public {
        uint256 id = registerDerived(other, modelId);
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.ModelRegistry__SameFamily.selector, id, id));
        registry.lineageClaimInfo(id, id);
    }

    function test_RevertWhen_lineageClaimInfo_familyIsAncestor() public {
        uint256 child = registerDerived(other, modelId);
        uint256 grandchild = registerDerived(address(0xCC), child);
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.ModelRegistry__SameFamily.selector, grandchild, modelId));
        registry.lineageClaimInfo(grandchild, modelId);
    }

    function test_RevertWhen_lineageClaimInfo_familyWithoutRoot() public {
        uint256 family = registerWith(terms);
        uint256 id = registerDerived(address(0xCC), modelId);
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.ModelRegistry__NotInFamily.selector, id, family));
        registry.lineageClaimInfo(id, family);
    }

    function test_RevertWhen_lineageClaimInfo_subjectHasNoStake() public {
        uint256 family = registerBase(address(0xFA), keccak256("fam"));
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.ModelRegistry__NothingStaked.selector, modelId));
        registry.lineageClaimInfo(modelId, family);
    }

    function test_RevertWhen_lineageClaimInfo_unknownFamily() public {
        uint256 id = registerDerived(other, modelId);
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.ModelRegistry__UnknownModel.selector, 77));
        registry.lineageClaimInfo(id, 77);
    }

    function test_RevertWhen_lineageClaimInfo_unknownSubject() public {
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.ModelRegistry__UnknownModel.selector, 77));
        registry.lineageClaimInfo(77, modelId);
    }

    /// @dev MAX_LINEAGE_DEPTH declared ancestors are allowed, and a claim against the deepest
    /// model walks them all; one more is refused at registration, so no walk is ever longer.
    function test_lineageClaimInfo_atMaxDepth() public {
        uint256 family = registerBase(address(0xFA), keccak256("fam"));
        vm.warp(block.timestamp + 1);
        uint256 cursor = modelId;
        for (uint256 i; i < 16; ++i) {
            cursor = registerDerived(address(uint160(0x2000 + i)), cursor);
        }
        (,, uint8 depth,,) = registry.lineageInfo(cursor);
        vm.assertEq(uint256(depth), 16);
        (uint256 stake,,,) = registry.lineageClaimInfo(cursor, family);
        vm.assertEq(stake, 5 ether);
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.ModelRegistry__SameFamily.selector, cursor, modelId));
        registry.lineageClaimInfo(cursor, modelId);
    }

    /// @dev Issue 13 item 5: a family whose root was set in the subject's own second does not
    /// predate it.
    function test_RevertWhen_lineageClaimInfo_familyRegisteredSameSecond() public {
        uint256 family = registerBase(address(0xFA), keccak256("fam"));
        uint256 id = registerDerived(other, modelId);
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.ModelRegistry__LineageRootNotPrior.selector, id, family));
        registry.lineageClaimInfo(id, family);
    }

    /// @dev A family registered before the subject but whose root was set after it cannot accuse it.
    function test_RevertWhen_lineageClaimInfo_rootSetAfterSubject() public {
        uint256 family = registerWith(terms);
        vm.warp(block.timestamp + 1);
        uint256 id = registerDerived(other, modelId);
        vm.warp(block.timestamp + 1);
        vm.prank(other);
        registry.setLineageRoot(family, keccak256("late"));
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.ModelRegistry__LineageRootNotPrior.selector, id, family));
        registry.lineageClaimInfo(id, family);
        // The same family may accuse what registers after its root.
        vm.warp(block.timestamp + 1);
        uint256 later = registerDerived(address(0xCC), modelId);
        (, bytes32 root,,) = registry.lineageClaimInfo(later, family);
        vm.assertEq(root, keccak256("late"));
    }

    function test_RevertWhen_lineageClaimInfo_subjectRetired() public {
        uint256 family = registerBase(address(0xFA), keccak256("fam"));
        vm.warp(block.timestamp + 1);
        uint256 id = registerDerived(other, modelId);
        withdrawAll(id, other);
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.ModelRegistry__Retired.selector, id));
        registry.lineageClaimInfo(id, family);
    }

    function test_RevertWhen_lineageClaimInfo_familyRetired() public {
        uint256 family = registerDerived(address(0xFA), modelId);
        vm.prank(address(0xFA));
        registry.setLineageRoot(family, keccak256("fam"));
        vm.warp(block.timestamp + 1);
        uint256 id = registerDerived(other, modelId);
        registry.lineageClaimInfo(id, family); // accepted while the family is registered
        withdrawAll(family, address(0xFA));
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.ModelRegistry__Retired.selector, family));
        registry.lineageClaimInfo(id, family);
    }

    // -------------------------------------------------------- slashRegistration

    function test_slashRegistration_sendsToClaimManager() public {
        uint256 id = registerDerived(other, modelId);
        uint256 before = address(claims).balance;
        vmx.expectEmit(address(registry));
        emit ModelRegistry.RegistrationSlashed(id, 2 ether);
        vm.prank(address(claims));
        uint256 slashed = registry.slashRegistration(id, 2 ether);
        vm.assertEq(slashed, 2 ether);
        vm.assertEq(address(claims).balance, before + 2 ether);
        (,, uint96 stake,,) = registry.modelInfo(id);
        vm.assertEq(uint256(stake), 3 ether);
        vm.assertEq(registry.totalRegistrationStake(), 3 ether);
        vm.assertEq(address(registry).balance, 3 ether);
    }

    function test_slashRegistration_cappedAtStake() public {
        uint256 id = registerDerived(other, modelId);
        vm.prank(address(claims));
        vm.assertEq(registry.slashRegistration(id, 9 ether), 5 ether);
        vm.prank(address(claims));
        vm.assertEq(registry.slashRegistration(id, 1 ether), 0);
        vm.assertEq(registry.totalRegistrationStake(), 0);
    }

    function test_RevertWhen_slashRegistration_notClaimManager() public {
        uint256 id = registerDerived(other, modelId);
        vm.prank(admin);
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.ModelRegistry__NotClaimManager.selector, admin));
        registry.slashRegistration(id, 1 ether);
    }

    function test_RevertWhen_slashRegistration_unknownModel() public {
        vm.prank(address(claims));
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.ModelRegistry__UnknownModel.selector, 55));
        registry.slashRegistration(55, 1 ether);
    }

    function test_RevertWhen_slashRegistration_claimManagerRejectsEth() public {
        ClaimManagerStub stub = new ClaimManagerStub();
        registry = new ModelRegistry(address(stub), MIN_RETIREMENT_UNBONDING);
        uint256 parent = registerBase(other, bytes32(0));
        uint256 id = registerDerived(address(0xCC), parent);
        vm.prank(address(stub));
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.ModelRegistry__TransferFailed.selector));
        registry.slashRegistration(id, 1 ether);
    }

    function testFuzz_slashRegistration_neverMoreThanStake(uint256 a, uint256 b) public {
        uint256 id = registerDerived(other, modelId);
        a = bound(a, 0, 10 ether);
        b = bound(b, 0, 10 ether);
        vm.startPrank(address(claims));
        uint256 first = registry.slashRegistration(id, a);
        uint256 second = registry.slashRegistration(id, b);
        vm.stopPrank();
        vm.assertEq(first, a < 5 ether ? a : 5 ether);
        vm.assertEq(second, b < 5 ether - first ? b : 5 ether - first);
        vm.assertEq(address(registry).balance, 5 ether - first - second);
        vm.assertEq(registry.totalRegistrationStake(), address(registry).balance);
    }

    // --------------------------------------------------------------------- views

    function test_terms_returnsVersion() public {
        Terms memory t = copyTerms();
        t.quota = 5;
        vm.prank(admin);
        registry.updateTerms(modelId, t);
        vm.assertEq(uint256(registry.terms(modelId, 1).quota), uint256(terms.quota));
        vm.assertEq(uint256(registry.terms(modelId, 2).quota), 5);
        vm.assertEq(uint256(registry.terms(modelId, 3).minStake), 0);
    }

    function test_RevertWhen_terms_unknownModel() public {
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.ModelRegistry__UnknownModel.selector, 3));
        registry.terms(3, 1);
    }

    function test_claimTerms_returnsClaimFields() public view {
        (uint96 bond, uint32 window, uint16 slashBps, uint16 rewardBps, uint32 period) = registry.claimTerms(modelId, 1);
        vm.assertEq(uint256(bond), 1 ether);
        vm.assertEq(uint256(window), 1 days);
        vm.assertEq(uint256(slashBps), 5_000);
        vm.assertEq(uint256(rewardBps), 2_000);
        vm.assertEq(uint256(period), 365 days, "a claim derives the license's start from it");
    }

    function test_currentTerms_hashMatchesAbiEncoding() public view {
        (uint32 v, Terms memory t, bytes32 h) = registry.currentTerms(modelId);
        vm.assertEq(uint256(v), 1);
        vm.assertEq(uint256(t.minStake), 10 ether);
        vm.assertEq(h, keccak256(abi.encode(terms)));
    }

    function test_RevertWhen_currentTerms_retired() public {
        uint256 id = registerDerived(other, modelId);
        withdrawAll(id, other);
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.ModelRegistry__Retired.selector, id));
        registry.currentTerms(id);
    }

    function test_RevertWhen_currentTerms_unknownModel() public {
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.ModelRegistry__UnknownModel.selector, 0));
        registry.currentTerms(0);
    }

    function test_modelInfo_fixtureModel() public view {
        (address adm, uint256 parent, uint96 stake, bytes32 lr, bytes32 wh) = registry.modelInfo(modelId);
        vm.assertEq(adm, admin);
        vm.assertEq(parent, 0);
        vm.assertEq(uint256(stake), 0);
        vm.assertEq(lr, keccak256("lineage-root"));
        vm.assertEq(wh, keccak256("base"));
    }

    function test_RevertWhen_modelInfo_unknownModel() public {
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.ModelRegistry__UnknownModel.selector, 2));
        registry.modelInfo(2);
    }

    function test_adminOf_returnsRegistrant() public view {
        vm.assertEq(registry.adminOf(modelId), admin);
    }

    function test_RevertWhen_adminOf_unknownModel() public {
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.ModelRegistry__UnknownModel.selector, 2));
        registry.adminOf(2);
    }

    function test_owners_fixtureOwners() public view {
        address[] memory o = registry.owners(modelId);
        vm.assertEq(o.length, 2);
        vm.assertEq(o[0], ownerA);
        vm.assertEq(o[1], ownerB);
    }

    function test_RevertWhen_owners_unknownModel() public {
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.ModelRegistry__UnknownModel.selector, 2));
        registry.owners(2);
    }

    function test_sharesOf_ownersAndStrangers() public view {
        (uint256 a, uint256 total) = registry.sharesOf(modelId, ownerA);
        (uint256 b,) = registry.sharesOf(modelId, ownerB);
        (uint256 x,) = registry.sharesOf(modelId, other);
        vm.assertEq(a, 3);
        vm.assertEq(b, 1);
        vm.assertEq(x, 0);
        vm.assertEq(total, 4);
    }

    function test_RevertWhen_sharesOf_unknownModel() public {
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.ModelRegistry__UnknownModel.selector, 2));
        registry.sharesOf(2, ownerA);
    }

    function test_permissionSigner_fixture() public view {
        vm.assertEq(registry.permissionSigner(modelId), signer);
    }

    function test_RevertWhen_permissionSigner_unknownModel() public {
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.ModelRegistry__UnknownModel.selector, 2));
        registry.permissionSigner(2);
    }

    function test_modelCount_counts() public {
        vm.assertEq(registry.modelCount(), 1);
        registerWith(terms);
        registerDerived(address(0xCC), modelId);
        vm.assertEq(registry.modelCount(), 3);
    }

    function test_totalRegistrationStake_sumsDerived() public {
        registerDerived(other, modelId);
        registerDerived(address(0xCC), modelId);
        vm.assertEq(registry.totalRegistrationStake(), 10 ether);
        vm.assertEq(address(registry).balance, 10 ether);
    }

    function test_constants() public view {
        vm.assertEq(registry.SIGNER_ROTATION_DELAY(), 1 days);
        vm.assertEq(registry.MAX_OWNERS(), 32);
        vm.assertEq(registry.MAX_LINEAGE_DEPTH(), 16);
    }

    // ---------------------------------------------------------------------- fuzz

    function testFuzz_registerModel_totalSharesIsSum(uint256 n, uint256 seed) public {
        n = bound(n, 1, 32);
        address[] memory o = new address[](n);
        uint256[] memory s = new uint256[](n);
        uint256 sum;
        for (uint256 i; i < n; ++i) {
            o[i] = address(uint160(0x1000 + i));
            s[i] = bound(uint256(keccak256(abi.encode(seed, i))), 1, 1e30);
            sum += s[i];
        }
        uint256 id = registerOwners(o, s);
        for (uint256 i; i < n; ++i) {
            (uint256 sh, uint256 total) = registry.sharesOf(id, o[i]);
            vm.assertEq(sh, s[i]);
            vm.assertEq(total, sum);
        }
    }

    function testFuzz_registerModel_slashBpsRange(uint16 slashBps) public {
        Terms memory t = copyTerms();
        t.slashBps = slashBps;
        if (slashBps == 0 || slashBps > 10_000) expectInvalidTerms("slashBps");
        uint256 id = registerWith(t);
        if (slashBps != 0 && slashBps <= 10_000) {
            (,, uint16 got,,) = registry.claimTerms(id, 1);
            vm.assertEq(uint256(got), uint256(slashBps));
        }
    }

    function testFuzz_registerModel_unbondingMustExceedWindow(uint32 window, uint32 unbonding) public {
        window = uint32(bound(window, 1, type(uint32).max));
        Terms memory t = copyTerms();
        t.challengeWindow = window;
        t.unbondingPeriod = unbonding;
        bool ok = unbonding > window;
        if (!ok) expectInvalidTerms("unbondingPeriod");
        uint256 id = registerWith(t);
        if (ok) vm.assertEq(uint256(registry.terms(id, 1).unbondingPeriod), uint256(unbonding));
    }
}
