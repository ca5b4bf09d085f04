// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ClaimHelpers} from "../base/ClaimHelpers.sol";
import {ClaimManager} from "../../src/ClaimManager.sol";
import {ModelRegistry} from "../../src/ModelRegistry.sol";
import {LicenseManager} from "../../src/LicenseManager.sol";
import {Terms, ClaimKind} from "../../src/lib/OMLTypes.sol";

/// @dev Issue 13, items 5 and 6: "lineage claims go to the right family" and "lineage stake cannot
/// be dodged". Each test runs an attack that worked on the registry before the fix:
/// - a claimant registered a family with copied leaves a second before claiming and took a
///   derivative's whole stake under its own terms;
/// - a derivative 17 levels down could not be claimed against at all (the claim's walk gave up);
/// - a derivative declared an unbonding just above its challenge window and retired as soon as
///   it was caught, before a claimant could act;
/// - a derivative declared a cheap parent under an expensive family and locked the cheap stake;
/// - a model that withdrew its stake stayed registered: licensable, derivable, claimable.
/// The LINEAGE claims here run on the fixture's ALL_KINDS stack; production keeps LINEAGE disabled
/// (AlignmentBreachDisabled.t.sol), so these are the registry's guarantees for when it is enabled.
contract LineageAttackTest is ClaimHelpers {
    address internal deriver = address(0xDE21);
    address internal familyAdmin = address(0xFA111);
    address internal attacker = address(0xBAD1);

    // ------------------------------------------------------------------ helpers

    function one(address o) internal pure returns (address[] memory owners_, uint256[] memory shares_) {
        owners_ = new address[](1);
        owners_[0] = o;
        shares_ = new uint256[](1);
        shares_[0] = 1;
    }

    /// @dev A base model of `by` with terms `t` whose lineage root holds the fixture's four leaves.
    function registerFamily(address by, Terms memory t) internal returns (uint256 id) {
        (address[] memory o, uint256[] memory s) = one(by);
        vm.prank(by);
        id = registry.registerModel(o, s, signer, t, fingerprintRoot, keccak256(abi.encode("family", by)));
    }

    /// @dev A model derived from `parentId` by `by` with terms `t`, sending `stake`.
    function derive(address by, uint256 parentId, Terms memory t, uint256 stake) internal returns (uint256 id) {
        (address[] memory o, uint256[] memory s) = one(by);
        vm.deal(by, by.balance + stake);
        vm.prank(by);
        id = registry.registerDerivedModel{value: stake}(
            parentId, o, s, signer, t, bytes32(0), keccak256(abi.encode("derived", by, parentId))
        );
    }

    /// @dev A LINEAGE claim that `subject` answered fixture leaf `i` of `family`'s root, served now.
    function lineageClaim(uint256 subject, uint256 family, uint256 i)
        internal
        view
        returns (ClaimManager.ClaimInput memory c)
    {
        c = claimInput(i);
        c.kind = ClaimKind.LINEAGE;
        c.subjectId = subject;
        c.familyId = family;
        c.evidenceHash = keccak256(abi.encode("lineage transcript", subject, family, i));
        c = answeredAt(c, uint64(block.timestamp)); // a LINEAGE claim carries no receipt
    }

    /// @dev Opens `c` as the claimant with a full quorum's attestations, expecting `err`.
    function expectOpenReverts(ClaimManager.ClaimInput memory c, bytes memory err) internal {
        vm.warp(uint256(c.servedAt) + CLOCK_SKEW);
        bytes[] memory sigs = signAttestation(c, sortedVerifierPks());
        vm.deal(claimant, claimant.balance + 10 ether);
        vm.prank(claimant);
        vm.expectRevert(err);
        claims.openClaim{value: terms.claimBond}(c, sigs);
    }

    /// @dev Retires `id` for good: requests retirement, waits it out and withdraws the stake.
    function retire(uint256 id, address by) internal {
        vm.prank(by);
        registry.requestRetirement(id);
        (,,, uint40 unbondAt,) = registry.lineageInfo(id);
        vm.warp(unbondAt);
        vm.prank(by);
        registry.withdrawRegistration(id);
    }

    // ------------------------------------------- item 5: the family must come first

    /// @dev The attack of the issue: an honest derivative is registered; a claimant then registers
    /// a "family" whose root holds leaves it made up (or copied), with terms that pay the claimant
    /// everything, and accuses the derivative. Refused: the family's root postdates the subject.
    function test_lineage_familyRegisteredAfterSubject_cannotClaim() public {
        uint256 honest = derive(deriver, modelId, terms, terms.registrationStake);
        vm.warp(block.timestamp + 1);
        Terms memory greedy = terms;
        greedy.slashBps = 10_000;
        greedy.claimantRewardBps = 10_000;
        uint256 fake = registerFamily(attacker, greedy);
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.ModelRegistry__LineageRootNotPrior.selector, honest, fake));
        registry.lineageClaimInfo(honest, fake);
        expectOpenReverts(
            lineageClaim(honest, fake, 0),
            abi.encodeWithSelector(ModelRegistry.ModelRegistry__LineageRootNotPrior.selector, honest, fake)
        );
        (,, uint96 stake,,) = registry.modelInfo(honest);
        vm.assertEq(uint256(stake), terms.registrationStake, "the derivative keeps its stake");
    }

    /// @dev Even within the same block: "a second before" is not before.
    function test_lineage_familyRegisteredSameSecond_cannotClaim() public {
        uint256 fake = registerFamily(attacker, terms);
        uint256 honest = derive(deriver, modelId, terms, terms.registrationStake);
        expectOpenReverts(
            lineageClaim(honest, fake, 1),
            abi.encodeWithSelector(ModelRegistry.ModelRegistry__LineageRootNotPrior.selector, honest, fake)
        );
    }

    /// @dev A rootless model registered early, its root set once the victim is known: the root's
    /// time counts, not the model's.
    function test_lineage_rootSetAfterSubject_cannotClaim() public {
        (address[] memory o, uint256[] memory s) = one(attacker);
        vm.prank(attacker);
        uint256 sleeper = registry.registerModel(o, s, signer, terms, bytes32(0), keccak256("sleeper"));
        vm.warp(block.timestamp + 1 days);
        uint256 honest = derive(deriver, modelId, terms, terms.registrationStake);
        vm.warp(block.timestamp + 1);
        vm.prank(attacker);
        registry.setLineageRoot(sleeper, fingerprintRoot);
        expectOpenReverts(
            lineageClaim(honest, sleeper, 2),
            abi.encodeWithSelector(ModelRegistry.ModelRegistry__LineageRootNotPrior.selector, honest, sleeper)
        );
    }

    /// @dev The control: a family whose root predates the derivative does claim its stake.
    function test_lineage_priorFamily_claims() public {
        uint256 family = registerFamily(familyAdmin, terms);
        vm.warp(block.timestamp + 1);
        uint256 copy = derive(deriver, modelId, terms, terms.registrationStake);
        (uint256 id, ClaimManager.ClaimRecord memory r) =
            openAs(claimant, lineageClaim(copy, family, 0), firstVerifiers(3));
        vm.assertEq(r.modelId, family);
        vm.warp(r.deadline + 1);
        claims.execute(id, r);
        (,, uint96 stake,,) = registry.modelInfo(copy);
        vm.assertEq(uint256(stake), terms.registrationStake - r.slashAmount);
    }

    // ------------------------------------------------ item 6: depth capped at registration

    /// @dev Before the fix a 17th derivation registered, and every claim against it reverted
    /// LineageTooDeep: a stake nobody could slash. Now the 17th is refused, and the 16th, the
    /// deepest there can be, is claimable.
    function test_lineage_derivativeOfDepth16Chain_refused() public {
        uint256 family = registerFamily(familyAdmin, terms);
        vm.warp(block.timestamp + 1);
        uint256 cursor = modelId;
        for (uint256 i; i < 16; ++i) {
            cursor = derive(address(uint160(0x2000 + i)), cursor, terms, terms.registrationStake);
        }
        (address[] memory o, uint256[] memory s) = one(deriver);
        vm.deal(deriver, terms.registrationStake);
        vm.prank(deriver);
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.ModelRegistry__LineageTooDeep.selector));
        registry.registerDerivedModel{value: terms.registrationStake}(
            cursor, o, s, signer, terms, bytes32(0), keccak256("too deep")
        );
        (uint256 id,) = openAs(claimant, lineageClaim(cursor, family, 3), firstVerifiers(3));
        vm.assertEq(claims.openClaims(true, cursor), 1, "the deepest derivative is within reach");
        vm.assertGt(id, 0);
    }

    // ------------------------------------------- item 6: unbonding at least the family's

    /// @dev A derivative declares an unbonding just over its challenge window, so that once it is
    /// caught it can retire and withdraw before a claim is put together. Refused at registration.
    function test_lineage_shorterUnbondingThanFamily_refused() public {
        Terms memory quick = terms;
        quick.unbondingPeriod = terms.challengeWindow + 1;
        (address[] memory o, uint256[] memory s) = one(deriver);
        vm.deal(deriver, terms.registrationStake);
        vm.prank(deriver);
        vm.expectRevert(
            abi.encodeWithSelector(
                ModelRegistry.ModelRegistry__UnbondingTooShort.selector, terms.unbondingPeriod, quick.unbondingPeriod
            )
        );
        registry.registerDerivedModel{value: terms.registrationStake}(
            modelId, o, s, signer, quick, bytes32(0), keccak256("quick")
        );
    }

    /// @dev ... nor later through updateTerms, nor by shortening terms once retirement is asked.
    function test_lineage_shortenUnbondingLater_refused() public {
        uint256 copy = derive(deriver, modelId, terms, terms.registrationStake);
        Terms memory quick = terms;
        quick.unbondingPeriod = terms.challengeWindow + 1;
        vm.prank(deriver);
        vm.expectRevert(
            abi.encodeWithSelector(
                ModelRegistry.ModelRegistry__UnbondingTooShort.selector, terms.unbondingPeriod, quick.unbondingPeriod
            )
        );
        registry.updateTerms(copy, quick);

        // The family lowers its own unbonding later; the derivative follows, but a retirement
        // already requested keeps the unbondAt it was given.
        vm.prank(deriver);
        registry.requestRetirement(copy);
        uint256 unbondAt = block.timestamp + terms.unbondingPeriod;
        vm.prank(admin);
        registry.updateTerms(modelId, quick);
        vm.prank(deriver);
        registry.updateTerms(copy, quick);
        vm.warp(block.timestamp + quick.unbondingPeriod);
        vm.prank(deriver);
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.ModelRegistry__StillUnbonding.selector, copy, unbondAt));
        registry.withdrawRegistration(copy);
    }

    /// @dev A family with a short unbonding of its own: the protocol minimum still holds its
    /// derivatives' stake long enough for a claimant to act, and a claim opened in time blocks
    /// the withdrawal until it is executed.
    function test_lineage_retireWhenCaught_protocolMinimumHolds() public {
        Terms memory quick = terms;
        quick.unbondingPeriod = terms.challengeWindow + 1;
        uint256 family = registerFamily(familyAdmin, quick);
        // The family the copy really comes from, registered before it, not declared by it.
        uint256 rival = registerFamily(address(0xF2), terms);
        vm.warp(block.timestamp + 1);
        uint256 copy = derive(deriver, family, quick, terms.registrationStake);
        vm.prank(deriver);
        registry.requestRetirement(copy);
        uint256 unbondAt = block.timestamp + MIN_RETIREMENT_UNBONDING;
        (,,, uint40 stored,) = registry.lineageInfo(copy);
        vm.assertEq(uint256(stored), unbondAt, "the minimum, not the terms' 1 day + 1 s");
        vm.warp(block.timestamp + quick.unbondingPeriod);
        vm.prank(deriver);
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.ModelRegistry__StillUnbonding.selector, copy, unbondAt));
        registry.withdrawRegistration(copy);
        // A claimant has the rest of the minimum to act.
        (uint256 id, ClaimManager.ClaimRecord memory r) =
            openAs(claimant, lineageClaim(copy, rival, 0), firstVerifiers(3));
        vm.warp(unbondAt);
        vm.prank(deriver);
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.ModelRegistry__StillUnbonding.selector, copy, unbondAt));
        registry.withdrawRegistration(copy);
        claims.execute(id, r);
        (,, uint96 stake,,) = registry.modelInfo(copy);
        vm.assertEq(uint256(stake), terms.registrationStake - r.slashAmount);
    }

    // ------------------------------------------------ item 6: the family sets the stake

    /// @dev A derivative of an expensive family declares a cheap intermediate parent (its own
    /// model, asking almost nothing) and locks the cheap stake. Refused: the largest any declared
    /// ancestor asks.
    function test_lineage_cheapParentUnderExpensiveGrandparent_refused() public {
        Terms memory dear = terms;
        dear.registrationStake = 50 ether;
        uint256 expensive = registerFamily(familyAdmin, dear);
        vm.warp(block.timestamp + 1);
        Terms memory cheap = terms;
        cheap.registrationStake = 1 wei;
        uint256 shell = derive(attacker, expensive, cheap, 50 ether);
        (address[] memory o, uint256[] memory s) = one(deriver);
        vm.deal(deriver, 100 ether);
        vm.prank(deriver);
        vm.expectRevert(
            abi.encodeWithSelector(ModelRegistry.ModelRegistry__WrongRegistrationStake.selector, 50 ether, 1 wei)
        );
        registry.registerDerivedModel{value: 1 wei}(shell, o, s, signer, terms, bytes32(0), keccak256("cheap"));
        uint256 copy = derive(deriver, shell, terms, 50 ether);
        (,, uint96 stake,,) = registry.modelInfo(copy);
        vm.assertEq(uint256(stake), 50 ether);
    }

    /// @dev A parent asking nothing does not open a free path under a family that asks something.
    function test_lineage_zeroStakeParentUnderFamily_locksFamilyStake() public {
        Terms memory free_ = terms;
        free_.registrationStake = 0;
        uint256 shell = derive(attacker, modelId, free_, terms.registrationStake);
        (address[] memory o, uint256[] memory s) = one(deriver);
        vm.prank(deriver);
        vm.expectRevert(
            abi.encodeWithSelector(
                ModelRegistry.ModelRegistry__WrongRegistrationStake.selector, terms.registrationStake, 0
            )
        );
        registry.registerDerivedModel(shell, o, s, signer, terms, bytes32(0), keccak256("free"));
    }

    // ------------------------------------------------ item 6: a retired model is deregistered

    /// @dev A derivative withdraws its stake and goes on as if registered: new licenses, new
    /// derivatives, claims as a family. All refused once it is Retired.
    function test_lineage_retiredModel_deregistered() public {
        uint256 family = registerFamily(familyAdmin, terms);
        vm.warp(block.timestamp + 1);
        uint256 copy = derive(deriver, modelId, terms, terms.registrationStake);
        vm.prank(deriver);
        registry.setLineageRoot(copy, fingerprintRoot); // a root that would prove the claim below
        (,, bytes32 termsHash) = registry.currentTerms(copy);
        vm.warp(block.timestamp + 1);
        uint256 later = derive(address(0x1A7E), family, terms, terms.registrationStake);
        retire(copy, deriver);

        // No new license (LicenseManager reads currentTerms).
        vm.prank(host);
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.ModelRegistry__Retired.selector, copy));
        licenses.acquireLicense{value: terms.minStake}(copy, ENDPOINT, termsHash, gateway);
        // No new derivative.
        (address[] memory o, uint256[] memory s) = one(attacker);
        vm.deal(attacker, terms.registrationStake);
        vm.prank(attacker);
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.ModelRegistry__Retired.selector, copy));
        registry.registerDerivedModel{value: terms.registrationStake}(copy, o, s, signer, terms, bytes32(0), bytes32(0));
        // No new terms or root.
        vm.prank(deriver);
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.ModelRegistry__Retired.selector, copy));
        registry.updateTerms(copy, terms);
        // Neither the subject nor the family of a claim.
        expectOpenReverts(
            lineageClaim(copy, family, 0), abi.encodeWithSelector(ModelRegistry.ModelRegistry__Retired.selector, copy)
        );
        expectOpenReverts(
            lineageClaim(later, copy, 1), abi.encodeWithSelector(ModelRegistry.ModelRegistry__Retired.selector, copy)
        );
    }

    /// @dev What a retired model's existing licenses rely on keeps working: a claim against such a
    /// license opens on its terms, the host refutes it with its σ, and it exits on its terms.
    function test_lineage_retiredModel_existingLicenseKeepsWorking() public {
        uint256 copy = derive(deriver, modelId, terms, terms.registrationStake);
        (,, bytes32 termsHash) = registry.currentTerms(copy);
        vm.prank(host);
        uint256 lic = licenses.acquireLicense{value: terms.minStake}(copy, ENDPOINT, termsHash, gateway);
        vm.prank(deriver);
        licenses.setFingerprintCommitment(lic, fingerprintRoot, keccak256("copy weights"));
        uint64 servedAt = licenseStart(lic);
        retire(copy, deriver);

        ClaimManager.ClaimInput memory c = claimInput(0);
        c.subjectId = lic;
        c = answeredAt(c, servedAt);
        (uint256 id, ClaimManager.ClaimRecord memory r) = openAs(claimant, c, firstVerifiers(3));
        vm.assertEq(r.modelId, copy);
        vm.prank(host);
        claims.refute(id, r, 1, servedAt, permissionSig(SIGNER_PK, lic, c.queryHash, 1, servedAt));
        vm.assertEq(uint256(claims.claimStatus(id)), uint256(ClaimManager.ClaimStatus.Refuted));

        vm.prank(host);
        licenses.requestExit(lic);
        LicenseManager.License memory l = licenses.getLicense(lic);
        vm.assertEq(uint256(l.stake), terms.minStake);
    }
}
