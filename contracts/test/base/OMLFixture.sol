// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {TestBase} from "./Vm.sol";
import {ModelRegistry} from "../../src/ModelRegistry.sol";
import {LicenseManager} from "../../src/LicenseManager.sol";
import {UsageSettlement} from "../../src/UsageSettlement.sol";
import {VerifierRegistry} from "../../src/VerifierRegistry.sol";
import {ClaimManager} from "../../src/ClaimManager.sol";
import {Terms, ClaimKind} from "../../src/lib/OMLTypes.sol";
import {IModelRegistry, ILicenseManager, IVerifierRegistry, IUsageSettlement} from "../../src/interfaces/IOML.sol";

/// @dev A deployed, wired OML stack with one model, four verifiers, one licensed host holding a
/// four-leaf fingerprint commitment, and helpers to sign every typed message.
abstract contract OMLFixture is TestBase {
    ModelRegistry internal registry;
    LicenseManager internal licenses;
    UsageSettlement internal usage;
    VerifierRegistry internal verifiers;
    ClaimManager internal claims;

    uint256 internal constant SIGNER_PK = 0x5151;
    uint256 internal constant HOST_PK = 0x4057;
    uint256 internal constant ADMIN_PK = 0xAD;
    uint256 internal constant CLAIMANT_PK = 0xC1A1;
    /// @dev The key every test license's gateway signs answer receipts with.
    uint256 internal constant GATEWAY_PK = 0x6A7E;
    uint256[4] internal verifierPks = [uint256(0xA1), 0xA2, 0xA3, 0xA4];

    address internal signer;
    address internal host;
    address internal admin;
    address internal claimant;
    address internal gateway;
    address internal ownerA = address(0xA11CE);
    address internal ownerB = address(0xB0B);

    uint96 internal constant VERIFIER_MIN_STAKE = 1 ether;
    uint32 internal constant VERIFIER_UNBONDING = 30 days;
    uint32 internal constant VERIFIER_ACTIVATION = 2 days;
    uint16 internal constant VERIFIER_PENALTY_BPS = 2_000;
    uint32 internal constant CLOCK_SKEW = 5 minutes;
    /// @dev Shorter than the fixture terms' unbonding, so retirements unbond after the terms' period.
    uint32 internal constant MIN_RETIREMENT_UNBONDING = 3 days;
    uint8 internal constant ALL_KINDS = 0x1f;
    string internal constant ENDPOINT = "https://host.example/v1";

    Terms internal terms;
    uint256 internal modelId;
    uint256 internal licenseId;
    bytes32[4] internal leaves;
    bytes32[4] internal queryHashes;
    bytes32[4] internal responseHashes;
    bytes32[4] internal salts;
    bytes32 internal fingerprintRoot;

    function setUp() public virtual {
        vm.warp(1_700_000_000);
        signer = vm.addr(SIGNER_PK);
        host = vm.addr(HOST_PK);
        admin = vm.addr(ADMIN_PK);
        claimant = vm.addr(CLAIMANT_PK);
        gateway = vm.addr(GATEWAY_PK);
        terms = Terms({
            pricePerQuery: 0.001 ether,
            minStake: 10 ether,
            claimBond: 1 ether,
            registrationStake: 5 ether,
            quota: 1_000_000,
            licensePeriod: 365 days,
            challengeWindow: 1 days,
            unbondingPeriod: 7 days,
            slashBps: 5_000,
            claimantRewardBps: 2_000
        });
        deployStack();
        modelId = registerModel(admin);
        for (uint256 i; i < 4; ++i) {
            vm.deal(vm.addr(verifierPks[i]), 100 ether);
            vm.prank(vm.addr(verifierPks[i]));
            verifiers.join{value: VERIFIER_MIN_STAKE}();
        }
        vm.warp(block.timestamp + verifierActivation());
        for (uint256 i; i < 4; ++i) {
            verifiers.activate(vm.addr(verifierPks[i]));
        }
        vm.deal(host, 1_000 ether);
        vm.deal(claimant, 100 ether);
        licenseId = acquire(host, 10 ether);
        buildFingerprints();
        vm.prank(admin);
        licenses.setFingerprintCommitment(licenseId, fingerprintRoot, keccak256("weights"));
        // Claims about answers served when the license began may open from here on.
        vm.warp(block.timestamp + CLOCK_SKEW);
    }

    /// @dev Deploys in PROTOCOL.md's order, giving the first four the ClaimManager's address
    /// predicted from this contract's nonce (the ClaimManager is the fifth creation from here),
    /// and the LicenseManager the UsageSettlement's (the fourth, right after it).
    function deployStack() internal {
        uint256 nonce = vm.getNonce(address(this));
        address predicted = vm.computeCreateAddress(address(this), nonce + 4);
        address usagePredicted = vm.computeCreateAddress(address(this), nonce + 3);
        registry = new ModelRegistry(predicted, MIN_RETIREMENT_UNBONDING);
        verifiers = new VerifierRegistry(
            VERIFIER_MIN_STAKE, verifierUnbonding(), verifierActivation(), VERIFIER_PENALTY_BPS, predicted
        );
        licenses = new LicenseManager(IModelRegistry(address(registry)), predicted, usagePredicted);
        usage = new UsageSettlement(IModelRegistry(address(registry)), ILicenseManager(address(licenses)), predicted);
        claims = new ClaimManager(
            IModelRegistry(address(registry)),
            ILicenseManager(address(licenses)),
            IVerifierRegistry(address(verifiers)),
            IUsageSettlement(address(usage)),
            CLOCK_SKEW,
            enabledClaimKinds()
        );
    }

    /// @dev Deployment parameters a suite may override to test another configuration; the
    /// defaults are the constants above.
    function verifierUnbonding() internal view virtual returns (uint32) {
        return VERIFIER_UNBONDING;
    }

    function verifierActivation() internal view virtual returns (uint32) {
        return VERIFIER_ACTIVATION;
    }

    function enabledClaimKinds() internal view virtual returns (uint8) {
        return ALL_KINDS;
    }

    function registerModel(address by) internal returns (uint256 id) {
        address[] memory owners = new address[](2);
        owners[0] = ownerA;
        owners[1] = ownerB;
        uint256[] memory shares = new uint256[](2);
        shares[0] = 3;
        shares[1] = 1;
        vm.prank(by);
        id = registry.registerModel(owners, shares, signer, terms, keccak256("lineage-root"), keccak256("base"));
    }

    function acquire(address who, uint256 stake) internal returns (uint256 id) {
        (,, bytes32 th) = registry.currentTerms(modelId);
        vm.prank(who);
        id = licenses.acquireLicense{value: stake}(modelId, ENDPOINT, th, gateway);
    }

    /// @dev When license `id` began (its expiry minus its terms' license period).
    function licenseStart(uint256 id) internal view returns (uint64) {
        LicenseManager.License memory l = licenses.getLicense(id);
        return uint64(l.expiresAt - registry.terms(l.modelId, l.termsVersion).licensePeriod);
    }

    /// @dev `c` with the evidence of its answer: for UNPERMITTED_USE, served at `servedAt` and
    /// receipted by the gateway key; other kinds carry no receipt.
    function answeredAt(ClaimManager.ClaimInput memory c, uint64 servedAt)
        internal
        view
        returns (ClaimManager.ClaimInput memory)
    {
        c.servedAt = servedAt;
        if (c.kind != ClaimKind.UNPERMITTED_USE) {
            c.answerHash = bytes32(0);
            c.receipt = "";
            return c;
        }
        c.answerHash = keccak256(abi.encode("answer", c.queryHash));
        c.receipt = sign(
            GATEWAY_PK, claims.receiptDigest(c.subjectId, c.queryHash, c.answerHash, servedAt, c.receiptPermission)
        );
        return c;
    }

    /// @dev Four leaves in a sorted-pair tree: root = H(H(l0,l1), H(l2,l3)) with pairs sorted.
    function buildFingerprints() internal {
        for (uint256 i; i < 4; ++i) {
            queryHashes[i] = keccak256(abi.encode("query", i));
            responseHashes[i] = keccak256(abi.encode("response", i));
            salts[i] = keccak256(abi.encode("salt", i));
            leaves[i] = leafOf(queryHashes[i], responseHashes[i], salts[i]);
        }
        fingerprintRoot = hashPair(hashPair(leaves[0], leaves[1]), hashPair(leaves[2], leaves[3]));
    }

    function proofOf(uint256 i) internal view returns (bytes32[] memory p) {
        p = new bytes32[](2);
        p[0] = leaves[i ^ 1];
        p[1] = i < 2 ? hashPair(leaves[2], leaves[3]) : hashPair(leaves[0], leaves[1]);
    }

    function leafOf(bytes32 q, bytes32 r, bytes32 s) internal pure returns (bytes32) {
        return keccak256(bytes.concat(keccak256(abi.encode(q, r, s))));
    }

    function hashPair(bytes32 a, bytes32 b) internal pure returns (bytes32) {
        return a < b ? keccak256(abi.encodePacked(a, b)) : keccak256(abi.encodePacked(b, a));
    }

    function sign(uint256 pk, bytes32 digest) internal pure returns (bytes memory) {
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(pk, digest);
        return abi.encodePacked(r, s, v);
    }

    function claimInput(uint256 i) internal view returns (ClaimManager.ClaimInput memory c) {
        c.kind = ClaimKind.UNPERMITTED_USE;
        c.subjectId = licenseId;
        c.queryHash = queryHashes[i];
        c.responseHash = responseHashes[i];
        c.salt = salts[i];
        c.proof = proofOf(i);
        c.evidenceHash = keccak256(abi.encode("transcript", i));
        c = answeredAt(c, licenseStart(licenseId));
    }

    /// @dev Attestations of `count` verifiers for a claim `claimant` opens, ordered by address.
    function attest(ClaimManager.ClaimInput memory c, bytes32 leaf, uint256 count)
        internal
        view
        returns (bytes[] memory sigs)
    {
        return attestFor(c, leaf, count, claimant);
    }

    /// @dev Attestations of `count` verifiers for a claim opened by `by`, ordered by address.
    function attestFor(ClaimManager.ClaimInput memory c, bytes32 leaf, uint256 count, address by)
        internal
        view
        returns (bytes[] memory sigs)
    {
        bytes32 digest = claims.attestationDigest(c.subjectId, c.familyId, c.kind, leaf, c.evidenceHash, c.servedAt, by);
        uint256[] memory pks = sortedVerifierPks();
        sigs = new bytes[](count);
        for (uint256 i; i < count; ++i) {
            sigs[i] = sign(pks[i], digest);
        }
    }

    function sortedVerifierPks() internal view returns (uint256[] memory pks) {
        pks = new uint256[](4);
        for (uint256 i; i < 4; ++i) {
            pks[i] = verifierPks[i];
        }
        for (uint256 i; i < 4; ++i) {
            for (uint256 j = i + 1; j < 4; ++j) {
                if (vm.addr(pks[j]) < vm.addr(pks[i])) (pks[i], pks[j]) = (pks[j], pks[i]);
            }
        }
    }

    function sortedAttesters(uint256 count) internal view returns (address[] memory a) {
        uint256[] memory pks = sortedVerifierPks();
        a = new address[](count);
        for (uint256 i; i < count; ++i) {
            a[i] = vm.addr(pks[i]);
        }
    }

    /// @dev The record ClaimOpened emits for a claim opened now by `claimant` on fingerprint `i`.
    function expectedRecord(uint256 i, uint256 attesterCount)
        internal
        view
        returns (ClaimManager.ClaimRecord memory r)
    {
        r.kind = ClaimKind.UNPERMITTED_USE;
        r.subjectId = licenseId;
        r.modelId = modelId;
        r.claimant = claimant;
        r.accused = host;
        r.bond = terms.claimBond;
        (,, uint256 stake,,,,) = licenses.claimInfo(licenseId);
        r.slashAmount = stake * terms.slashBps / 10_000;
        uint256 free = stake - claims.pendingSlash(false, licenseId);
        if (r.slashAmount > free) r.slashAmount = free;
        r.reward = r.slashAmount * terms.claimantRewardBps / 10_000;
        r.deadline = uint64(block.timestamp + terms.challengeWindow);
        r.queryHash = queryHashes[i];
        r.leaf = leaves[i];
        r.attestersHash = keccak256(abi.encodePacked(sortedAttesters(attesterCount)));
        r.servedAt = licenseStart(licenseId);
        r.notBefore = licenseStart(licenseId);
    }

    function openClaimOn(uint256 i) internal returns (uint256 id, ClaimManager.ClaimRecord memory r) {
        ClaimManager.ClaimInput memory c = claimInput(i);
        r = expectedRecord(i, 3);
        bytes[] memory sigs = attest(c, leaves[i], 3);
        vm.prank(claimant);
        id = claims.openClaim{value: terms.claimBond}(c, sigs);
    }

    /// @dev The fixture signer's σ for the claim's query, issued when its answer was served.
    function sigmaFor(ClaimManager.ClaimRecord memory r, uint64 seq) internal view returns (bytes memory) {
        return permissionSig(SIGNER_PK, r.subjectId, r.queryHash, seq, r.servedAt);
    }

    function permissionSig(uint256 pk, uint256 lic, bytes32 q, uint64 seq, uint64 issuedAt)
        internal
        view
        returns (bytes memory)
    {
        return sign(pk, claims.permissionDigest(lic, q, seq, issuedAt));
    }

    function closureSig(uint256 pk, uint256 lic, uint64 queries) internal view returns (bytes memory) {
        bytes32 structHash = keccak256(abi.encode(usage.USAGE_CLOSURE_TYPEHASH(), lic, queries));
        return sign(pk, keccak256(abi.encodePacked(hex"1901", usage.domainSeparator(), structHash)));
    }

    /// @dev What the permission service does once a host asked to exit and its usage is settled.
    function closeUsage(uint256 lic) internal {
        (uint64 queries,,) = usage.account(lic);
        usage.close(lic, queries, closureSig(SIGNER_PK, lic, queries));
    }

    function voucherSig(uint256 pk, uint256 lic, uint64 queries, uint256 fee, bytes32 root)
        internal
        view
        returns (bytes memory)
    {
        bytes32 structHash = keccak256(abi.encode(usage.USAGE_VOUCHER_TYPEHASH(), lic, queries, fee, root));
        return sign(pk, keccak256(abi.encodePacked(hex"1901", usage.domainSeparator(), structHash)));
    }
}
