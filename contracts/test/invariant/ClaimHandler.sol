// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {TestBase} from "../base/Vm.sol";
import {TestMerkle, EthRefuser} from "../base/ClaimHelpers.sol";
import {ModelRegistry} from "../../src/ModelRegistry.sol";
import {LicenseManager} from "../../src/LicenseManager.sol";
import {UsageSettlement} from "../../src/UsageSettlement.sol";
import {VerifierRegistry} from "../../src/VerifierRegistry.sol";
import {ClaimManager} from "../../src/ClaimManager.sol";
import {Terms, ClaimKind, LicenseStatus} from "../../src/lib/OMLTypes.sol";

/// @dev Drives random sequences of the whole protocol for the invariant suite: licenses, stakes,
/// escrow, vouchers, claims of every kind with valid quorums, refutations with valid σ,
/// executions, penalties, exits and withdrawals, verifier churn, derived models, and time. Every
/// action picks valid inputs (so few calls are wasted on reverts) and keeps ghost books that the
/// invariants compare with the contracts.
contract ClaimHandler is TestBase {
    struct Ghost {
        uint256 snapshot; // the subject's stake when the claim was opened
        uint256 slashed; // what execute actually took from the subject
        bool executed;
        bool refuted;
    }

    uint256 internal constant LICENSE_LEAVES = 4;
    uint256 internal constant LINEAGE_LEAVES = 8;
    uint256 internal constant MAX_LICENSES = 12;
    uint256 internal constant MAX_DERIVED = 5;

    ModelRegistry public immutable registry;
    LicenseManager public immutable licenses;
    UsageSettlement public immutable usage;
    VerifierRegistry public immutable verifiers;
    ClaimManager public immutable claims;
    uint256 internal immutable _signerPk;
    address internal immutable _modelAdmin;
    uint256 public immutable modelId;

    uint256 public familyId;
    uint256 public currentTime;
    uint256 internal _nonce;

    address[] internal _hosts;
    address[] internal _claimants;
    EthRefuser public immutable refuser;
    uint256[] internal _verifierPks;

    uint256[] internal _licenseIds;
    mapping(uint256 => address) public hostOf;
    uint256[] internal _derivedIds;
    mapping(uint256 => uint256) public retireAt;

    uint256[] internal _claimIds;
    mapping(uint256 => ClaimManager.ClaimRecord) internal _records;
    mapping(uint256 => address[]) internal _attesters;
    mapping(uint256 => Ghost) internal _ghost;

    /// @dev What each subject's stake must be from the handler's own books: deposits minus
    /// measured slashes of executed claims minus withdrawals. Refutations must not touch it.
    mapping(uint256 => uint256) public expectedLicenseStake;
    mapping(uint256 => uint256) public expectedRegistrationStake;

    // Violations observed at the moment they happened (invariants assert these stay zero).
    uint256 public licenseWithdrawViolations;
    uint256 public verifierWithdrawViolations;
    uint256 public registrationWithdrawViolations;
    uint256 public refuteStakeChanges;
    uint256 public recordMismatches;
    uint256 public payoutMismatches;
    uint256 public leafReuseViolations;
    uint256 public replayViolations;
    uint256 public unexpectedOpenRefusals;

    /// @dev The claim holding each leaf by the handler's books: set on open, cleared on refute.
    mapping(bytes32 => uint256) internal _leafHolder;
    /// @dev The exact openClaim call of each claim, to replay its attestations after a refutation.
    mapping(uint256 => bytes) internal _openCall;

    mapping(bytes32 => uint256) public calls;

    modifier useTime(bytes32 name) {
        vm.warp(currentTime);
        ++calls[name];
        _;
    }

    constructor(
        ModelRegistry registry_,
        LicenseManager licenses_,
        UsageSettlement usage_,
        VerifierRegistry verifiers_,
        ClaimManager claims_,
        uint256 signerPk_,
        address modelAdmin_,
        uint256 modelId_,
        uint256[] memory verifierPks_
    ) {
        registry = registry_;
        licenses = licenses_;
        usage = usage_;
        verifiers = verifiers_;
        claims = claims_;
        _signerPk = signerPk_;
        _modelAdmin = modelAdmin_;
        modelId = modelId_;
        currentTime = block.timestamp;
        for (uint256 i; i < verifierPks_.length; ++i) {
            _verifierPks.push(verifierPks_[i]);
        }
        for (uint256 i; i < 4; ++i) {
            _verifierPks.push(0xB1 + i); // not yet joined
        }
        for (uint256 i; i < 3; ++i) {
            _hosts.push(address(uint160(0x4000 + i)));
        }
        _claimants.push(address(0xC1000));
        _claimants.push(address(0xC2000));
        refuser = new EthRefuser();
        _claimants.push(address(refuser));
    }

    /// @dev Registers the family model whose lineage root LINEAGE claims prove against, and a
    /// first derived model. Called once by the test's setUp.
    function setUpLineage() external {
        bytes32[] memory ls = new bytes32[](LINEAGE_LEAVES);
        for (uint256 i; i < LINEAGE_LEAVES; ++i) {
            (bytes32 q, bytes32 r, bytes32 s) = _lineageTriple(i);
            ls[i] = _leaf(q, r, s);
        }
        (, Terms memory t,) = registry.currentTerms(modelId);
        t.claimBond = 2 ether;
        t.challengeWindow = 2 days;
        t.unbondingPeriod = 8 days;
        t.slashBps = 7_500;
        t.claimantRewardBps = 9_000; // a second slash of the same snapshot caps the reward
        address[] memory o = new address[](2);
        o[0] = address(0xF0001);
        o[1] = address(0xF0002);
        uint256[] memory sh = new uint256[](2);
        sh[0] = 2;
        sh[1] = 5;
        vm.prank(address(0xFA111));
        familyId = registry.registerModel(o, sh, vm.addr(_signerPk), t, TestMerkle.root(ls), keccak256("family"));
        _registerDerived();
    }

    // ============================================================ licenses

    function acquireLicense(uint256 hostSeed, uint256 stakeSeed) external useTime("acquireLicense") {
        if (_licenseIds.length >= MAX_LICENSES) return;
        address h = _hosts[hostSeed % _hosts.length];
        (, Terms memory t, bytes32 th) = registry.currentTerms(modelId);
        uint256 stake = bound(stakeSeed, t.minStake, 5 * uint256(t.minStake));
        vm.deal(h, h.balance + stake);
        vm.prank(h);
        uint256 id = licenses.acquireLicense{value: stake}(modelId, "https://h.example/v1", th);
        bytes32[] memory ls = new bytes32[](LICENSE_LEAVES);
        for (uint256 i; i < LICENSE_LEAVES; ++i) {
            (bytes32 q, bytes32 r, bytes32 s) = _licenseTriple(id, i);
            ls[i] = _leaf(q, r, s);
        }
        vm.prank(_modelAdmin);
        licenses.setFingerprintCommitment(id, TestMerkle.root(ls), keccak256(abi.encode("w", id)));
        _licenseIds.push(id);
        hostOf[id] = h;
        expectedLicenseStake[id] = stake;
    }

    function addStake(uint256 licSeed, uint256 amount) external useTime("addStake") {
        (bool ok, uint256 id) = _pickLicense(licSeed);
        if (!ok || licenses.getLicense(id).status != LicenseStatus.Active) return;
        amount = bound(amount, 1, 20 ether);
        address h = hostOf[id];
        vm.deal(h, h.balance + amount);
        vm.prank(h);
        licenses.addStake{value: amount}(id);
        expectedLicenseStake[id] += amount;
    }

    function requestExit(uint256 licSeed) external useTime("requestExit") {
        (bool ok, uint256 id) = _pickLicense(licSeed);
        if (!ok || licenses.getLicense(id).status != LicenseStatus.Active) return;
        vm.prank(hostOf[id]);
        licenses.requestExit(id);
    }

    /// @dev Tries to withdraw whatever the license's state; a success must meet every condition.
    function withdraw(uint256 licSeed, uint256 waitSeed) external useTime("withdraw") {
        (bool ok, uint256 id) = _pickLicense(licSeed);
        if (!ok) return;
        LicenseManager.License memory l = licenses.getLicense(id);
        if (waitSeed % 2 == 0 && l.status == LicenseStatus.Exiting && currentTime < l.unbondAt) {
            _setTime(l.unbondAt);
        }
        bool allowed =
            l.status == LicenseStatus.Exiting && block.timestamp >= l.unbondAt && _ghostOpenOn(id, false) == 0;
        address h = hostOf[id];
        uint256 before = h.balance;
        vm.prank(h);
        try licenses.withdraw(id) {
            ++calls["withdraw.ok"];
            if (!allowed) ++licenseWithdrawViolations;
            if (h.balance != before + l.stake) ++payoutMismatches;
            expectedLicenseStake[id] -= l.stake;
        } catch {
            ++calls["withdraw.refused"];
            if (allowed) ++payoutMismatches; // an allowed withdrawal must go through
        }
    }

    /// @dev The model admin publishes new slash terms; later licenses take them, earlier ones keep theirs.
    function updateTerms(uint256 slashSeed, uint256 rewardSeed) external useTime("updateTerms") {
        (, Terms memory t,) = registry.currentTerms(modelId);
        t.slashBps = uint16(bound(slashSeed, 1, 10_000));
        t.claimantRewardBps = uint16(bound(rewardSeed, 0, 10_000));
        vm.prank(_modelAdmin);
        registry.updateTerms(modelId, t);
    }

    // ================================================================ usage

    function depositEscrow(uint256 licSeed, uint256 amount) external useTime("depositEscrow") {
        (bool ok, uint256 id) = _pickLicense(licSeed);
        if (!ok || licenses.getLicense(id).status != LicenseStatus.Active) return;
        amount = bound(amount, 1, 5 ether);
        address h = hostOf[id];
        vm.deal(h, h.balance + amount);
        vm.prank(h);
        usage.depositEscrow{value: amount}(id);
    }

    function settle(uint256 licSeed, uint256 queriesSeed, uint256 feeSeed) external useTime("settle") {
        (bool ok, uint256 id) = _pickLicense(licSeed);
        if (!ok) return;
        (uint64 q, uint256 fee, uint256 escrow) = usage.account(id);
        uint64 queries = q + uint64(bound(queriesSeed, 1, 1_000));
        uint256 cumulative = fee + bound(feeSeed, 0, escrow);
        bytes32 root = keccak256(abi.encode("usage", id, queries));
        bytes32 digest = keccak256(
            abi.encodePacked(
                hex"1901",
                usage.domainSeparator(),
                keccak256(abi.encode(usage.USAGE_VOUCHER_TYPEHASH(), id, queries, cumulative, root))
            )
        );
        uint256 accrued = usage.accruedRevenue(modelId);
        usage.settle(id, queries, cumulative, root, _sign(_signerPk, digest));
        if (usage.accruedRevenue(modelId) != accrued + cumulative - fee) ++payoutMismatches;
    }

    function withdrawEscrow(uint256 licSeed) external useTime("withdrawEscrow") {
        (bool ok, uint256 id) = _pickLicense(licSeed);
        if (!ok) return;
        (,, uint256 escrow) = usage.account(id);
        if (escrow == 0 || licenses.getLicense(id).status != LicenseStatus.Exited) return;
        address h = hostOf[id];
        uint256 before = h.balance;
        vm.prank(h);
        usage.withdrawEscrow(id);
        if (h.balance != before + escrow) ++payoutMismatches;
    }

    function withdrawRevenue(uint256 modelSeed, uint256 ownerSeed) external useTime("withdrawRevenue") {
        uint256 m = 1 + modelSeed % registry.modelCount();
        address[] memory owners = registry.owners(m);
        address o = owners[ownerSeed % owners.length];
        uint256 amount = usage.withdrawable(m, o);
        if (amount == 0) return;
        uint256 before = o.balance;
        vm.prank(o);
        usage.withdrawRevenue(m);
        if (o.balance != before + amount) ++payoutMismatches;
    }

    // =============================================================== claims

    function openClaim(uint256 subjectSeed, uint256 leafSeed, uint256 kindSeed, uint256 who, uint256 attSeed)
        external
        useTime("openClaim")
    {
        (bool ok, ClaimManager.ClaimInput memory c) = _buildInput(subjectSeed, leafSeed, kindSeed);
        if (!ok) return;
        uint256[] memory pks = _quorumSubset(attSeed);
        if (pks.length == 0) return;
        _open(c, _claimants[who % _claimants.length], pks);
    }

    function _buildInput(uint256 subjectSeed, uint256 leafSeed, uint256 kindSeed)
        internal
        returns (bool ok, ClaimManager.ClaimInput memory c)
    {
        c.kind = ClaimKind(kindSeed % 4);
        // Half the time, pile onto the subject of the latest claim of the same family (license or
        // model): several claims snapshotting one stake is where slashes get capped.
        if ((kindSeed >> 8) % 2 == 0) subjectSeed = _latestSubjectIndex(c.kind == ClaimKind.LINEAGE, subjectSeed);
        c.evidenceHash = keccak256(abi.encode("evidence", ++_nonce));
        // A quarter of the time, take the leaf whatever its state: the contract must refuse a
        // leaf under claim or spent.
        bool anyLeaf = (leafSeed >> 128) % 4 == 0;
        ok = c.kind == ClaimKind.LINEAGE
            ? _lineageInput(c, subjectSeed, leafSeed, anyLeaf)
            : _licenseInput(c, subjectSeed, leafSeed, anyLeaf);
    }

    function _open(ClaimManager.ClaimInput memory c, address by, uint256[] memory pks) internal {
        address[] memory att = new address[](pks.length);
        for (uint256 i; i < pks.length; ++i) {
            att[i] = vm.addr(pks[i]);
        }
        (ClaimManager.ClaimRecord memory r, uint256 snapshot) = _recordFor(c, by, att);
        bytes[] memory sigs = new bytes[](pks.length);
        {
            bytes32 digest = claims.attestationDigest(c.subjectId, c.kind, r.leaf, c.evidenceHash, by);
            for (uint256 i; i < pks.length; ++i) {
                sigs[i] = _sign(pks[i], digest);
            }
        }
        uint256 holder = _leafHolder[r.leaf];
        vm.deal(by, by.balance + r.bond);
        vm.prank(by);
        try claims.openClaim{value: r.bond}(c, sigs) returns (uint256 id) {
            if (holder != 0) ++leafReuseViolations;
            _recordOpened(id, c, sigs, r, att, snapshot);
        } catch {
            ++calls["open.refused"];
            if (holder == 0) ++unexpectedOpenRefusals;
        }
    }

    function _recordOpened(
        uint256 id,
        ClaimManager.ClaimInput memory c,
        bytes[] memory sigs,
        ClaimManager.ClaimRecord memory r,
        address[] memory att,
        uint256 snapshot
    ) internal {
        if (!claims.matchesRecord(id, r)) ++recordMismatches;
        _leafHolder[r.leaf] = id;
        _openCall[id] = abi.encodeCall(ClaimManager.openClaim, (c, sigs));
        _claimIds.push(id);
        _records[id] = r;
        _attesters[id] = att;
        _ghost[id].snapshot = snapshot;
        ++calls[_kindName(c.kind)];
    }

    /// @dev Refutes an open UNPERMITTED_USE or LEAK claim within its window with a valid σ.
    function refute(uint256 claimSeed, uint256 callerSeed, uint64 seq) external useTime("refute") {
        (bool ok, uint256 id) = _pickClaim(claimSeed, ClaimManager.ClaimStatus.Open, true);
        if (!ok) return;
        ClaimManager.ClaimRecord memory r = _records[id];
        uint64 issuedAt = uint64(block.timestamp - bound(callerSeed, 0, 1 days));
        bytes memory sigma = _sign(_signerPk, claims.permissionDigest(r.subjectId, r.queryHash, seq, issuedAt));
        uint256 stakeBefore = _subjectStake(r);
        uint256 accusedBefore = r.accused.balance + claims.owedTo(r.accused);
        vm.prank(callerSeed % 2 == 0 ? r.accused : address(uint160(0xCAFE0000 + callerSeed % 1000)));
        claims.refute(id, r, seq, issuedAt, sigma);
        _ghost[id].refuted = true;
        // The leaf stays held: a refuted claim revealed the key, which is spent for ever.
        if (_subjectStake(r) != stakeBefore) ++refuteStakeChanges;
        if (r.accused.balance + claims.owedTo(r.accused) != accusedBefore + r.bond) ++payoutMismatches;
    }

    /// @dev Executes an open claim, waiting for its window to end when `wait` (or skipping).
    function execute(uint256 claimSeed, bool wait) external useTime("execute") {
        (bool ok, uint256 id) = _pickClaim(claimSeed, ClaimManager.ClaimStatus.Open, false);
        if (!ok) return;
        ClaimManager.ClaimRecord memory r = _records[id];
        if (block.timestamp < r.deadline) {
            if (!wait) return;
            _setTime(r.deadline);
        }
        uint256 stakeBefore = _subjectStake(r);
        uint256 claimantBefore = r.claimant.balance + claims.owedTo(r.claimant);
        uint256 accruedBefore = usage.accruedRevenue(r.modelId);
        vm.prank(address(uint160(0xE0000 + claimSeed % 1000)));
        claims.execute(id, r);
        uint256 slashed = stakeBefore - _subjectStake(r);
        _ghost[id].slashed = slashed;
        _ghost[id].executed = true;
        if (r.kind == ClaimKind.LINEAGE) expectedRegistrationStake[r.subjectId] -= slashed;
        else expectedLicenseStake[r.subjectId] -= slashed;
        uint256 reward = r.reward < slashed ? r.reward : slashed;
        if (slashed < r.slashAmount) ++calls["execute.capped"];
        if (reward < r.reward) ++calls["execute.rewardCapped"];
        if (r.claimant.balance + claims.owedTo(r.claimant) != claimantBefore + r.bond + reward) ++payoutMismatches;
        if (usage.accruedRevenue(r.modelId) != accruedBefore + slashed - reward) ++payoutMismatches;
    }

    function penalizeAttesters(uint256 claimSeed) external useTime("penalizeAttesters") {
        (bool ok, uint256 id) = _pickClaim(claimSeed, ClaimManager.ClaimStatus.Refuted, false);
        if (!ok) return;
        ClaimManager.ClaimRecord memory r = _records[id];
        uint256 stakeBefore = _subjectStake(r);
        uint256 accusedBefore = r.accused.balance + claims.owedTo(r.accused);
        uint256 verifiersBefore = verifiers.totalStaked();
        claims.penalizeAttesters(id, r, _attesters[id]);
        if (_subjectStake(r) != stakeBefore) ++refuteStakeChanges;
        uint256 penalty = verifiersBefore - verifiers.totalStaked();
        if (r.accused.balance + claims.owedTo(r.accused) != accusedBefore + penalty) ++payoutMismatches;
    }

    /// @dev Anyone (the accused first) replays the exact openClaim of a refuted claim: its
    /// attestations are public. It must be refused, or the attesters could be penalized again.
    function replayRefuted(uint256 claimSeed, uint256 who) external useTime("replayRefuted") {
        uint256 n = _claimIds.length;
        if (n == 0) return;
        for (uint256 k; k < n; ++k) {
            uint256 id = _claimIds[(claimSeed + k) % n];
            if (!_ghost[id].refuted) continue;
            ClaimManager.ClaimRecord memory r = _records[id];
            address by = who % 2 == 0 ? r.accused : _claimants[who % _claimants.length];
            vm.deal(by, by.balance + r.bond);
            vm.prank(by);
            (bool ok,) = address(claims).call{value: r.bond}(_openCall[id]);
            if (ok) ++replayViolations;
            return;
        }
    }

    /// @dev The contract claimant refuses pushes; here it accepts once and pulls what it is owed.
    function withdrawOwed() external useTime("withdrawOwed") {
        uint256 owed = claims.owedTo(address(refuser));
        if (owed == 0) return;
        uint256 before = address(refuser).balance;
        refuser.setAccept(true);
        vm.prank(address(refuser));
        claims.withdrawOwed();
        refuser.setAccept(false);
        if (address(refuser).balance != before + owed) ++payoutMismatches;
    }

    // ============================================================ verifiers

    function verifierJoin(uint256 seed, uint256 amount) external useTime("verifierJoin") {
        address v = vm.addr(_verifierPks[seed % _verifierPks.length]);
        (uint256 stake,, VerifierRegistry.Status status) = verifiers.verifierInfo(v);
        if (status != VerifierRegistry.Status.None || stake != 0) return;
        (uint96 minStake,,) = verifiers.config();
        amount = bound(amount, minStake, 4 * uint256(minStake));
        vm.deal(v, v.balance + amount);
        vm.prank(v);
        verifiers.join{value: amount}();
    }

    function verifierLeave(uint256 seed) external useTime("verifierLeave") {
        address v = vm.addr(_verifierPks[seed % _verifierPks.length]);
        if (!verifiers.isActive(v)) return;
        vm.prank(v);
        verifiers.requestLeave();
    }

    /// @dev Tries to withdraw whatever the verifier's state; a success must meet every condition.
    function verifierWithdraw(uint256 seed, uint256 waitSeed) external useTime("verifierWithdraw") {
        address v = vm.addr(_verifierPks[seed % _verifierPks.length]);
        (uint256 stake, uint256 unbondAt, VerifierRegistry.Status status) = verifiers.verifierInfo(v);
        if (waitSeed % 3 == 0 && status == VerifierRegistry.Status.Leaving && currentTime < unbondAt) {
            _setTime(unbondAt);
        }
        bool allowed = status == VerifierRegistry.Status.Leaving && block.timestamp >= unbondAt;
        uint256 before = v.balance;
        vm.prank(v);
        try verifiers.withdraw() {
            ++calls["verifierWithdraw.ok"];
            if (!allowed) ++verifierWithdrawViolations;
            if (v.balance != before + stake) ++payoutMismatches;
        } catch {
            if (allowed) ++payoutMismatches;
        }
    }

    // ======================================================= derived models

    function registerDerived() external useTime("registerDerived") {
        _registerDerived();
    }

    function requestRetirement(uint256 seed) external useTime("requestRetirement") {
        (bool ok, uint256 d) = _pickDerived(seed);
        if (!ok || retireAt[d] != 0) return;
        (address a,, uint96 stake,,) = registry.modelInfo(d);
        if (stake == 0) return;
        (, Terms memory t,) = registry.currentTerms(d);
        vm.prank(a);
        registry.requestRetirement(d);
        retireAt[d] = block.timestamp + t.unbondingPeriod;
    }

    /// @dev Tries to withdraw a registration stake whatever its state; a success must meet every condition.
    function withdrawRegistration(uint256 seed, uint256 waitSeed) external useTime("withdrawRegistration") {
        (bool ok, uint256 d) = _pickDerived(seed);
        if (!ok) return;
        if (waitSeed % 2 == 0 && retireAt[d] != 0 && currentTime < retireAt[d]) _setTime(retireAt[d]);
        (address a,, uint96 stake,,) = registry.modelInfo(d);
        bool allowed = retireAt[d] != 0 && block.timestamp >= retireAt[d] && _ghostOpenOn(d, true) == 0 && stake != 0;
        uint256 before = a.balance;
        vm.prank(a);
        try registry.withdrawRegistration(d) {
            ++calls["withdrawRegistration.ok"];
            if (!allowed) ++registrationWithdrawViolations;
            if (a.balance != before + stake) ++payoutMismatches;
            expectedRegistrationStake[d] -= stake;
        } catch {
            if (allowed) ++payoutMismatches;
        }
    }

    // ================================================================= time

    function warp(uint256 secs) external useTime("warp") {
        _setTime(currentTime + bound(secs, 1 minutes, 3 days));
    }

    // ================================================================ views

    function licenseIds() external view returns (uint256[] memory) {
        return _licenseIds;
    }

    function derivedIds() external view returns (uint256[] memory) {
        return _derivedIds;
    }

    function claimIds() external view returns (uint256[] memory) {
        return _claimIds;
    }

    function verifierAddresses() external view returns (address[] memory a) {
        a = new address[](_verifierPks.length);
        for (uint256 i; i < a.length; ++i) {
            a[i] = vm.addr(_verifierPks[i]);
        }
    }

    function record(uint256 id) external view returns (ClaimManager.ClaimRecord memory) {
        return _records[id];
    }

    function ghost(uint256 id) external view returns (Ghost memory) {
        return _ghost[id];
    }

    function attesters(uint256 id) external view returns (address[] memory) {
        return _attesters[id];
    }

    // ============================================================ internals

    function _setTime(uint256 t) internal {
        currentTime = t;
        vm.warp(t);
    }

    function _registerDerived() internal {
        if (_derivedIds.length >= MAX_DERIVED) return;
        address a = address(uint160(0xD0000 + _derivedIds.length + 1));
        (, Terms memory pt,) = registry.currentTerms(modelId);
        address[] memory o = new address[](1);
        o[0] = a;
        uint256[] memory sh = new uint256[](1);
        sh[0] = 1;
        vm.deal(a, a.balance + pt.registrationStake);
        vm.prank(a);
        uint256 d = registry.registerDerivedModel{value: pt.registrationStake}(
            modelId, o, sh, vm.addr(_signerPk), pt, bytes32(0), keccak256(abi.encode("derived", a))
        );
        _derivedIds.push(d);
        expectedRegistrationStake[d] = pt.registrationStake;
    }

    /// @dev An index seed that picks the subject of the latest claim against a license (or a
    /// model when `lineage`); `fallback_` when there is none.
    function _latestSubjectIndex(bool lineage, uint256 fallback_) internal view returns (uint256) {
        for (uint256 k = _claimIds.length; k > 0; --k) {
            ClaimManager.ClaimRecord storage r = _records[_claimIds[k - 1]];
            if ((r.kind == ClaimKind.LINEAGE) != lineage) continue;
            uint256[] storage ids = lineage ? _derivedIds : _licenseIds;
            for (uint256 i; i < ids.length; ++i) {
                if (ids[i] == r.subjectId) return i;
            }
        }
        return fallback_;
    }

    /// @dev Claims open against `subject` by the handler's own books (opened, neither refuted
    /// nor executed), independent of the ClaimManager's counters.
    function _ghostOpenOn(uint256 subject, bool lineage) internal view returns (uint256 n) {
        for (uint256 k; k < _claimIds.length; ++k) {
            uint256 id = _claimIds[k];
            ClaimManager.ClaimRecord storage r = _records[id];
            if (r.subjectId != subject || (r.kind == ClaimKind.LINEAGE) != lineage) continue;
            if (!_ghost[id].executed && !_ghost[id].refuted) ++n;
        }
    }

    function _pickLicense(uint256 seed) internal view returns (bool, uint256) {
        if (_licenseIds.length == 0) return (false, 0);
        return (true, _licenseIds[seed % _licenseIds.length]);
    }

    function _pickDerived(uint256 seed) internal view returns (bool, uint256) {
        if (_derivedIds.length == 0) return (false, 0);
        return (true, _derivedIds[seed % _derivedIds.length]);
    }

    /// @dev The first claim from a random start with `status` (refutable and in its window when asked).
    function _pickClaim(uint256 seed, ClaimManager.ClaimStatus status, bool refutable)
        internal
        view
        returns (bool, uint256)
    {
        uint256 n = _claimIds.length;
        if (n == 0) return (false, 0);
        uint256 start = seed % n;
        for (uint256 k; k < n; ++k) {
            uint256 id = _claimIds[(start + k) % n];
            if (claims.claimStatus(id) != status) continue;
            if (refutable) {
                ClaimKind kind = _records[id].kind;
                if (kind != ClaimKind.UNPERMITTED_USE && kind != ClaimKind.LEAK) continue;
                if (block.timestamp >= _records[id].deadline) continue;
            }
            return (true, id);
        }
        return (false, 0);
    }

    function _licenseInput(ClaimManager.ClaimInput memory c, uint256 subjectSeed, uint256 leafSeed, bool anyLeaf)
        internal
        view
        returns (bool)
    {
        (bool ok, uint256 id) = _pickLicense(subjectSeed);
        if (!ok) return false;
        LicenseStatus st = licenses.getLicense(id).status;
        if (st != LicenseStatus.Active && st != LicenseStatus.Exiting) return false;
        c.subjectId = id;
        if (c.kind == ClaimKind.ALIGNMENT_BREACH) return true;
        bytes32[] memory ls = _licenseLeaves(id);
        // The first leaf from a random one that is neither under claim nor spent (unless anyLeaf).
        for (uint256 k; k < LICENSE_LEAVES; ++k) {
            uint256 j = (leafSeed + k) % LICENSE_LEAVES;
            if (!anyLeaf && claims.claimOfLeaf(ls[j]) != 0) continue;
            (c.queryHash, c.responseHash, c.salt) = _licenseTriple(id, j);
            c.proof = TestMerkle.proof(ls, ls[j]);
            return true;
        }
        return false;
    }

    function _lineageInput(ClaimManager.ClaimInput memory c, uint256 subjectSeed, uint256 leafSeed, bool anyLeaf)
        internal
        view
        returns (bool)
    {
        (bool ok, uint256 d) = _pickDerived(subjectSeed);
        if (!ok) return false;
        (,, uint96 stake,,) = registry.modelInfo(d);
        if (stake == 0) return false;
        c.subjectId = d;
        c.familyId = familyId;
        bytes32[] memory ls = _lineageLeaves();
        for (uint256 k; k < LINEAGE_LEAVES; ++k) {
            uint256 j = (leafSeed + k) % LINEAGE_LEAVES;
            if (!anyLeaf && claims.claimOfLeaf(ls[j]) != 0) continue;
            (c.queryHash, c.responseHash, c.salt) = _lineageTriple(j);
            c.proof = TestMerkle.proof(ls, ls[j]);
            return true;
        }
        return false;
    }

    /// @dev A random set of active verifiers at least a quorum large, in address order; empty if
    /// the active set cannot form a quorum.
    function _quorumSubset(uint256 seed) internal view returns (uint256[] memory pks) {
        uint256 n;
        uint256[] memory active = new uint256[](_verifierPks.length);
        for (uint256 i; i < _verifierPks.length; ++i) {
            if (verifiers.isActive(vm.addr(_verifierPks[i]))) active[n++] = _verifierPks[i];
        }
        uint256 q = verifiers.quorum();
        if (n < q) return new uint256[](0);
        uint256 count = q + seed % (n - q + 1);
        // Drop random members until `count` remain.
        while (n > count) {
            uint256 drop = uint256(keccak256(abi.encode(seed, n))) % n;
            active[drop] = active[n - 1];
            --n;
        }
        pks = new uint256[](count);
        for (uint256 i; i < count; ++i) {
            pks[i] = active[i];
        }
        for (uint256 i; i < count; ++i) {
            for (uint256 j = i + 1; j < count; ++j) {
                if (vm.addr(pks[j]) < vm.addr(pks[i])) (pks[i], pks[j]) = (pks[j], pks[i]);
            }
        }
    }

    /// @dev The record openClaim must store, from the stake holders' views, and the stake it snapshots.
    function _recordFor(ClaimManager.ClaimInput memory c, address by, address[] memory att)
        internal
        view
        returns (ClaimManager.ClaimRecord memory r, uint256 stake)
    {
        r.kind = c.kind;
        r.subjectId = c.subjectId;
        r.claimant = by;
        uint32 version;
        if (c.kind == ClaimKind.LINEAGE) {
            (stake,, version, r.accused) = registry.lineageClaimInfo(c.subjectId, c.familyId);
            r.modelId = c.familyId;
        } else {
            (r.modelId, version, stake,, r.accused) = licenses.claimInfo(c.subjectId);
        }
        if (c.kind == ClaimKind.ALIGNMENT_BREACH) {
            r.leaf = c.evidenceHash;
        } else {
            r.queryHash = c.queryHash;
            r.leaf = _leaf(c.queryHash, c.responseHash, c.salt);
        }
        Terms memory t = registry.terms(r.modelId, version);
        r.bond = t.claimBond;
        r.slashAmount = stake * t.slashBps / 10_000;
        r.reward = r.slashAmount * t.claimantRewardBps / 10_000;
        r.deadline = uint64(block.timestamp + t.challengeWindow);
        r.attestersHash = keccak256(abi.encodePacked(att));
    }

    function _subjectStake(ClaimManager.ClaimRecord memory r) internal view returns (uint256 stake) {
        if (r.kind == ClaimKind.LINEAGE) {
            (,, stake,,) = registry.modelInfo(r.subjectId);
        } else {
            stake = licenses.getLicense(r.subjectId).stake;
        }
    }

    function _licenseLeaves(uint256 id) internal pure returns (bytes32[] memory ls) {
        ls = new bytes32[](LICENSE_LEAVES);
        for (uint256 k; k < LICENSE_LEAVES; ++k) {
            (bytes32 q, bytes32 r, bytes32 s) = _licenseTriple(id, k);
            ls[k] = _leaf(q, r, s);
        }
    }

    function _lineageLeaves() internal pure returns (bytes32[] memory ls) {
        ls = new bytes32[](LINEAGE_LEAVES);
        for (uint256 k; k < LINEAGE_LEAVES; ++k) {
            (bytes32 q, bytes32 r, bytes32 s) = _lineageTriple(k);
            ls[k] = _leaf(q, r, s);
        }
    }

    function _licenseTriple(uint256 id, uint256 i) internal pure returns (bytes32, bytes32, bytes32) {
        return (keccak256(abi.encode("q", id, i)), keccak256(abi.encode("r", id, i)), keccak256(abi.encode("s", id, i)));
    }

    function _lineageTriple(uint256 i) internal pure returns (bytes32, bytes32, bytes32) {
        return (keccak256(abi.encode("lq", i)), keccak256(abi.encode("lr", i)), keccak256(abi.encode("ls", i)));
    }

    function _leaf(bytes32 q, bytes32 r, bytes32 s) internal pure returns (bytes32) {
        return keccak256(bytes.concat(keccak256(abi.encode(q, r, s))));
    }

    function _sign(uint256 pk, bytes32 digest) internal pure returns (bytes memory) {
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(pk, digest);
        return abi.encodePacked(r, s, v);
    }

    function _kindName(ClaimKind k) internal pure returns (bytes32) {
        if (k == ClaimKind.UNPERMITTED_USE) return "open.UNPERMITTED_USE";
        if (k == ClaimKind.LEAK) return "open.LEAK";
        if (k == ClaimKind.LINEAGE) return "open.LINEAGE";
        return "open.ALIGNMENT_BREACH";
    }
}
