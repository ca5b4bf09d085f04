// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ClaimHelpers, TestMerkle, EthRefuser, GasHungryReceiver, VmClaims} from "./base/ClaimHelpers.sol";
import {ClaimManager} from "../src/ClaimManager.sol";
import {ModelRegistry} from "../src/ModelRegistry.sol";
import {LicenseManager} from "../src/LicenseManager.sol";
import {UsageSettlement} from "../src/UsageSettlement.sol";
import {VerifierRegistry} from "../src/VerifierRegistry.sol";
import {TypedData} from "../src/lib/TypedData.sol";
import {PaymentSender} from "../src/lib/PaymentSender.sol";
import {Terms, ClaimKind} from "../src/lib/OMLTypes.sol";
import {IModelRegistry, ILicenseManager, IVerifierRegistry, IUsageSettlement} from "../src/interfaces/IOML.sol";

/// @dev Unit tests of every external function of ClaimManager, each of its custom errors (and
/// PaymentSender's and TypedData's as reached through it), and fuzz tests of the slash split and
/// of record tampering.
contract ClaimManagerTest is ClaimHelpers {
    uint256 internal constant SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141;
    uint256 internal constant OUTSIDER_PK = 0xBAD;

    // The fixture's numbers: stake 10, slash 50 % = 5, reward 20 % of that = 1, bond 1.
    uint256 internal constant STAKE = 10 ether;
    uint256 internal constant BOND = 1 ether;
    uint256 internal constant SLASH = 5 ether;
    uint256 internal constant REWARD = 1 ether;

    // LINEAGE: a family model with a three-leaf lineage root and a model derived from the fixture's.
    address internal familyAdmin = address(0xFA111);
    address internal ownerC = address(0xC0C);
    address internal derivedAdmin = address(0xDE21);
    uint256 internal familyId;
    uint256 internal derivedId;
    Terms internal familyTerms;
    bytes32[] internal lineageLeaves;
    ClaimManager.ClaimInput[] internal lineageInputs;

    function setUp() public override {
        super.setUp();
        vm.label(address(claims), "ClaimManager");
        vm.label(host, "host");
        vm.label(claimant, "claimant");
    }

    // =============================================================== helpers

    function setUpLineage() internal {
        familyTerms = terms;
        familyTerms.claimBond = 2 ether;
        // Longer than the fixture's, yet shorter than the verifiers' activation delay (2 days).
        familyTerms.challengeWindow = 36 hours;
        familyTerms.unbondingPeriod = 8 days;
        familyTerms.slashBps = 6_000;
        familyTerms.claimantRewardBps = 3_000;
        for (uint256 i; i < 3; ++i) {
            ClaimManager.ClaimInput storage c = lineageInputs.push();
            c.kind = ClaimKind.LINEAGE;
            c.familyId = 0; // set below
            c.queryHash = keccak256(abi.encode("lineage-q", i));
            c.responseHash = keccak256(abi.encode("lineage-r", i));
            c.salt = keccak256(abi.encode("lineage-s", i));
            c.evidenceHash = keccak256(abi.encode("lineage-e", i));
            // Answered just long enough ago for a claim to open now.
            c.servedAt = uint64(block.timestamp - CLOCK_SKEW);
            lineageLeaves.push(leafOf(c.queryHash, c.responseHash, c.salt));
        }
        address[] memory o = new address[](1);
        o[0] = ownerC;
        uint256[] memory s = new uint256[](1);
        s[0] = 1;
        vm.prank(familyAdmin);
        familyId = registry.registerModel(o, s, signer, familyTerms, TestMerkle.root(lineageLeaves), keccak256("fam"));
        vm.warp(block.timestamp + 1); // a family accuses only models registered after its root
        o[0] = derivedAdmin;
        vm.deal(derivedAdmin, 10 ether);
        vm.prank(derivedAdmin);
        derivedId = registry.registerDerivedModel{value: terms.registrationStake}(
            modelId, o, s, signer, terms, bytes32(0), keccak256("derived")
        );
        for (uint256 i; i < 3; ++i) {
            lineageInputs[i].subjectId = derivedId;
            lineageInputs[i].familyId = familyId;
            lineageInputs[i].proof = TestMerkle.proof(lineageLeaves, lineageLeaves[i]);
        }
    }

    function lineageInput(uint256 i) internal view returns (ClaimManager.ClaimInput memory) {
        return lineageInputs[i];
    }

    function alignmentInput(bytes32 evidence) internal view returns (ClaimManager.ClaimInput memory c) {
        c.kind = ClaimKind.ALIGNMENT_BREACH;
        c.subjectId = licenseId;
        c.evidenceHash = evidence;
        c.servedAt = licenseStart(licenseId);
    }

    /// @dev A LEAK claim carries no receipt (its answer came from a leaked copy, not the gateway).
    function leakInput(uint256 i) internal view returns (ClaimManager.ClaimInput memory c) {
        c = claimInput(i);
        c.kind = ClaimKind.LEAK;
        c = answeredAt(c, c.servedAt);
    }

    /// @dev Fixture claim `i` whose answer the gateway served (and receipted) at `servedAt`.
    function servedAtInput(uint256 i, uint64 servedAt) internal view returns (ClaimManager.ClaimInput memory) {
        return answeredAt(claimInput(i), servedAt);
    }

    function three() internal view returns (uint256[] memory) {
        return firstVerifiers(3);
    }

    function openDefault(uint256 i) internal returns (uint256 id, ClaimManager.ClaimRecord memory r) {
        return openAs(claimant, claimInput(i), three());
    }

    /// @dev The host refutes with the σ it held when it served the answer.
    function refuteAsHost(uint256 id, ClaimManager.ClaimRecord memory r) internal {
        bytes memory sigma = sigmaFor(r, 7);
        vm.prank(host);
        claims.refute(id, r, 7, r.servedAt, sigma);
    }

    function malleate(bytes memory sig) internal pure returns (bytes memory) {
        bytes32 r;
        bytes32 s;
        uint8 v;
        assembly ("memory-safe") {
            r := mload(add(sig, 0x20))
            s := mload(add(sig, 0x40))
            v := byte(0, mload(add(sig, 0x60)))
        }
        return abi.encodePacked(r, bytes32(SECP256K1_N - uint256(s)), v == 27 ? uint8(28) : uint8(27));
    }

    function withV(bytes memory sig, uint8 v) internal pure returns (bytes memory out) {
        out = bytes.concat(sig);
        out[64] = bytes1(v);
    }

    function domainOf(address verifying) internal view returns (bytes32) {
        return keccak256(
            abi.encode(
                keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"),
                keccak256("OML"),
                keccak256("1"),
                block.chainid,
                verifying
            )
        );
    }

    function licenseStake(uint256 id) internal view returns (uint256) {
        return licenses.getLicense(id).stake;
    }

    function verifierStake(address v) internal view returns (uint256 stake) {
        (stake,,,) = verifiers.verifierInfo(v);
    }

    function assertStatus(uint256 id, ClaimManager.ClaimStatus s) internal view {
        vm.assertEq(uint256(claims.claimStatus(id)), uint256(s), "status");
    }

    // ============================================================= openClaim

    function test_openClaim_unpermittedUse_storesRecordAndTakesBond() public {
        ClaimManager.ClaimInput memory c = claimInput(0);
        ClaimManager.ClaimRecord memory r = expectedRecord(0, 3);
        bytes[] memory sigs = attest(c, leaves[0], 3);
        uint256 before = claimant.balance;

        vmc.expectEmit(address(claims));
        emit ClaimManager.ClaimOpened(1, ClaimKind.UNPERMITTED_USE, licenseId, r, c.evidenceHash, sortedAttesters(3));
        vm.prank(claimant);
        uint256 id = claims.openClaim{value: BOND}(c, sigs);

        vm.assertEq(id, 1, "id");
        vm.assertEq(claims.claimCount(), 1, "count");
        assertStatus(id, ClaimManager.ClaimStatus.Open);
        vm.assertTrue(claims.matchesRecord(id, r), "record");
        vm.assertEq(claimOfInput(claimInput(0)), id, "leaf");
        vm.assertEq(claims.openClaims(false, licenseId), 1, "open");
        vm.assertEq(claims.openClaims(true, licenseId), 0, "open lineage");
        vm.assertEq(claims.pendingSlash(false, licenseId), SLASH, "the slash is reserved");
        vm.assertEq(claims.pendingSlash(true, licenseId), 0);
        vm.assertEq(claimant.balance, before - BOND, "claimant paid the bond");
        vm.assertEq(address(claims).balance, BOND, "bond held");
        vm.assertEq(r.slashAmount, SLASH, "slash snapshot");
        vm.assertEq(r.reward, REWARD, "reward snapshot");
        // The generic oracle agrees with the fixture's.
        vm.assertEq(keccak256(abi.encode(recordFor(c, claimant, sortedAttesters(3)))), keccak256(abi.encode(r)));
    }

    function test_openClaim_leak() public {
        ClaimManager.ClaimInput memory c = leakInput(1);
        ClaimManager.ClaimRecord memory r = recordFor(c, claimant, addressesOf(three()));
        bytes[] memory sigs = signAttestation(c, three());
        vmc.expectEmit(address(claims));
        emit ClaimManager.ClaimOpened(1, ClaimKind.LEAK, licenseId, r, c.evidenceHash, addressesOf(three()));
        vm.prank(claimant);
        uint256 id = claims.openClaim{value: BOND}(c, sigs);
        vm.assertTrue(claims.matchesRecord(id, r));
        vm.assertEq(uint256(r.kind), uint256(ClaimKind.LEAK));
        vm.assertEq(r.queryHash, queryHashes[1]);
        vm.assertEq(claims.openClaims(false, licenseId), 1);
    }

    function test_openClaim_lineage() public {
        setUpLineage();
        ClaimManager.ClaimInput memory c = lineageInput(2);
        ClaimManager.ClaimRecord memory r = recordFor(c, claimant, addressesOf(three()));
        // The family's terms apply; the subject's registration stake is snapshotted.
        vm.assertEq(r.modelId, familyId);
        vm.assertEq(r.accused, derivedAdmin);
        vm.assertEq(r.bond, 2 ether);
        vm.assertEq(r.slashAmount, 3 ether); // 5 × 60 %
        vm.assertEq(r.reward, 0.9 ether); // 3 × 30 %
        vm.assertEq(r.deadline, block.timestamp + 36 hours);
        bytes[] memory sigs = signAttestation(c, three());
        vmc.expectEmit(address(claims));
        emit ClaimManager.ClaimOpened(1, ClaimKind.LINEAGE, derivedId, r, c.evidenceHash, addressesOf(three()));
        vm.prank(claimant);
        uint256 id = claims.openClaim{value: 2 ether}(c, sigs);
        vm.assertTrue(claims.matchesRecord(id, r));
        vm.assertEq(claims.openClaims(true, derivedId), 1, "lineage open");
        vm.assertEq(claims.pendingSlash(true, derivedId), 3 ether, "registration stake reserved");
        vm.assertEq(claims.pendingSlash(false, derivedId), 0);
        vm.assertEq(claims.openClaims(false, derivedId), 0, "license counter untouched");
        vm.assertEq(claimOfInput(c), id);
        vm.assertEq(address(claims).balance, 2 ether);
    }

    function test_openClaim_lineage_oddLeafCarriedUp() public {
        setUpLineage();
        // A small slash fraction, so that three open claims fit in the registration stake.
        Terms memory t = familyTerms;
        t.slashBps = 2_000;
        vm.prank(familyAdmin);
        registry.updateTerms(familyId, t);
        // With three leaves one of them has a one-element proof (carried up unchanged).
        bool sawShort;
        for (uint256 i; i < 3; ++i) {
            if (lineageInputs[i].proof.length == 1) sawShort = true;
            (uint256 id,) = openAs(claimant, lineageInput(i), three());
            assertStatus(id, ClaimManager.ClaimStatus.Open);
        }
        vm.assertTrue(sawShort, "a carried-up leaf");
        vm.assertEq(claims.openClaims(true, derivedId), 3);
    }

    function test_openClaim_alignmentBreach_leafIsEvidence() public {
        bytes32 evidence = keccak256("alignment transcript");
        ClaimManager.ClaimInput memory c = alignmentInput(evidence);
        // Query fields are ignored for this kind: no proof, no queryHash in the record.
        c.queryHash = keccak256("ignored");
        ClaimManager.ClaimRecord memory r = recordFor(c, claimant, addressesOf(three()));
        vm.assertEq(r.leaf, evidence);
        vm.assertEq(r.queryHash, bytes32(0));
        bytes[] memory sigs = signAttestation(c, three());
        vmc.expectEmit(address(claims));
        emit ClaimManager.ClaimOpened(1, ClaimKind.ALIGNMENT_BREACH, licenseId, r, evidence, addressesOf(three()));
        vm.prank(claimant);
        uint256 id = claims.openClaim{value: BOND}(c, sigs);
        vm.assertTrue(claims.matchesRecord(id, r));
        vm.assertEq(claimOfInput(c), id);
        vm.assertEq(claims.openClaims(false, licenseId), 1);
    }

    function test_openClaim_alignmentBreach_withoutFingerprintCommitment() public {
        uint256 bare = acquire(host, STAKE);
        ClaimManager.ClaimInput memory c = alignmentInput(keccak256("e"));
        c.subjectId = bare;
        c.servedAt = licenseStart(bare);
        (uint256 id,) = openAs(claimant, c, three());
        assertStatus(id, ClaimManager.ClaimStatus.Open);
    }

    function test_openClaim_allFourVerifiers() public {
        (uint256 id, ClaimManager.ClaimRecord memory r) = openAs(claimant, claimInput(0), verifierPksArray());
        vm.assertEq(r.attestersHash, keccak256(abi.encodePacked(sortedAttesters(4))));
        vm.assertTrue(claims.matchesRecord(id, r));
    }

    function test_openClaim_quorumFollowsActiveSet() public {
        // One verifier leaves: 3 ETH active, quorum two thirds of it = 2 ETH, two attesters.
        uint256[] memory s = sortedVerifierPks();
        vm.prank(vm.addr(s[3]));
        verifiers.requestLeave();
        vm.assertEq(verifiers.activeStake(), 3 ether);
        vm.assertEq(verifiers.quorumStake(), 2 ether);
        (uint256 id,) = openAs(claimant, claimInput(0), firstVerifiers(2));
        assertStatus(id, ClaimManager.ClaimStatus.Open);
    }

    function test_openClaim_onExitingLicense() public {
        vm.prank(host);
        licenses.requestExit(licenseId);
        closeUsage(licenseId);
        (uint256 id, ClaimManager.ClaimRecord memory r) = openDefault(0);
        vm.assertEq(r.slashAmount, SLASH);
        // The stake cannot leave while the claim is open, even after unbonding.
        vm.warp(block.timestamp + terms.unbondingPeriod);
        vm.prank(host);
        vm.expectRevert(abi.encodeWithSelector(LicenseManager.LicenseManager__ClaimOpen.selector, licenseId));
        licenses.withdraw(licenseId);
        claims.execute(id, r);
        uint256 before = host.balance;
        vm.prank(host);
        licenses.withdraw(licenseId);
        vm.assertEq(host.balance - before, STAKE - SLASH, "host keeps the unslashed rest");
    }

    function test_openClaim_countsSeveralClaims() public {
        // Slash 30 %: three claims reserve 9 of the 10 ETH staked, so all three fit.
        Terms memory t = terms;
        t.slashBps = 3_000;
        vm.prank(admin);
        registry.updateTerms(modelId, t);
        (uint256 lic, ClaimManager.ClaimInput[] memory inputs) = licenseWithFingerprints(host, STAKE, 2, "count");
        openAs(claimant, inputs[0], three());
        openAs(claimant, inputs[1], three());
        ClaimManager.ClaimInput memory c = alignmentInput(keccak256("x"));
        c.subjectId = lic;
        c.servedAt = licenseStart(lic);
        (uint256 id3,) = openAs(claimant, c, three());
        vm.assertEq(id3, 3);
        vm.assertEq(claims.claimCount(), 3);
        vm.assertEq(claims.openClaims(false, lic), 3);
        vm.assertEq(claims.pendingSlash(false, lic), 9 ether);
        vm.assertEq(address(claims).balance, 3 * BOND);
    }

    function test_openClaim_revert_leafOfRefutedClaimEvenWithFreshAttestations() public {
        (uint256 id, ClaimManager.ClaimRecord memory r) = openDefault(0);
        refuteAsHost(id, r);
        vm.assertEq(claimOfInput(claimInput(0)), id, "a revealed key stays spent");
        ClaimManager.ClaimInput memory c = claimInput(0);
        c.evidenceHash = keccak256("another transcript");
        bytes[] memory sigs = signAttestation(c, sortByAddress(three()));
        vm.prank(claimant);
        vm.expectRevert(abi.encodeWithSelector(ClaimManager.ClaimManager__AnswerAlreadyClaimed.selector, claims.claimKey(false, licenseId, 0, queryHashes[0]), id));
        claims.openClaim{value: BOND}(c, sigs);
    }

    function verifierPksArray() internal view returns (uint256[] memory pks) {
        pks = new uint256[](4);
        for (uint256 i; i < 4; ++i) {
            pks[i] = verifierPks[i];
        }
    }

    // ------------------------------------------------------ openClaim reverts

    function test_openClaim_revert_wrongBond_tooLittle() public {
        ClaimManager.ClaimInput memory c = claimInput(0);
        bytes[] memory sigs = attest(c, leaves[0], 3);
        vm.prank(claimant);
        vm.expectRevert(abi.encodeWithSelector(ClaimManager.ClaimManager__WrongBond.selector, BOND, BOND - 1));
        claims.openClaim{value: BOND - 1}(c, sigs);
        vm.prank(claimant);
        vm.expectRevert(abi.encodeWithSelector(ClaimManager.ClaimManager__WrongBond.selector, BOND, 0));
        claims.openClaim(c, sigs);
    }

    function test_openClaim_revert_wrongBond_tooMuch() public {
        ClaimManager.ClaimInput memory c = claimInput(0);
        bytes[] memory sigs = attest(c, leaves[0], 3);
        vm.prank(claimant);
        vm.expectRevert(abi.encodeWithSelector(ClaimManager.ClaimManager__WrongBond.selector, BOND, 2 ether));
        claims.openClaim{value: 2 ether}(c, sigs);
    }

    function test_openClaim_revert_wrongBond_lineageUsesFamilyBond() public {
        setUpLineage();
        ClaimManager.ClaimInput memory c = lineageInput(0);
        bytes[] memory sigs = signAttestation(c, three());
        vm.prank(claimant);
        vm.expectRevert(abi.encodeWithSelector(ClaimManager.ClaimManager__WrongBond.selector, 2 ether, BOND));
        claims.openClaim{value: BOND}(c, sigs);
    }

    function test_openClaim_revert_badProof_wrongSibling() public {
        ClaimManager.ClaimInput memory c = claimInput(0);
        c.proof = proofOf(1);
        bytes[] memory sigs = attest(c, leaves[0], 3);
        vm.prank(claimant);
        vm.expectRevert(ClaimManager.ClaimManager__BadProof.selector);
        claims.openClaim{value: BOND}(c, sigs);
    }

    function test_openClaim_revert_badProof_wrongResponse() public {
        ClaimManager.ClaimInput memory c = claimInput(0);
        c.responseHash = keccak256("a different answer");
        bytes[] memory sigs = signAttestation(c, three());
        vm.prank(claimant);
        vm.expectRevert(ClaimManager.ClaimManager__BadProof.selector);
        claims.openClaim{value: BOND}(c, sigs);
    }

    function test_openClaim_revert_badProof_emptyProof() public {
        ClaimManager.ClaimInput memory c = claimInput(0);
        c.proof = new bytes32[](0);
        bytes[] memory sigs = attest(c, leaves[0], 3);
        vm.prank(claimant);
        vm.expectRevert(ClaimManager.ClaimManager__BadProof.selector);
        claims.openClaim{value: BOND}(c, sigs);
    }

    function test_openClaim_revert_badProof_leafOfAnotherLicense() public {
        (uint256 other, ClaimManager.ClaimInput[] memory inputs) = licenseWithFingerprints(host, STAKE, 4, "other");
        ClaimManager.ClaimInput memory c = inputs[0];
        c.subjectId = licenseId; // proven against the wrong license's root
        bytes[] memory sigs = signAttestation(c, three());
        vm.prank(claimant);
        vm.expectRevert(ClaimManager.ClaimManager__BadProof.selector);
        claims.openClaim{value: BOND}(c, sigs);
        // Against its own license it opens.
        c.subjectId = other;
        (uint256 id,) = openAs(claimant, inputs[0], three());
        vm.assertEq(claims.openClaims(false, other), 1);
        vm.assertEq(id, 1);
    }

    function test_openClaim_revert_badProof_lineage() public {
        setUpLineage();
        ClaimManager.ClaimInput memory c = lineageInput(0);
        c.proof = lineageInputs[1].proof;
        bytes[] memory sigs = signAttestation(c, three());
        vm.prank(claimant);
        vm.expectRevert(ClaimManager.ClaimManager__BadProof.selector);
        claims.openClaim{value: 2 ether}(c, sigs);
    }

    function test_openClaim_revert_noFingerprintCommitment() public {
        uint256 bare = acquire(host, STAKE);
        ClaimManager.ClaimInput memory c = claimInput(0);
        c.subjectId = bare;
        bytes[] memory sigs = signAttestation(c, three());
        vm.prank(claimant);
        vm.expectRevert(abi.encodeWithSelector(ClaimManager.ClaimManager__NoFingerprintCommitment.selector, bare));
        claims.openClaim{value: BOND}(c, sigs);
    }

    function test_openClaim_revert_unexpectedReceipt_lineage() public {
        setUpLineage();
        ClaimManager.ClaimInput memory c = lineageInput(0);
        c.receipt = claimInput(0).receipt;
        bytes[] memory sigs = signAttestation(c, three());
        vm.prank(claimant);
        vm.expectRevert(ClaimManager.ClaimManager__UnexpectedReceipt.selector);
        claims.openClaim{value: 2 ether}(c, sigs);
    }

    function test_openClaim_revert_emptyEvidence() public {
        ClaimManager.ClaimInput memory c = alignmentInput(bytes32(0));
        bytes[] memory sigs = signAttestation(c, three());
        vm.prank(claimant);
        vm.expectRevert(ClaimManager.ClaimManager__EmptyEvidence.selector);
        claims.openClaim{value: BOND}(c, sigs);
    }

    function test_openClaim_revert_leafUnderClaim() public {
        (uint256 id,) = openDefault(0);
        // The same leaf, as another kind, with fresh attestations.
        ClaimManager.ClaimInput memory c = leakInput(0);
        bytes[] memory sigs = signAttestation(c, three());
        vm.prank(claimant);
        vm.expectRevert(abi.encodeWithSelector(ClaimManager.ClaimManager__AnswerUnderClaim.selector, claims.claimKey(false, licenseId, 0, queryHashes[0]), id));
        claims.openClaim{value: BOND}(c, sigs);
    }

    function test_openClaim_revert_leafAlreadyUsed() public {
        (uint256 id, ClaimManager.ClaimRecord memory r) = openDefault(0);
        vm.warp(r.deadline);
        claims.execute(id, r);
        ClaimManager.ClaimInput memory c = claimInput(0);
        c.evidenceHash = keccak256("later transcript");
        bytes[] memory sigs = signAttestation(c, three());
        vm.prank(claimant);
        vm.expectRevert(abi.encodeWithSelector(ClaimManager.ClaimManager__AnswerAlreadyClaimed.selector, claims.claimKey(false, licenseId, 0, queryHashes[0]), id));
        claims.openClaim{value: BOND}(c, sigs);
    }

    function test_openClaim_revert_alignmentEvidenceAlreadyUsed() public {
        bytes32 e = keccak256("e");
        (uint256 id, ClaimManager.ClaimRecord memory r) = openAs(claimant, alignmentInput(e), three());
        vm.warp(r.deadline);
        claims.execute(id, r);
        // The evidence hash keys the claim against this license: spent, whatever else changes.
        ClaimManager.ClaimInput memory c = alignmentInput(e);
        c.servedAt += 1;
        bytes[] memory sigs = signAttestation(c, three());
        vm.prank(claimant);
        vm.expectRevert(
            abi.encodeWithSelector(
                ClaimManager.ClaimManager__AnswerAlreadyClaimed.selector, claims.claimKey(false, licenseId, 0, e), id
            )
        );
        claims.openClaim{value: BOND}(c, sigs);
    }

    function test_openClaim_revert_attestersUnsorted() public {
        ClaimManager.ClaimInput memory c = claimInput(0);
        bytes[] memory sorted_ = attest(c, leaves[0], 3);
        bytes[] memory sigs = new bytes[](3);
        (sigs[0], sigs[1], sigs[2]) = (sorted_[2], sorted_[1], sorted_[0]);
        vm.prank(claimant);
        vm.expectRevert(ClaimManager.ClaimManager__AttestersNotSorted.selector);
        claims.openClaim{value: BOND}(c, sigs);
    }

    function test_openClaim_revert_attestersDuplicated() public {
        ClaimManager.ClaimInput memory c = claimInput(0);
        bytes[] memory sorted_ = attest(c, leaves[0], 3);
        bytes[] memory sigs = new bytes[](3);
        (sigs[0], sigs[1], sigs[2]) = (sorted_[0], sorted_[0], sorted_[1]);
        vm.prank(claimant);
        vm.expectRevert(ClaimManager.ClaimManager__AttestersNotSorted.selector);
        claims.openClaim{value: BOND}(c, sigs);
        // A duplicate made distinct by malleability is refused as a bad signature instead.
        (sigs[0], sigs[1], sigs[2]) = (sorted_[0], malleate(sorted_[0]), sorted_[1]);
        vm.prank(claimant);
        vm.expectRevert(TypedData.TypedData__BadSignature.selector);
        claims.openClaim{value: BOND}(c, sigs);
    }

    function test_openClaim_revert_attesterNotActive_outsider() public {
        uint256[] memory pks = new uint256[](4);
        uint256[] memory v = three();
        (pks[0], pks[1], pks[2], pks[3]) = (v[0], v[1], v[2], OUTSIDER_PK);
        pks = sortByAddress(pks);
        ClaimManager.ClaimInput memory c = claimInput(0);
        bytes[] memory sigs = signAttestation(c, pks);
        vm.prank(claimant);
        vm.expectRevert(ClaimManager.ClaimManager__AttesterNotActive.selector);
        claims.openClaim{value: BOND}(c, sigs);
    }

    function test_openClaim_revert_attesterNotActive_leftVerifier() public {
        uint256[] memory v = three();
        vm.prank(vm.addr(v[1]));
        verifiers.requestLeave();
        ClaimManager.ClaimInput memory c = claimInput(0);
        bytes[] memory sigs = signAttestation(c, v);
        vm.prank(claimant);
        vm.expectRevert(ClaimManager.ClaimManager__AttesterNotActive.selector);
        claims.openClaim{value: BOND}(c, sigs);
    }

    function test_openClaim_revert_attestationForAnotherClaim() public {
        // Only one active verifier, so its stake alone is a quorum and the signer check decides.
        uint256[] memory s = sortedVerifierPks();
        for (uint256 i = 1; i < 4; ++i) {
            vm.prank(vm.addr(s[i]));
            verifiers.requestLeave();
        }
        vm.assertEq(verifiers.activeStake(), VERIFIER_MIN_STAKE);
        vm.assertLe(verifiers.quorumStake(), VERIFIER_MIN_STAKE);
        ClaimManager.ClaimInput memory c = claimInput(0);
        ClaimManager.ClaimInput memory other = leakInput(0); // another kind: another digest
        bytes[] memory sigs = signAttestation(other, firstVerifiers(1));
        vm.prank(claimant);
        vm.expectRevert(ClaimManager.ClaimManager__AttesterNotActive.selector);
        claims.openClaim{value: BOND}(c, sigs);
        // The right one opens.
        sigs = signAttestation(c, firstVerifiers(1));
        vm.prank(claimant);
        claims.openClaim{value: BOND}(c, sigs);
    }

    function test_openClaim_revert_quorumNotReached() public {
        ClaimManager.ClaimInput memory c = claimInput(0);
        bytes[] memory sigs = attest(c, leaves[0], 2);
        vm.prank(claimant);
        // Stake-weighted: 2 of 4 ETH is below two thirds.
        vm.expectRevert(abi.encodeWithSelector(ClaimManager.ClaimManager__QuorumNotReached.selector, 2 ether, 4 ether));
        claims.openClaim{value: BOND}(c, sigs);
    }

    function test_openClaim_revert_quorumNotReached_noSignatures() public {
        ClaimManager.ClaimInput memory c = claimInput(0);
        vm.prank(claimant);
        vm.expectRevert(abi.encodeWithSelector(ClaimManager.ClaimManager__QuorumNotReached.selector, 0, 4 ether));
        claims.openClaim{value: BOND}(c, new bytes[](0));
    }

    function test_openClaim_revert_quorumNotReached_noActiveVerifier() public {
        for (uint256 i; i < 4; ++i) {
            vm.prank(vm.addr(verifierPks[i]));
            verifiers.requestLeave();
        }
        ClaimManager.ClaimInput memory c = claimInput(0);
        vm.prank(claimant);
        // No active stake at all: nothing can be a quorum (0 × 3 >= 0 × 2 must not pass).
        vm.expectRevert(abi.encodeWithSelector(ClaimManager.ClaimManager__QuorumNotReached.selector, 0, 0));
        claims.openClaim{value: BOND}(c, new bytes[](0));
    }

    function test_openClaim_revert_badAttestationSignature() public {
        ClaimManager.ClaimInput memory c = claimInput(0);
        bytes[] memory sigs = attest(c, leaves[0], 3);
        bytes memory good = sigs[1];
        // 64 bytes
        bytes memory short_ = new bytes(64);
        for (uint256 i; i < 64; ++i) {
            short_[i] = good[i];
        }
        sigs[1] = short_;
        vm.prank(claimant);
        vm.expectRevert(TypedData.TypedData__BadSignature.selector);
        claims.openClaim{value: BOND}(c, sigs);
        // high s
        sigs[1] = malleate(good);
        vm.prank(claimant);
        vm.expectRevert(TypedData.TypedData__BadSignature.selector);
        claims.openClaim{value: BOND}(c, sigs);
        // v not in {27, 28}
        sigs[1] = withV(good, 1);
        vm.prank(claimant);
        vm.expectRevert(TypedData.TypedData__BadSignature.selector);
        claims.openClaim{value: BOND}(c, sigs);
        // r = 0: ecrecover yields address(0)
        bytes memory zeroR = bytes.concat(good);
        for (uint256 i; i < 32; ++i) {
            zeroR[i] = 0;
        }
        sigs[1] = zeroR;
        vm.prank(claimant);
        vm.expectRevert(TypedData.TypedData__BadSignature.selector);
        claims.openClaim{value: BOND}(c, sigs);
    }

    function test_openClaim_revert_attestationReplayedAfterRefute() public {
        // Verifiers with enough stake to stay active after one penalty (added stake counts
        // once its activation delay has passed).
        for (uint256 i; i < 4; ++i) {
            vm.prank(vm.addr(verifierPks[i]));
            verifiers.addStake{value: 9 ether}();
        }
        vm.warp(block.timestamp + VERIFIER_ACTIVATION);
        for (uint256 i; i < 4; ++i) {
            verifiers.activate(vm.addr(verifierPks[i]));
        }
        ClaimManager.ClaimInput memory c = claimInput(0);
        uint256[] memory pks = sortByAddress(three());
        bytes[] memory sigs = signAttestation(c, pks);
        vm.prank(claimant);
        uint256 id = claims.openClaim{value: BOND}(c, sigs);
        ClaimManager.ClaimRecord memory r = recordFor(c, claimant, addressesOf(pks));
        refuteAsHost(id, r);
        claims.penalizeAttesters(id, r, addressesOf(pks));
        vm.assertTrue(verifiers.isActive(vm.addr(pks[0])), "still active");
        // Replaying the public signatures to have the attesters penalized again fails: the refuted
        // claim keeps its leaf (the key is revealed, so spent).
        vm.prank(claimant);
        vm.expectRevert(abi.encodeWithSelector(ClaimManager.ClaimManager__AnswerAlreadyClaimed.selector, claims.claimKey(false, licenseId, 0, queryHashes[0]), id));
        claims.openClaim{value: BOND}(c, sigs);
        vm.assertEq(claimOfInput(claimInput(0)), id);
    }

    function test_openClaim_revert_frontRunCopyFromAnotherSender() public {
        ClaimManager.ClaimInput memory c = claimInput(1);
        bytes[] memory sigs = attest(c, leaves[1], 3);
        // The attestations name `claimant`; under another sender they recover other addresses,
        // which are not active verifiers (or not in order), so a copied transaction reverts.
        address copier = address(0xC0FFEE);
        vm.deal(copier, 10 ether);
        vm.prank(copier);
        vm.expectRevert();
        claims.openClaim{value: BOND}(c, sigs);
        vm.prank(claimant);
        uint256 id = claims.openClaim{value: BOND}(c, sigs);
        vm.assertEq(claimOfInput(claimInput(1)), id);
    }

    function test_openClaim_revert_licenseNotSlashable() public {
        vm.prank(host);
        licenses.requestExit(licenseId);
        closeUsage(licenseId);
        vm.warp(block.timestamp + terms.unbondingPeriod);
        vm.prank(host);
        licenses.withdraw(licenseId);
        ClaimManager.ClaimInput memory c = claimInput(0);
        bytes[] memory sigs = attest(c, leaves[0], 3);
        vm.prank(claimant);
        vm.expectRevert(abi.encodeWithSelector(LicenseManager.LicenseManager__NotSlashable.selector, licenseId));
        claims.openClaim{value: BOND}(c, sigs);
    }

    function test_openClaim_revert_lineage_familyIsAncestor() public {
        setUpLineage();
        ClaimManager.ClaimInput memory c = lineageInput(0);
        c.familyId = modelId; // the declared parent
        bytes[] memory sigs = signAttestation(c, three());
        vm.prank(claimant);
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.ModelRegistry__SameFamily.selector, derivedId, modelId));
        claims.openClaim{value: BOND}(c, sigs);
        c.familyId = derivedId; // itself
        vm.prank(claimant);
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.ModelRegistry__SameFamily.selector, derivedId, derivedId));
        claims.openClaim{value: BOND}(c, sigs);
    }

    function test_openClaim_revert_lineage_subjectNotStaked() public {
        setUpLineage();
        ClaimManager.ClaimInput memory c = lineageInput(0);
        c.subjectId = modelId; // a base model stakes nothing
        bytes[] memory sigs = signAttestation(c, three());
        vm.prank(claimant);
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.ModelRegistry__NothingStaked.selector, modelId));
        claims.openClaim{value: 2 ether}(c, sigs);
    }

    function test_openClaim_revert_lineage_familyWithoutRoot() public {
        setUpLineage();
        address[] memory o = new address[](1);
        o[0] = ownerC;
        uint256[] memory s = new uint256[](1);
        s[0] = 1;
        vm.prank(familyAdmin);
        uint256 rootless = registry.registerModel(o, s, signer, familyTerms, bytes32(0), keccak256("x"));
        ClaimManager.ClaimInput memory c = lineageInput(0);
        c.familyId = rootless;
        bytes[] memory sigs = signAttestation(c, three());
        vm.prank(claimant);
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.ModelRegistry__NotInFamily.selector, derivedId, rootless));
        claims.openClaim{value: 2 ether}(c, sigs);
    }

    // ================================================================ refute

    function test_refute_paysBondToAccusedAndKeepsLeafSpent() public {
        // Served two hours into the license, with a σ the host obtained an hour before answering.
        uint64 servedAt = licenseStart(licenseId) + 2 hours;
        (uint256 id, ClaimManager.ClaimRecord memory r) = openAs(claimant, servedAtInput(0, servedAt), three());
        uint256 hostBefore = host.balance;
        uint256 claimantBefore = claimant.balance;
        uint64 issuedAt = servedAt - 1 hours;
        bytes memory sigma = permissionSig(SIGNER_PK, licenseId, r.queryHash, 42, issuedAt);
        vmc.expectEmit(address(claims));
        emit ClaimManager.ClaimRefuted(id, signer, 42, issuedAt);
        vm.prank(host);
        claims.refute(id, r, 42, issuedAt, sigma);
        assertStatus(id, ClaimManager.ClaimStatus.Refuted);
        vm.assertEq(host.balance, hostBefore + BOND, "bond to the accused");
        vm.assertEq(claimant.balance, claimantBefore, "claimant loses the bond");
        vm.assertEq(address(claims).balance, 0);
        vm.assertEq(claimOfInput(claimInput(0)), id, "revealed leaf stays spent");
        vm.assertEq(claims.openClaims(false, licenseId), 0);
        vm.assertEq(claims.pendingSlash(false, licenseId), 0, "the reservation is released");
        vm.assertEq(licenseStake(licenseId), STAKE, "stake untouched");
        vm.assertTrue(claims.matchesRecord(id, r), "record still matches");
    }

    function test_refute_byAnyoneHoldingSigma_lastSecond() public {
        (uint256 id, ClaimManager.ClaimRecord memory r) = openAs(claimant, leakInput(2), three());
        vm.warp(r.deadline - 1);
        bytes memory sigma = sigmaFor(r, 1);
        uint256 hostBefore = host.balance;
        vm.prank(address(0xD00D));
        claims.refute(id, r, 1, r.servedAt, sigma);
        vm.assertEq(host.balance, hostBefore + BOND);
        assertStatus(id, ClaimManager.ClaimStatus.Refuted);
    }

    function test_refute_withPreviousSignerAfterRotation() public {
        uint256 newPk = 0x5252;
        uint64 before = uint64(block.timestamp);
        vm.prank(admin);
        registry.proposeSigner(modelId, vm.addr(newPk));
        uint64 switchAt = uint64(block.timestamp + registry.SIGNER_ROTATION_DELAY());
        // Both answers served an hour after the switch.
        uint64 servedAt = switchAt + 1 hours;
        (uint256 id, ClaimManager.ClaimRecord memory r) = openAs(claimant, servedAtInput(0, servedAt), three());
        // Old signer, issued after the switch (yet before the answer): refused.
        bytes memory late = permissionSig(SIGNER_PK, licenseId, r.queryHash, 1, servedAt);
        vm.expectRevert(abi.encodeWithSelector(ClaimManager.ClaimManager__NotPermissionSigner.selector, signer));
        claims.refute(id, r, 1, servedAt, late);
        // Old signer, issued before the switch: accepted.
        bytes memory early = permissionSig(SIGNER_PK, licenseId, r.queryHash, 1, before);
        claims.refute(id, r, 1, before, early);
        assertStatus(id, ClaimManager.ClaimStatus.Refuted);
        // New signer: accepted.
        (uint256 id2, ClaimManager.ClaimRecord memory r2) = openAs(claimant, servedAtInput(1, servedAt), three());
        bytes memory fresh = permissionSig(newPk, licenseId, r2.queryHash, 2, servedAt);
        claims.refute(id2, r2, 2, servedAt, fresh);
        assertStatus(id2, ClaimManager.ClaimStatus.Refuted);
    }

    function test_refute_revert_sigmaByNonSigner() public {
        (uint256 id, ClaimManager.ClaimRecord memory r) = openDefault(0);
        bytes memory sigma = permissionSig(HOST_PK, licenseId, r.queryHash, 1, r.servedAt);
        vm.prank(host);
        vm.expectRevert(abi.encodeWithSelector(ClaimManager.ClaimManager__NotPermissionSigner.selector, host));
        claims.refute(id, r, 1, r.servedAt, sigma);
    }

    function test_refute_revert_sigmaForAnotherQuery() public {
        (uint256 id, ClaimManager.ClaimRecord memory r) = openDefault(0);
        uint64 t = r.servedAt;
        bytes memory sigma = permissionSig(SIGNER_PK, licenseId, queryHashes[1], 1, t);
        // Checked against the claim's query, the signature recovers some unrelated address.
        address recovered = recoverOf(claims.permissionDigest(licenseId, r.queryHash, 1, t), sigma);
        vm.assertTrue(recovered != signer);
        vm.prank(host);
        vm.expectRevert(abi.encodeWithSelector(ClaimManager.ClaimManager__NotPermissionSigner.selector, recovered));
        claims.refute(id, r, 1, t, sigma);
    }

    function test_refute_revert_sigmaForAnotherLicenseOrSequence() public {
        (uint256 id, ClaimManager.ClaimRecord memory r) = openDefault(0);
        uint64 t = r.servedAt;
        uint256 other = acquire(host, STAKE);
        bytes memory sigma = permissionSig(SIGNER_PK, other, r.queryHash, 1, t);
        address recovered = recoverOf(claims.permissionDigest(licenseId, r.queryHash, 1, t), sigma);
        vm.expectRevert(abi.encodeWithSelector(ClaimManager.ClaimManager__NotPermissionSigner.selector, recovered));
        claims.refute(id, r, 1, t, sigma);
        // A σ presented with another sequence number than it was signed for.
        sigma = permissionSig(SIGNER_PK, licenseId, r.queryHash, 1, t);
        recovered = recoverOf(claims.permissionDigest(licenseId, r.queryHash, 2, t), sigma);
        vm.expectRevert(abi.encodeWithSelector(ClaimManager.ClaimManager__NotPermissionSigner.selector, recovered));
        claims.refute(id, r, 2, t, sigma);
    }

    function test_refute_revert_sigmaOfAnotherModelsSigner() public {
        // A model with its own permission signer: its σ does not refute claims under this model.
        uint256 otherPk = 0x6161;
        address[] memory o = new address[](1);
        o[0] = ownerA;
        uint256[] memory s = new uint256[](1);
        s[0] = 1;
        vm.prank(admin);
        registry.registerModel(o, s, vm.addr(otherPk), terms, bytes32(0), keccak256("m2"));
        (uint256 id, ClaimManager.ClaimRecord memory r) = openDefault(0);
        bytes memory sigma = permissionSig(otherPk, licenseId, r.queryHash, 1, r.servedAt);
        vm.expectRevert(
            abi.encodeWithSelector(ClaimManager.ClaimManager__NotPermissionSigner.selector, vm.addr(otherPk))
        );
        claims.refute(id, r, 1, r.servedAt, sigma);
    }

    function test_refute_revert_badSigmaSignature() public {
        (uint256 id, ClaimManager.ClaimRecord memory r) = openDefault(0);
        bytes memory sigma = sigmaFor(r, 1);
        vm.expectRevert(TypedData.TypedData__BadSignature.selector);
        claims.refute(id, r, 1, r.servedAt, malleate(sigma));
        vm.expectRevert(TypedData.TypedData__BadSignature.selector);
        claims.refute(id, r, 1, r.servedAt, bytes.concat(sigma, hex"00"));
        vm.expectRevert(TypedData.TypedData__BadSignature.selector);
        claims.refute(id, r, 1, r.servedAt, withV(sigma, 0));
    }

    function test_refute_revert_afterWindow() public {
        (uint256 id, ClaimManager.ClaimRecord memory r) = openDefault(0);
        vm.warp(r.deadline);
        bytes memory sigma = sigmaFor(r, 1);
        vm.prank(host);
        vm.expectRevert(abi.encodeWithSelector(ClaimManager.ClaimManager__ChallengeWindowOver.selector, id, r.deadline));
        claims.refute(id, r, 1, r.servedAt, sigma);
    }

    function test_refute_revert_notRefutable_lineage() public {
        setUpLineage();
        (uint256 id, ClaimManager.ClaimRecord memory r) = openAs(claimant, lineageInput(0), three());
        bytes memory sigma = permissionSig(SIGNER_PK, r.subjectId, r.queryHash, 1, r.servedAt);
        vm.expectRevert(abi.encodeWithSelector(ClaimManager.ClaimManager__NotRefutable.selector, id, ClaimKind.LINEAGE));
        claims.refute(id, r, 1, r.servedAt, sigma);
    }

    function test_refute_revert_notRefutable_alignmentBreach() public {
        (uint256 id, ClaimManager.ClaimRecord memory r) = openAs(claimant, alignmentInput(keccak256("e")), three());
        bytes memory sigma = sigmaFor(r, 1);
        vm.expectRevert(
            abi.encodeWithSelector(ClaimManager.ClaimManager__NotRefutable.selector, id, ClaimKind.ALIGNMENT_BREACH)
        );
        claims.refute(id, r, 1, r.servedAt, sigma);
    }

    function test_refute_revert_recordMismatch_tampered() public {
        (uint256 id, ClaimManager.ClaimRecord memory r) = openDefault(0);
        bytes memory sigma = sigmaFor(r, 1);
        ClaimManager.ClaimRecord memory t = copyRecord(r);
        t.accused = address(0xBEEF); // send the bond elsewhere
        vm.expectRevert(abi.encodeWithSelector(ClaimManager.ClaimManager__RecordMismatch.selector, id));
        claims.refute(id, t, 1, r.servedAt, sigma);
        t = copyRecord(r);
        t.deadline = r.deadline + 1 days; // stretch the window
        vm.expectRevert(abi.encodeWithSelector(ClaimManager.ClaimManager__RecordMismatch.selector, id));
        claims.refute(id, t, 1, r.servedAt, sigma);
        t = copyRecord(r);
        t.servedAt = r.servedAt + 1 days; // let a later σ count
        bytes memory lateSigma = permissionSig(SIGNER_PK, licenseId, r.queryHash, 1, t.servedAt);
        vm.expectRevert(abi.encodeWithSelector(ClaimManager.ClaimManager__RecordMismatch.selector, id));
        claims.refute(id, t, 1, t.servedAt, lateSigma);
    }

    function test_refute_revert_recordMismatch_unknownClaim() public {
        (, ClaimManager.ClaimRecord memory r) = openDefault(0);
        bytes memory sigma = sigmaFor(r, 1);
        vm.expectRevert(abi.encodeWithSelector(ClaimManager.ClaimManager__RecordMismatch.selector, 2));
        claims.refute(2, r, 1, r.servedAt, sigma);
        vm.expectRevert(abi.encodeWithSelector(ClaimManager.ClaimManager__RecordMismatch.selector, 0));
        claims.refute(0, r, 1, r.servedAt, sigma);
    }

    function test_refute_revert_wrongStatus() public {
        (uint256 id, ClaimManager.ClaimRecord memory r) = openDefault(0);
        refuteAsHost(id, r);
        bytes memory sigma = sigmaFor(r, 1);
        vm.expectRevert(
            abi.encodeWithSelector(
                ClaimManager.ClaimManager__WrongStatus.selector, id, ClaimManager.ClaimStatus.Refuted
            )
        );
        claims.refute(id, r, 1, r.servedAt, sigma);
        claims.penalizeAttesters(id, r, sortedAttesters(3));
        vm.expectRevert(
            abi.encodeWithSelector(
                ClaimManager.ClaimManager__WrongStatus.selector, id, ClaimManager.ClaimStatus.AttestersPenalized
            )
        );
        claims.refute(id, r, 1, r.servedAt, sigma);
    }

    function test_refute_revert_wrongStatus_executed() public {
        (uint256 id, ClaimManager.ClaimRecord memory r) = openDefault(0);
        bytes memory sigma = sigmaFor(r, 1);
        uint64 t = r.servedAt;
        vm.warp(r.deadline);
        claims.execute(id, r);
        vm.expectRevert(
            abi.encodeWithSelector(
                ClaimManager.ClaimManager__WrongStatus.selector, id, ClaimManager.ClaimStatus.Executed
            )
        );
        claims.refute(id, r, 1, t, sigma);
    }

    // ===================================================== penalizeAttesters

    function test_penalizeAttesters_movesPenaltiesToAccused() public {
        (uint256 id, ClaimManager.ClaimRecord memory r) = openDefault(0);
        refuteAsHost(id, r);
        address[] memory att = sortedAttesters(3);
        address bystander = sortedAttesters(4)[3];
        uint256 hostBefore = host.balance;
        uint256 totalBefore = verifiers.totalStaked();
        uint256 penalty = VERIFIER_MIN_STAKE * VERIFIER_PENALTY_BPS / 10_000;
        for (uint256 i; i < 3; ++i) {
            vmc.expectEmit(address(verifiers));
            emit VerifierRegistry.VerifierPenalized(att[i], penalty, VERIFIER_MIN_STAKE - penalty, true);
        }
        vmc.expectEmit(address(claims));
        emit ClaimManager.AttestersPenalized(id, 3 * penalty);
        vm.prank(address(0xD00D)); // anyone may call
        claims.penalizeAttesters(id, r, att);
        assertStatus(id, ClaimManager.ClaimStatus.AttestersPenalized);
        vm.assertEq(host.balance, hostBefore + 3 * penalty, "penalties to the accused");
        for (uint256 i; i < 3; ++i) {
            vm.assertEq(verifierStake(att[i]), VERIFIER_MIN_STAKE - penalty);
            vm.assertFalse(verifiers.isActive(att[i]), "below minimum: deactivated");
        }
        vm.assertEq(verifierStake(bystander), VERIFIER_MIN_STAKE, "non-attester untouched");
        vm.assertEq(verifiers.totalStaked(), totalBefore - 3 * penalty);
        vm.assertEq(address(claims).balance, 0);
        vm.assertEq(address(verifiers).balance, verifiers.totalStaked());
    }

    function test_penalizeAttesters_attesterAlreadyGone() public {
        // An attester that left and withdrew before the penalty loses nothing more; the others pay.
        (uint256 id, ClaimManager.ClaimRecord memory r) = openDefault(0);
        refuteAsHost(id, r);
        address[] memory att = sortedAttesters(3);
        vm.prank(att[0]);
        verifiers.requestLeave();
        vm.warp(block.timestamp + VERIFIER_UNBONDING);
        vm.prank(att[0]);
        verifiers.withdraw();
        uint256 hostBefore = host.balance;
        claims.penalizeAttesters(id, r, att);
        vm.assertEq(host.balance, hostBefore + 2 * 0.2 ether);
    }

    function test_penalizeAttesters_revert_attestersMismatch() public {
        (uint256 id, ClaimManager.ClaimRecord memory r) = openDefault(0);
        refuteAsHost(id, r);
        address[] memory att = sortedAttesters(3);
        address[] memory two = new address[](2);
        (two[0], two[1]) = (att[0], att[1]);
        vm.expectRevert(abi.encodeWithSelector(ClaimManager.ClaimManager__AttestersMismatch.selector, id));
        claims.penalizeAttesters(id, r, two);
        address[] memory swapped = new address[](3);
        (swapped[0], swapped[1], swapped[2]) = (att[1], att[0], att[2]);
        vm.expectRevert(abi.encodeWithSelector(ClaimManager.ClaimManager__AttestersMismatch.selector, id));
        claims.penalizeAttesters(id, r, swapped);
        vm.expectRevert(abi.encodeWithSelector(ClaimManager.ClaimManager__AttestersMismatch.selector, id));
        claims.penalizeAttesters(id, r, sortedAttesters(4));
        vm.expectRevert(abi.encodeWithSelector(ClaimManager.ClaimManager__AttestersMismatch.selector, id));
        claims.penalizeAttesters(id, r, new address[](0));
    }

    function test_penalizeAttesters_revert_wrongStatus() public {
        (uint256 id, ClaimManager.ClaimRecord memory r) = openDefault(0);
        address[] memory att = sortedAttesters(3);
        vm.expectRevert(
            abi.encodeWithSelector(ClaimManager.ClaimManager__WrongStatus.selector, id, ClaimManager.ClaimStatus.Open)
        );
        claims.penalizeAttesters(id, r, att);
        refuteAsHost(id, r);
        claims.penalizeAttesters(id, r, att);
        vm.expectRevert(
            abi.encodeWithSelector(
                ClaimManager.ClaimManager__WrongStatus.selector, id, ClaimManager.ClaimStatus.AttestersPenalized
            )
        );
        claims.penalizeAttesters(id, r, att);
    }

    function test_penalizeAttesters_revert_wrongStatus_executed() public {
        (uint256 id, ClaimManager.ClaimRecord memory r) = openDefault(0);
        vm.warp(r.deadline);
        claims.execute(id, r);
        vm.expectRevert(
            abi.encodeWithSelector(
                ClaimManager.ClaimManager__WrongStatus.selector, id, ClaimManager.ClaimStatus.Executed
            )
        );
        claims.penalizeAttesters(id, r, sortedAttesters(3));
    }

    function test_penalizeAttesters_revert_recordMismatch() public {
        (uint256 id, ClaimManager.ClaimRecord memory r) = openDefault(0);
        refuteAsHost(id, r);
        ClaimManager.ClaimRecord memory t = copyRecord(r);
        t.accused = claimant;
        vm.expectRevert(abi.encodeWithSelector(ClaimManager.ClaimManager__RecordMismatch.selector, id));
        claims.penalizeAttesters(id, t, sortedAttesters(3));
        vm.expectRevert(abi.encodeWithSelector(ClaimManager.ClaimManager__RecordMismatch.selector, id + 1));
        claims.penalizeAttesters(id + 1, r, sortedAttesters(3));
    }

    // =============================================================== execute

    function test_execute_unpermittedUse_split() public {
        (uint256 id, ClaimManager.ClaimRecord memory r) = openDefault(0);
        vm.warp(r.deadline);
        uint256 claimantBefore = claimant.balance;
        uint256 accruedBefore = usage.accruedRevenue(modelId);
        uint256 usageBalBefore = address(usage).balance;
        uint256 toOwners = SLASH - REWARD;

        vmc.expectEmit(address(licenses));
        emit LicenseManager.StakeSlashed(licenseId, SLASH, STAKE - SLASH);
        vmc.expectEmit(address(claims));
        emit ClaimManager.ClaimExecuted(id, SLASH, BOND + REWARD, toOwners);
        vmc.expectEmit(address(usage));
        emit UsageSettlement.RevenueDeposited(modelId, address(claims), toOwners);
        vm.prank(address(0xD00D)); // anyone may execute
        claims.execute(id, r);

        assertStatus(id, ClaimManager.ClaimStatus.Executed);
        vm.assertEq(claimant.balance, claimantBefore + BOND + REWARD, "claimant: bond + reward");
        vm.assertEq(usage.accruedRevenue(modelId), accruedBefore + toOwners, "owners: the rest");
        vm.assertEq(address(usage).balance, usageBalBefore + toOwners);
        vm.assertEq(licenseStake(licenseId), STAKE - SLASH, "stake slashed");
        vm.assertEq(address(licenses).balance, STAKE - SLASH);
        vm.assertEq(address(claims).balance, 0);
        vm.assertEq(claimOfInput(claimInput(0)), id, "leaf spent");
        vm.assertEq(claims.openClaims(false, licenseId), 0);
        vm.assertEq(claims.pendingSlash(false, licenseId), 0, "the reservation is taken");
        // The owners can take their shares (3 : 1).
        vm.assertEq(usage.withdrawable(modelId, ownerA), toOwners * 3 / 4);
        vm.assertEq(usage.withdrawable(modelId, ownerB), toOwners / 4);
    }

    function test_execute_leak() public {
        (uint256 id, ClaimManager.ClaimRecord memory r) = openAs(claimant, leakInput(3), three());
        vm.warp(r.deadline + 5 days);
        uint256 before = claimant.balance;
        claims.execute(id, r);
        vm.assertEq(claimant.balance, before + BOND + REWARD);
        vm.assertEq(licenseStake(licenseId), STAKE - SLASH);
    }

    function test_execute_alignmentBreach() public {
        (uint256 id, ClaimManager.ClaimRecord memory r) = openAs(claimant, alignmentInput(keccak256("e")), three());
        vm.warp(r.deadline);
        uint256 before = claimant.balance;
        claims.execute(id, r);
        vm.assertEq(claimant.balance, before + BOND + REWARD);
        vm.assertEq(usage.accruedRevenue(modelId), SLASH - REWARD);
        vm.assertEq(licenseStake(licenseId), STAKE - SLASH);
    }

    function test_execute_lineage_slashesRegistration() public {
        setUpLineage();
        (uint256 id, ClaimManager.ClaimRecord memory r) = openAs(claimant, lineageInput(1), three());
        vm.warp(r.deadline);
        uint256 before = claimant.balance;
        uint256 regBefore = address(registry).balance;
        vmc.expectEmit(address(registry));
        emit ModelRegistry.RegistrationSlashed(derivedId, 3 ether);
        vmc.expectEmit(address(claims));
        emit ClaimManager.ClaimExecuted(id, 3 ether, 2 ether + 0.9 ether, 2.1 ether);
        vmc.expectEmit(address(usage));
        emit UsageSettlement.RevenueDeposited(familyId, address(claims), 2.1 ether);
        claims.execute(id, r);
        vm.assertEq(claimant.balance, before + 2.9 ether);
        vm.assertEq(usage.accruedRevenue(familyId), 2.1 ether, "the family's owners get the rest");
        vm.assertEq(usage.accruedRevenue(modelId), 0);
        vm.assertEq(usage.withdrawable(familyId, ownerC), 2.1 ether);
        (,, uint96 regStake,,) = registry.modelInfo(derivedId);
        vm.assertEq(regStake, 2 ether);
        vm.assertEq(registry.totalRegistrationStake(), 2 ether);
        vm.assertEq(address(registry).balance, regBefore - 3 ether);
        vm.assertEq(claims.openClaims(true, derivedId), 0);
        vm.assertEq(claims.pendingSlash(true, derivedId), 0);
        vm.assertEq(address(claims).balance, 0);
    }

    function test_execute_lineage_blocksRetirementWhileOpen() public {
        setUpLineage();
        vm.prank(derivedAdmin);
        registry.requestRetirement(derivedId);
        uint256 unbondAt = block.timestamp + terms.unbondingPeriod;
        (uint256 id, ClaimManager.ClaimRecord memory r) = openAs(claimant, lineageInput(0), three());
        vm.warp(unbondAt);
        vm.prank(derivedAdmin);
        vm.expectRevert(
            abi.encodeWithSelector(ModelRegistry.ModelRegistry__StillUnbonding.selector, derivedId, unbondAt)
        );
        registry.withdrawRegistration(derivedId);
        claims.execute(id, r);
        uint256 before = derivedAdmin.balance;
        vm.prank(derivedAdmin);
        registry.withdrawRegistration(derivedId);
        vm.assertEq(derivedAdmin.balance, before + 2 ether);
    }

    function test_execute_secondClaimReservesOnlyWhatIsLeft() public {
        // slashBps 80 %, reward 50 %: the first claim reserves 8 of 10; the second may only
        // reserve the 2 left (not another 8 of the same stake), with its reward computed on 2.
        Terms memory t = terms;
        t.slashBps = 8_000;
        t.claimantRewardBps = 5_000;
        vm.prank(admin);
        registry.updateTerms(modelId, t);
        (uint256 lic, ClaimManager.ClaimInput[] memory inputs) = licenseWithFingerprints(host, STAKE, 2, "cap");
        (uint256 id1, ClaimManager.ClaimRecord memory r1) = openAs(claimant, inputs[0], three());
        (uint256 id2, ClaimManager.ClaimRecord memory r2) = openAs(claimant, inputs[1], three());
        vm.assertEq(r1.slashAmount, 8 ether);
        vm.assertEq(r2.slashAmount, 2 ether, "capped by the first claim's reservation");
        vm.assertEq(r2.reward, 1 ether, "reward on what the claim can take");
        vm.assertEq(claims.pendingSlash(false, lic), STAKE, "together exactly the stake");
        vm.warp(r2.deadline);
        claims.execute(id1, r1);
        vm.assertEq(licenseStake(lic), 2 ether);
        vm.assertEq(claims.pendingSlash(false, lic), 2 ether);
        uint256 before = claimant.balance;
        uint256 accrued = usage.accruedRevenue(modelId);
        vmc.expectEmit(address(claims));
        emit ClaimManager.ClaimExecuted(id2, 2 ether, BOND + 1 ether, 1 ether);
        claims.execute(id2, r2);
        vm.assertEq(claimant.balance, before + BOND + 1 ether);
        vm.assertEq(usage.accruedRevenue(modelId), accrued + 1 ether, "owners get the rest");
        vm.assertEq(licenseStake(lic), 0);
        vm.assertEq(claims.pendingSlash(false, lic), 0);
        vm.assertEq(address(claims).balance, 0);
    }

    function test_execute_stakeAddedAfterOpenIsNotSlashedMore() public {
        (uint256 id, ClaimManager.ClaimRecord memory r) = openDefault(0);
        vm.prank(host);
        licenses.addStake{value: 90 ether}(licenseId);
        vm.warp(r.deadline);
        claims.execute(id, r);
        vm.assertEq(licenseStake(licenseId), 100 ether - SLASH, "the snapshot, not the current stake");
    }

    function test_execute_zeroReward() public {
        Terms memory t = terms;
        t.claimantRewardBps = 0;
        vm.prank(admin);
        registry.updateTerms(modelId, t);
        (, ClaimManager.ClaimInput[] memory inputs) = licenseWithFingerprints(host, STAKE, 1, "zr");
        vm.assertEq(inputs[0].proof.length, 0, "one-leaf tree: the root is the leaf");
        (uint256 id, ClaimManager.ClaimRecord memory r) = openAs(claimant, inputs[0], three());
        vm.warp(r.deadline);
        uint256 before = claimant.balance;
        claims.execute(id, r);
        vm.assertEq(claimant.balance, before + BOND, "bond back only");
        vm.assertEq(usage.accruedRevenue(modelId), SLASH);
    }

    function test_execute_revert_beforeWindow() public {
        (uint256 id, ClaimManager.ClaimRecord memory r) = openDefault(0);
        vm.expectRevert(
            abi.encodeWithSelector(ClaimManager.ClaimManager__ChallengeWindowNotOver.selector, id, r.deadline)
        );
        claims.execute(id, r);
        vm.warp(r.deadline - 1);
        vm.expectRevert(
            abi.encodeWithSelector(ClaimManager.ClaimManager__ChallengeWindowNotOver.selector, id, r.deadline)
        );
        claims.execute(id, r);
    }

    function test_execute_revert_wrongStatus() public {
        (uint256 id, ClaimManager.ClaimRecord memory r) = openDefault(0);
        (uint256 id2, ClaimManager.ClaimRecord memory r2) = openDefault(1);
        refuteAsHost(id, r);
        vm.warp(r.deadline);
        vm.expectRevert(
            abi.encodeWithSelector(
                ClaimManager.ClaimManager__WrongStatus.selector, id, ClaimManager.ClaimStatus.Refuted
            )
        );
        claims.execute(id, r);
        claims.penalizeAttesters(id, r, sortedAttesters(3));
        vm.expectRevert(
            abi.encodeWithSelector(
                ClaimManager.ClaimManager__WrongStatus.selector, id, ClaimManager.ClaimStatus.AttestersPenalized
            )
        );
        claims.execute(id, r);
        claims.execute(id2, r2);
        vm.expectRevert(
            abi.encodeWithSelector(
                ClaimManager.ClaimManager__WrongStatus.selector, id2, ClaimManager.ClaimStatus.Executed
            )
        );
        claims.execute(id2, r2);
    }

    function test_execute_revert_recordMismatch() public {
        (uint256 id, ClaimManager.ClaimRecord memory r) = openDefault(0);
        vm.warp(r.deadline);
        ClaimManager.ClaimRecord memory t = copyRecord(r);
        t.slashAmount = STAKE; // slash everything
        vm.expectRevert(abi.encodeWithSelector(ClaimManager.ClaimManager__RecordMismatch.selector, id));
        claims.execute(id, t);
        t = copyRecord(r);
        t.claimant = address(0xBEEF); // redirect the payout
        vm.expectRevert(abi.encodeWithSelector(ClaimManager.ClaimManager__RecordMismatch.selector, id));
        claims.execute(id, t);
        t = copyRecord(r);
        t.kind = ClaimKind.LINEAGE; // slash a registration instead
        vm.expectRevert(abi.encodeWithSelector(ClaimManager.ClaimManager__RecordMismatch.selector, id));
        claims.execute(id, t);
        vm.expectRevert(abi.encodeWithSelector(ClaimManager.ClaimManager__RecordMismatch.selector, 99));
        claims.execute(99, r);
    }

    // ====================================================== PaymentSender

    function test_withdrawOwed_claimantRejectingEth() public {
        EthRefuser who = new EthRefuser();
        (uint256 id, ClaimManager.ClaimRecord memory r) = openAs(address(who), claimInput(0), three());
        vm.warp(r.deadline);
        vmc.expectEmit(address(claims));
        emit PaymentSender.PaymentDeferred(address(who), BOND + REWARD);
        claims.execute(id, r);
        vm.assertEq(claims.owedTo(address(who)), BOND + REWARD);
        vm.assertEq(claims.totalOwed(), BOND + REWARD);
        vm.assertEq(address(claims).balance, BOND + REWARD, "held for the claimant");
        vm.assertEq(usage.accruedRevenue(modelId), SLASH - REWARD, "owners paid regardless");
        // Still refusing: the pull fails and nothing changes.
        vm.prank(address(who));
        vm.expectRevert(PaymentSender.PaymentSender__TransferFailed.selector);
        claims.withdrawOwed();
        vm.assertEq(claims.owedTo(address(who)), BOND + REWARD);
        // Accepting now.
        who.setAccept(true);
        vmc.expectEmit(address(claims));
        emit PaymentSender.OwedWithdrawn(address(who), BOND + REWARD);
        vm.prank(address(who));
        claims.withdrawOwed();
        vm.assertEq(address(who).balance, BOND + REWARD);
        vm.assertEq(claims.owedTo(address(who)), 0);
        vm.assertEq(claims.totalOwed(), 0);
        vm.assertEq(address(claims).balance, 0);
        vm.prank(address(who));
        vm.expectRevert(PaymentSender.PaymentSender__NothingOwed.selector);
        claims.withdrawOwed();
    }

    function test_withdrawOwed_gasHungryClaimant() public {
        GasHungryReceiver who = new GasHungryReceiver();
        (uint256 id, ClaimManager.ClaimRecord memory r) = openAs(address(who), claimInput(0), three());
        vm.warp(r.deadline);
        claims.execute(id, r);
        vm.assertEq(claims.owedTo(address(who)), BOND + REWARD, "30 000 gas was not enough: deferred");
        vm.prank(address(who));
        claims.withdrawOwed();
        vm.assertEq(address(who).balance, BOND + REWARD);
    }

    function test_withdrawOwed_accusedRejectingEth() public {
        EthRefuser h = new EthRefuser();
        vm.deal(address(h), 100 ether);
        (uint256 lic, ClaimManager.ClaimInput[] memory inputs) = licenseWithFingerprints(address(h), STAKE, 2, "rh");
        (uint256 id, ClaimManager.ClaimRecord memory r) = openAs(claimant, inputs[0], three());
        vm.assertEq(r.accused, address(h));
        bytes memory sigma = permissionSig(SIGNER_PK, lic, r.queryHash, 1, r.servedAt);
        vmc.expectEmit(address(claims));
        emit PaymentSender.PaymentDeferred(address(h), BOND);
        claims.refute(id, r, 1, r.servedAt, sigma);
        claims.penalizeAttesters(id, r, sortedAttesters(3));
        uint256 owed = BOND + 3 * 0.2 ether;
        vm.assertEq(claims.owedTo(address(h)), owed, "bond and penalties held");
        vm.assertEq(address(claims).balance, claims.totalOwed());
        h.setAccept(true);
        uint256 before = address(h).balance;
        vm.prank(address(h));
        claims.withdrawOwed();
        vm.assertEq(address(h).balance, before + owed);
    }

    function test_withdrawOwed_revert_nothingOwed() public {
        vm.prank(claimant);
        vm.expectRevert(PaymentSender.PaymentSender__NothingOwed.selector);
        claims.withdrawOwed();
    }

    // ======================================================== receive

    function test_receive_revert_unexpectedPayment() public {
        vm.prank(claimant);
        vm.expectRevert(abi.encodeWithSelector(ClaimManager.ClaimManager__UnexpectedPayment.selector, claimant));
        (bool ok,) = address(claims).call{value: 1 ether}("");
        vm.assertTrue(ok, "expectRevert reports the expected revert as success");
        vm.deal(address(usage), address(usage).balance + 1 ether);
        vm.prank(address(usage));
        vm.expectRevert(abi.encodeWithSelector(ClaimManager.ClaimManager__UnexpectedPayment.selector, address(usage)));
        (ok,) = address(claims).call{value: 1 ether}("");
        vm.assertEq(address(claims).balance, 0);
    }

    function test_receive_fromStakeHolders() public {
        address[3] memory holders = [address(licenses), address(registry), address(verifiers)];
        for (uint256 i; i < 3; ++i) {
            vm.deal(holders[i], holders[i].balance + 1);
            vm.prank(holders[i]);
            (bool ok,) = address(claims).call{value: 1}("");
            vm.assertTrue(ok);
        }
        vm.assertEq(address(claims).balance, 3);
    }

    // ========================================================== views

    function test_views_digestsAndDomain() public {
        bytes32 domain = domainOf(address(claims));
        vm.assertEq(claims.domainSeparator(), domain);
        vm.assertEq(
            claims.PERMISSION_TYPEHASH(),
            keccak256("Permission(uint256 licenseId,bytes32 queryHash,uint64 sequence,uint64 issuedAt)")
        );
        vm.assertEq(
            claims.CLAIM_ATTESTATION_TYPEHASH(),
            keccak256(
                "ClaimAttestation(uint256 subjectId,uint256 familyId,uint8 kind,bytes32 leaf,bytes32 evidenceHash,uint64 servedAt,address claimant)"
            )
        );
        vm.assertEq(
            claims.ANSWER_RECEIPT_TYPEHASH(),
            keccak256(
                "AnswerReceipt(uint256 licenseId,bytes32 queryHash,bytes32 responseHash,uint64 servedAt,bytes32 permission)"
            )
        );
        bytes32 expectedAtt = keccak256(
            abi.encodePacked(
                hex"1901",
                domain,
                keccak256(
                    abi.encode(
                        claims.CLAIM_ATTESTATION_TYPEHASH(),
                        uint256(7),
                        uint256(3),
                        uint8(2),
                        bytes32("l"),
                        bytes32("e"),
                        uint64(5),
                        claimant
                    )
                )
            )
        );
        vm.assertEq(claims.attestationDigest(7, 3, ClaimKind.LINEAGE, "l", "e", 5, claimant), expectedAtt);
        // The serving time is attested: the same claim with another time is another digest.
        vm.assertTrue(claims.attestationDigest(7, 3, ClaimKind.LINEAGE, "l", "e", 6, claimant) != expectedAtt);
        // So is the family: attestations for one family convict nobody on behalf of another.
        vm.assertTrue(claims.attestationDigest(7, 4, ClaimKind.LINEAGE, "l", "e", 5, claimant) != expectedAtt);
        bytes32 expectedReceipt = keccak256(
            abi.encodePacked(
                hex"1901",
                domain,
                keccak256(
                    abi.encode(
                        claims.ANSWER_RECEIPT_TYPEHASH(),
                        uint256(3),
                        bytes32("q"),
                        bytes32("a"),
                        uint64(9),
                        bytes32("p")
                    )
                )
            )
        );
        vm.assertEq(claims.receiptDigest(3, "q", "a", 9, "p"), expectedReceipt);
        bytes32 expectedPerm = keccak256(
            abi.encodePacked(
                hex"1901",
                domain,
                keccak256(abi.encode(claims.PERMISSION_TYPEHASH(), uint256(3), bytes32("q"), uint64(9), uint64(11)))
            )
        );
        vm.assertEq(claims.permissionDigest(3, "q", 9, 11), expectedPerm);
        // Another chain (a fork): the separator is recomputed.
        vm.chainId(4242);
        vm.assertEq(claims.domainSeparator(), domainOf(address(claims)));
        vm.assertTrue(claims.domainSeparator() != domain);
    }

    function test_views_wiring() public view {
        (address reg, address lic, address ver, address use) = claims.wiring();
        vm.assertEq(reg, address(registry));
        vm.assertEq(lic, address(licenses));
        vm.assertEq(ver, address(verifiers));
        vm.assertEq(use, address(usage));
    }

    // -------------------------------------------------------------- constructor

    function test_constructor_fixtureContractsNameClaims() public view {
        vm.assertEq(registry.claimManager(), address(claims));
        vm.assertEq(licenses.claimManager(), address(claims));
        vm.assertEq(verifiers.claimManager(), address(claims));
        vm.assertEq(usage.claimManager(), address(claims));
    }

    /// @dev A fresh, correctly wired stack with the given ClaimManager parameters (the verifier
    /// registry as the fixture's).
    function deployWith(uint32 skew, uint8 kinds) internal returns (ClaimManager cm) {
        address predicted = vm.computeCreateAddress(address(this), vm.getNonce(address(this)) + 4);
        address usageAt = vm.computeCreateAddress(address(this), vm.getNonce(address(this)) + 3);
        ModelRegistry r = new ModelRegistry(predicted, MIN_RETIREMENT_UNBONDING);
        LicenseManager l = new LicenseManager(IModelRegistry(address(r)), predicted, usageAt);
        VerifierRegistry v = new VerifierRegistry(1 ether, 30 days, 2 days, 2_000, predicted);
        UsageSettlement u = new UsageSettlement(IModelRegistry(address(r)), ILicenseManager(address(l)), predicted);
        cm = new ClaimManager(
            IModelRegistry(address(r)),
            ILicenseManager(address(l)),
            IVerifierRegistry(address(v)),
            IUsageSettlement(address(u)),
            skew,
            kinds
        );
    }

    /// @dev No clock skew would let a claim open the second its answer is served (before a σ
    /// bought once it is seen could be told from an honest one); no kind enabled, or a bit beyond
    /// the five kinds, is a misconfiguration.
    function test_RevertWhen_constructor_invalidConfig() public {
        uint32[4] memory skews = [uint32(0), CLOCK_SKEW, CLOCK_SKEW, CLOCK_SKEW];
        uint8[4] memory kinds = [ALL_KINDS, 0, 0x20, 0xff];
        for (uint256 i; i < 4; ++i) {
            address predicted = vm.computeCreateAddress(address(this), vm.getNonce(address(this)) + 4);
            address usageAt = vm.computeCreateAddress(address(this), vm.getNonce(address(this)) + 3);
            ModelRegistry r = new ModelRegistry(predicted, MIN_RETIREMENT_UNBONDING);
            LicenseManager l = new LicenseManager(IModelRegistry(address(r)), predicted, usageAt);
            VerifierRegistry v = new VerifierRegistry(1 ether, 30 days, 2 days, 2_000, predicted);
            UsageSettlement u = new UsageSettlement(IModelRegistry(address(r)), ILicenseManager(address(l)), predicted);
            vm.expectRevert(ClaimManager.ClaimManager__InvalidConfig.selector);
            new ClaimManager(
                IModelRegistry(address(r)),
                ILicenseManager(address(l)),
                IVerifierRegistry(address(v)),
                IUsageSettlement(address(u)),
                skews[i],
                kinds[i]
            );
        }
    }

    function test_constructor_configBoundaries() public {
        ClaimManager cm = deployWith(1, 1);
        (uint32 skew, uint8 kinds, uint256 maxWindow) = cm.config();
        vm.assertEq(uint256(skew), 1);
        vm.assertEq(uint256(kinds), 1);
        vm.assertEq(maxWindow, 2 days - 1);
        cm = deployWith(type(uint32).max, 0x0f);
        (skew, kinds,) = cm.config();
        vm.assertEq(uint256(skew), type(uint32).max);
        vm.assertEq(uint256(kinds), 0x0f);
    }

    function test_views_configOfFixture() public view {
        (uint32 skew, uint8 kinds, uint256 maxWindow) = claims.config();
        vm.assertEq(uint256(skew), CLOCK_SKEW);
        vm.assertEq(uint256(kinds), ALL_KINDS);
        vm.assertEq(maxWindow, VERIFIER_ACTIVATION - 1, "the shorter of activation and unbonding, less one");
    }

    function test_constructor_acceptsPredictedAddress() public {
        address predicted = vm.computeCreateAddress(address(this), vm.getNonce(address(this)) + 4);
        address usageAt = vm.computeCreateAddress(address(this), vm.getNonce(address(this)) + 3);
        ModelRegistry r = new ModelRegistry(predicted, MIN_RETIREMENT_UNBONDING);
        LicenseManager l = new LicenseManager(IModelRegistry(address(r)), predicted, usageAt);
        VerifierRegistry v = new VerifierRegistry(1 ether, 30 days, 2 days, 2_000, predicted);
        UsageSettlement u = new UsageSettlement(IModelRegistry(address(r)), ILicenseManager(address(l)), predicted);
        ClaimManager cm = new ClaimManager(
            IModelRegistry(address(r)),
            ILicenseManager(address(l)),
            IVerifierRegistry(address(v)),
            IUsageSettlement(address(u)),
            CLOCK_SKEW,
            ALL_KINDS
        );
        vm.assertEq(address(cm), predicted);
        (address reg, address lic, address ver, address use) = cm.wiring();
        vm.assertEq(reg, address(r));
        vm.assertEq(lic, address(l));
        vm.assertEq(ver, address(v));
        vm.assertEq(use, address(u));
    }

    function test_RevertWhen_constructor_registryWiredElsewhere() public {
        ModelRegistry r = new ModelRegistry(address(0xBEEF), MIN_RETIREMENT_UNBONDING);
        vm.expectRevert(
            abi.encodeWithSelector(ClaimManager.ClaimManager__WiredElsewhere.selector, address(r), address(0xBEEF))
        );
        new ClaimManager(
            IModelRegistry(address(r)),
            ILicenseManager(address(licenses)),
            IVerifierRegistry(address(verifiers)),
            IUsageSettlement(address(usage)),
            CLOCK_SKEW,
            ALL_KINDS
        );
    }

    function test_RevertWhen_constructor_dependenciesNameAnotherClaimManager() public {
        // The fixture's four all name `claims`: a second ClaimManager over them is refused, and the
        // first contract checked (the registry) is the one reported.
        vm.expectRevert(
            abi.encodeWithSelector(
                ClaimManager.ClaimManager__WiredElsewhere.selector, address(registry), address(claims)
            )
        );
        new ClaimManager(
            IModelRegistry(address(registry)),
            ILicenseManager(address(licenses)),
            IVerifierRegistry(address(verifiers)),
            IUsageSettlement(address(usage)),
            CLOCK_SKEW,
            ALL_KINDS
        );
    }

    function test_RevertWhen_constructor_laterDependencyWiredElsewhere() public {
        // Registry and licenses name the new ClaimManager; the verifier registry is the fixture's.
        address predicted = vm.computeCreateAddress(address(this), vm.getNonce(address(this)) + 2);
        ModelRegistry r = new ModelRegistry(predicted, MIN_RETIREMENT_UNBONDING);
        LicenseManager l = new LicenseManager(IModelRegistry(address(r)), predicted, address(usage));
        vm.expectRevert(
            abi.encodeWithSelector(
                ClaimManager.ClaimManager__WiredElsewhere.selector, address(verifiers), address(claims)
            )
        );
        new ClaimManager(
            IModelRegistry(address(r)),
            ILicenseManager(address(l)),
            IVerifierRegistry(address(verifiers)),
            IUsageSettlement(address(usage)),
            CLOCK_SKEW,
            ALL_KINDS
        );
    }

    function test_RevertWhen_constructor_usageWiredElsewhere() public {
        address predicted = vm.computeCreateAddress(address(this), vm.getNonce(address(this)) + 4);
        address usageAt = vm.computeCreateAddress(address(this), vm.getNonce(address(this)) + 3);
        ModelRegistry r = new ModelRegistry(predicted, MIN_RETIREMENT_UNBONDING);
        LicenseManager l = new LicenseManager(IModelRegistry(address(r)), predicted, usageAt);
        VerifierRegistry v = new VerifierRegistry(1 ether, 30 days, 2 days, 2_000, predicted);
        UsageSettlement u =
            new UsageSettlement(IModelRegistry(address(r)), ILicenseManager(address(l)), address(0xBEEF));
        vm.expectRevert(
            abi.encodeWithSelector(ClaimManager.ClaimManager__WiredElsewhere.selector, address(u), address(0xBEEF))
        );
        new ClaimManager(
            IModelRegistry(address(r)),
            ILicenseManager(address(l)),
            IVerifierRegistry(address(v)),
            IUsageSettlement(address(u)),
            CLOCK_SKEW,
            ALL_KINDS
        );
    }

    function test_views_emptyState() public view {
        vm.assertEq(claims.claimCount(), 0);
        vm.assertEq(uint256(claims.claimStatus(1)), uint256(ClaimManager.ClaimStatus.None));
        vm.assertEq(claimOfInput(claimInput(0)), 0);
        vm.assertEq(claims.openClaims(false, licenseId), 0);
        vm.assertEq(claims.openClaims(true, modelId), 0);
        vm.assertEq(claims.pendingSlash(false, licenseId), 0);
        vm.assertEq(claims.pendingSlash(true, modelId), 0);
        vm.assertEq(claims.totalOwed(), 0);
        vm.assertEq(claims.owedTo(claimant), 0);
        ClaimManager.ClaimRecord memory r;
        vm.assertFalse(claims.matchesRecord(0, r), "no claim 0");
        vm.assertFalse(claims.matchesRecord(1, r), "no claim 1");
    }

    function test_views_matchesRecordAcrossStatuses() public {
        (uint256 id, ClaimManager.ClaimRecord memory r) = openDefault(0);
        ClaimManager.ClaimRecord memory t = copyRecord(r);
        t.bond = 0;
        vm.assertTrue(claims.matchesRecord(id, r));
        vm.assertFalse(claims.matchesRecord(id, t));
        vm.assertFalse(claims.matchesRecord(id + 1, r));
        refuteAsHost(id, r);
        vm.assertTrue(claims.matchesRecord(id, r), "status does not change the record");
        claims.penalizeAttesters(id, r, sortedAttesters(3));
        vm.assertTrue(claims.matchesRecord(id, r));
        assertStatus(id, ClaimManager.ClaimStatus.AttestersPenalized);
    }

    function test_views_recordFromEvent() public {
        // The record a caller needs is the one ClaimOpened carries.
        vmc.recordLogs();
        (uint256 id,) = openDefault(2);
        VmClaims.Log[] memory logs = vmc.getRecordedLogs();
        bytes32 topic = keccak256(
            "ClaimOpened(uint256,uint8,uint256,(uint8,uint256,uint256,address,address,uint256,uint256,uint256,uint64,bytes32,bytes32,bytes32,uint64,uint64),bytes32,address[])"
        );
        vm.assertEq(topic, ClaimManager.ClaimOpened.selector, "event signature");
        bool found;
        for (uint256 i; i < logs.length; ++i) {
            if (logs[i].emitter == address(claims) && logs[i].topics[0] == topic) {
                (ClaimManager.ClaimRecord memory r, bytes32 evidence, address[] memory att) =
                    abi.decode(logs[i].data, (ClaimManager.ClaimRecord, bytes32, address[]));
                vm.assertEq(uint256(logs[i].topics[1]), id);
                vm.assertTrue(claims.matchesRecord(id, r));
                vm.assertEq(evidence, claimInput(2).evidenceHash);
                vm.assertEq(keccak256(abi.encodePacked(att)), r.attestersHash);
                found = true;
            }
        }
        vm.assertTrue(found, "ClaimOpened");
    }

    // ============================================================== fuzz

    struct Balances {
        uint256 stake;
        uint256 claimant;
        uint256 accrued;
        uint256 system;
    }

    function balancesOf(uint256 lic) internal view returns (Balances memory b) {
        b.stake = licenseStake(lic);
        b.claimant = claimant.balance;
        b.accrued = usage.accruedRevenue(modelId);
        b.system = address(licenses).balance + address(usage).balance + address(claims).balance + claimant.balance;
    }

    function setSlashTerms(uint256 slashBps, uint256 rewardBps, uint256 bond) internal {
        Terms memory t = terms;
        t.slashBps = uint16(slashBps);
        t.claimantRewardBps = uint16(rewardBps);
        t.claimBond = uint96(bond);
        vm.prank(admin);
        registry.updateTerms(modelId, t);
    }

    /// @dev Executes and checks the split; returns what was slashed.
    function executeChecked(uint256 id, ClaimManager.ClaimRecord memory r, uint256 lic, uint256 snapshot)
        internal
        returns (uint256 slashed)
    {
        Balances memory b = balancesOf(lic);
        claims.execute(id, r);
        Balances memory a = balancesOf(lic);
        slashed = b.stake - a.stake;
        vm.assertLe(slashed, r.slashAmount, "within the snapshot's slash");
        vm.assertLe(slashed, snapshot, "within the snapshot");
        vm.assertEq(
            slashed, r.slashAmount < b.stake ? r.slashAmount : b.stake, "snapshot slash, capped by what is left"
        );
        uint256 reward = r.reward < slashed ? r.reward : slashed;
        vm.assertEq(a.claimant - b.claimant, r.bond + reward, "claimant: bond + reward");
        vm.assertEq(a.accrued - b.accrued, slashed - reward, "owners: the rest");
        vm.assertEq(a.system, b.system, "no wei created or lost");
    }

    /// @dev Random terms and stake: the slash is exactly snapshot × slashBps (never above the
    /// snapshot), and bond + reward to the claimant and the rest to the owners add up exactly.
    function testFuzz_execute_splitExact(uint256 stake, uint256 slashBps, uint256 rewardBps, uint256 bond) public {
        stake = bound(stake, terms.minStake, 1e9 ether);
        slashBps = bound(slashBps, 1, 10_000);
        rewardBps = bound(rewardBps, 0, 10_000);
        bond = bound(bond, 1, 100 ether);
        setSlashTerms(slashBps, rewardBps, bond);
        vm.deal(host, stake);
        (uint256 lic, ClaimManager.ClaimInput[] memory inputs) = licenseWithFingerprints(host, stake, 3, "fz");
        (uint256 id, ClaimManager.ClaimRecord memory r) = openAs(claimant, inputs[1], three());
        vm.assertEq(r.bond, bond);
        vm.assertEq(r.slashAmount, stake * slashBps / 10_000, "slash = snapshot x slashBps");
        vm.assertEq(r.reward, r.slashAmount * rewardBps / 10_000, "reward = slash x rewardBps");
        vm.assertLe(r.slashAmount, stake, "slash within the snapshot");
        vm.warp(r.deadline);
        uint256 slashed = executeChecked(id, r, lic, stake);
        vm.assertEq(slashed, stake * slashBps / 10_000);
        vm.assertEq(address(claims).balance, 0, "nothing stuck");
    }

    /// @dev Several claims on one license, stake added in between: each slash is bounded by its
    /// own snapshot and by what earlier open claims left, and together they never exceed the stake.
    function testFuzz_execute_slashNeverExceedsSnapshot(
        uint256 stake,
        uint256 slashBps,
        uint256 rewardBps,
        uint256 added,
        uint8 claimsCount
    ) public {
        stake = bound(stake, terms.minStake, 1e6 ether);
        added = bound(added, 0, 1e6 ether);
        slashBps = bound(slashBps, 1, 10_000);
        setSlashTerms(slashBps, bound(rewardBps, 0, 10_000), terms.claimBond);
        vm.deal(host, stake + added);
        (uint256 lic, ClaimManager.ClaimInput[] memory inputs) = licenseWithFingerprints(host, stake, 4, "fz2");
        (uint256[] memory ids, ClaimManager.ClaimRecord[] memory rs, uint256 reserved) =
            openReserving(lic, inputs, stake * slashBps / 10_000, bound(claimsCount, 1, 4));
        vm.assertLe(reserved, stake, "reservations within the stake");
        if (added != 0) {
            vm.prank(host);
            licenses.addStake{value: added}(lic);
        }
        vm.warp(rs[ids.length - 1].deadline);
        uint256 total;
        for (uint256 i; i < ids.length; ++i) {
            total += executeChecked(ids[i], rs[i], lic, stake);
        }
        vm.assertEq(total, reserved, "each execute takes exactly what its claim reserved");
        vm.assertLe(total, stake);
        vm.assertEq(licenseStake(lic), stake + added - total);
        vm.assertEq(address(claims).balance, 0, "nothing stuck");
    }

    /// @dev Opens up to `n` claims on `lic`, each reserving `each` within what the earlier ones
    /// left; a claim finding nothing left is refused and ends the series.
    function openReserving(uint256 lic, ClaimManager.ClaimInput[] memory inputs, uint256 each, uint256 n)
        internal
        returns (uint256[] memory ids, ClaimManager.ClaimRecord[] memory rs, uint256 reserved)
    {
        uint256 stake = licenseStake(lic);
        ids = new uint256[](n);
        rs = new ClaimManager.ClaimRecord[](n);
        for (uint256 i; i < n; ++i) {
            uint256 want = each < stake - reserved ? each : stake - reserved;
            if (want == 0) {
                // Nothing left to reserve: the claim is refused outright.
                bytes[] memory sigs = signAttestation(inputs[i], sortByAddress(three()));
                vm.prank(claimant);
                vm.expectRevert(abi.encodeWithSelector(ClaimManager.ClaimManager__NothingLeftToSlash.selector, lic));
                claims.openClaim{value: terms.claimBond}(inputs[i], sigs);
                assembly ("memory-safe") {
                    mstore(ids, i)
                    mstore(rs, i)
                }
                return (ids, rs, reserved);
            }
            (ids[i], rs[i]) = openAs(claimant, inputs[i], three());
            vm.assertEq(rs[i].slashAmount, want, "stake x slashBps, within what is not reserved");
            reserved += want;
            vm.assertEq(claims.pendingSlash(false, lic), reserved);
        }
    }

    /// @dev LINEAGE with random family terms: the registration stake is slashed by the family's
    /// fraction and the family's owners get the rest.
    function testFuzz_execute_lineageSplit(uint256 slashBps, uint256 rewardBps) public {
        setUpLineage();
        slashBps = bound(slashBps, 1, 10_000);
        rewardBps = bound(rewardBps, 0, 10_000);
        Terms memory t = familyTerms;
        t.slashBps = uint16(slashBps);
        t.claimantRewardBps = uint16(rewardBps);
        vm.prank(familyAdmin);
        registry.updateTerms(familyId, t);
        (uint256 id, ClaimManager.ClaimRecord memory r) = openAs(claimant, lineageInput(0), three());
        vm.warp(r.deadline);
        uint256 claimantBefore = claimant.balance;
        claims.execute(id, r);
        uint256 slashed = 5 ether * slashBps / 10_000;
        uint256 reward = slashed * rewardBps / 10_000;
        (,, uint96 left,,) = registry.modelInfo(derivedId);
        vm.assertEq(left, 5 ether - slashed);
        vm.assertEq(claimant.balance - claimantBefore, t.claimBond + reward);
        vm.assertEq(usage.accruedRevenue(familyId), slashed - reward);
        vm.assertEq(address(registry).balance, registry.totalRegistrationStake());
    }

    /// @dev Any change to any field of the record makes refute revert with RecordMismatch.
    function testFuzz_tamperedRecord_refuteReverts(uint256 field, uint256 salt) public {
        (uint256 id, ClaimManager.ClaimRecord memory r) = openDefault(0);
        ClaimManager.ClaimRecord memory t = tamper(r, field, salt);
        bytes memory sigma = sigmaFor(r, 1);
        vm.assertFalse(claims.matchesRecord(id, t));
        vm.prank(host);
        vm.expectRevert(abi.encodeWithSelector(ClaimManager.ClaimManager__RecordMismatch.selector, id));
        claims.refute(id, t, 1, r.servedAt, sigma);
        // The genuine record still works.
        vm.prank(host);
        claims.refute(id, r, 1, r.servedAt, sigma);
    }

    /// @dev Any change to any field of the record makes execute revert with RecordMismatch.
    function testFuzz_tamperedRecord_executeReverts(uint256 field, uint256 salt) public {
        (uint256 id, ClaimManager.ClaimRecord memory r) = openDefault(0);
        ClaimManager.ClaimRecord memory t = tamper(r, field, salt);
        vm.warp(r.deadline > t.deadline ? r.deadline : t.deadline);
        vm.expectRevert(abi.encodeWithSelector(ClaimManager.ClaimManager__RecordMismatch.selector, id));
        claims.execute(id, t);
        claims.execute(id, r);
        assertStatus(id, ClaimManager.ClaimStatus.Executed);
    }

    /// @dev Any change to any field of the record makes penalizeAttesters revert too.
    function testFuzz_tamperedRecord_penalizeReverts(uint256 field, uint256 salt) public {
        (uint256 id, ClaimManager.ClaimRecord memory r) = openDefault(0);
        refuteAsHost(id, r);
        ClaimManager.ClaimRecord memory t = tamper(r, field, salt);
        vm.expectRevert(abi.encodeWithSelector(ClaimManager.ClaimManager__RecordMismatch.selector, id));
        claims.penalizeAttesters(id, t, sortedAttesters(3));
    }
}
