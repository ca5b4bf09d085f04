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
/// escrow, vouchers, claims of every kind with valid stake quorums and (UNPERMITTED_USE) the
/// accused gateway's receipts, refutations with σ issued before the answer, executions,
/// penalties, exits and withdrawals, verifier churn (join, add stake, activate after the delay,
/// leave, withdraw), permission signer rotations and revocations, derived models, and time.
///
/// Among the hosts is an honest one: its gateway obtains σ(q) before answering each query (σ
/// issued at or before the answer is served) and receipts every answer. Claimants open claims on
/// its real receipts (and try forged ones), and its watcher refutes every claim against it before
/// the window closes: time never passes a claim's deadline before the honest host has answered
/// it. The invariants then check that it never loses stake whatever else happens.
///
/// Every action picks valid inputs (so few calls are wasted on reverts) and keeps ghost books that
/// the invariants compare with the contracts; attacks that must fail are tried inline and counted
/// when they succeed.
contract ClaimHandler is TestBase {
    struct Ghost {
        uint256 snapshot; // the subject's stake when the claim was opened
        uint256 slashed; // what execute actually took from the subject
        bool executed;
        bool refuted;
    }

    /// @dev One answer the honest host's gateway served: the σ it held first, and its receipt.
    struct Answer {
        uint256 licenseId;
        uint256 leafIndex;
        uint64 servedAt;
        uint64 issuedAt;
        uint64 sequence;
        bytes32 answerHash;
        bytes32 permissionRef;
        bytes sigma;
        bytes receipt;
    }

    uint256 internal constant LICENSE_LEAVES = 4;
    uint256 internal constant LINEAGE_LEAVES = 8;
    uint256 internal constant MAX_LICENSES = 12;
    uint256 internal constant MAX_HONEST = 3;
    uint256 internal constant MAX_ANSWERS = 24;
    uint256 internal constant MAX_DERIVED = 5;
    address public constant HONEST_HOST = address(0x4A0057);
    uint256 internal constant HONEST_GATEWAY_PK = 0x6AA0;
    /// @dev A key that is nobody's gateway: a prover's or owner's, forging receipts.
    uint256 internal constant FORGER_PK = 0xF0F0;

    ModelRegistry public immutable registry;
    LicenseManager public immutable licenses;
    UsageSettlement public immutable usage;
    VerifierRegistry public immutable verifiers;
    ClaimManager public immutable claims;
    address internal immutable _modelAdmin;
    uint256 public immutable modelId;
    uint256 internal immutable _familySignerPk;
    uint32 internal immutable _clockSkew;

    uint256 public familyId;
    uint256 public currentTime;
    uint256 internal _nonce;

    address[] internal _hosts;
    address[] internal _claimants;
    EthRefuser public immutable refuser;
    uint256[] internal _verifierPks;
    /// @dev Keys the model's permission signer rotates among; the first is the fixture's.
    uint256[] internal _signerPks;

    uint256[] internal _licenseIds;
    mapping(uint256 => address) public hostOf;
    mapping(uint256 => uint256) internal _gatewayPkOf;
    uint256[] internal _derivedIds;
    mapping(uint256 => uint256) public retireAt;

    uint256[] internal _claimIds;
    mapping(uint256 => ClaimManager.ClaimRecord) internal _records;
    mapping(uint256 => address[]) internal _attesters;
    mapping(uint256 => Ghost) internal _ghost;

    // The honest host.
    mapping(uint256 => bool) public isHonest;
    uint256[] internal _honestLicenses;
    Answer[] internal _answers;
    mapping(uint256 => uint64) internal _honestSequence;
    /// @dev Claims against an honest license, and the answer each one is about (index + 1).
    uint256[] internal _honestClaimIds;
    mapping(uint256 => uint256) internal _answerOfClaim;
    /// @dev What executed claims took from honest licenses (must stay zero).
    uint256 public honestSlashed;

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
    /// @dev A claim opened although open claims had reserved the whole stake.
    uint256 public overReservations;
    /// @dev A claim opened by attesters holding less than two thirds of the active stake.
    uint256 public subQuorumOpened;
    /// @dev A σ issued after the answer, or before the license, refuted a claim.
    uint256 public lateSigmaAccepted;
    /// @dev A claim against the honest host opened without its genuine receipt.
    uint256 public forgedClaimsOpened;
    /// @dev The honest host's σ failed to refute a claim about its own answer.
    uint256 public honestRefuteFailures;
    /// @dev An attester of a still-open claim took its stake out.
    uint256 public attesterEscapes;
    /// @dev Pending verifier stake counted before its activation delay.
    uint256 public earlyActivations;

    /// @dev Fee books per license, from the vouchers the handler settled: what they owed, what the
    /// escrow paid and what the stake paid. What is neither is UsageSettlement.unpaidFees.
    mapping(uint256 => uint256) public feesOwed;
    mapping(uint256 => uint256) public feesFromEscrow;
    mapping(uint256 => uint256) public feesFromStake;
    /// @dev A settle that paid other than escrow first, then stake, then recorded the rest unpaid.
    uint256 public feeViolations;

    /// @dev The claim holding each leaf by the handler's books: set on open (a leaf stays spent).
    mapping(bytes32 => uint256) internal _keyHolder;
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
        _familySignerPk = signerPk_;
        _modelAdmin = modelAdmin_;
        modelId = modelId_;
        (_clockSkew,,) = claims_.config();
        currentTime = block.timestamp;
        for (uint256 i; i < verifierPks_.length; ++i) {
            _verifierPks.push(verifierPks_[i]);
        }
        for (uint256 i; i < 4; ++i) {
            _verifierPks.push(0xB1 + i); // not yet joined
        }
        _signerPks.push(signerPk_);
        for (uint256 i; i < 3; ++i) {
            _signerPks.push(0x51A0 + i);
        }
        for (uint256 i; i < 3; ++i) {
            _hosts.push(address(uint160(0x4000 + i)));
        }
        _claimants.push(address(0xC1000));
        _claimants.push(address(0xC2000));
        refuser = new EthRefuser();
        _claimants.push(address(refuser));
    }

    /// @dev Registers the family model whose lineage root LINEAGE claims prove against, a first
    /// derived model, and the honest host's first license. Called once by the test's setUp.
    function setUpScenario() external {
        bytes32[] memory ls = new bytes32[](LINEAGE_LEAVES);
        for (uint256 i; i < LINEAGE_LEAVES; ++i) {
            (bytes32 q, bytes32 r, bytes32 s) = _lineageTriple(i);
            ls[i] = _leaf(q, r, s);
        }
        (, Terms memory t,) = registry.currentTerms(modelId);
        t.claimBond = 2 ether;
        t.challengeWindow = 36 hours; // below the verifiers' activation delay (2 days)
        t.unbondingPeriod = 8 days;
        t.slashBps = 7_500;
        t.claimantRewardBps = 9_000;
        address[] memory o = new address[](2);
        o[0] = address(0xF0001);
        o[1] = address(0xF0002);
        uint256[] memory sh = new uint256[](2);
        sh[0] = 2;
        sh[1] = 5;
        vm.prank(address(0xFA111));
        familyId = registry.registerModel(o, sh, vm.addr(_familySignerPk), t, TestMerkle.root(ls), keccak256("family"));
        _setTime(currentTime + 1); // a family accuses only models registered after its root
        _registerDerived();
        _acquire(HONEST_HOST, HONEST_GATEWAY_PK, 20 ether);
        isHonest[_licenseIds[_licenseIds.length - 1]] = true;
        _honestLicenses.push(_licenseIds[_licenseIds.length - 1]);
    }

    // ============================================================ licenses

    function acquireLicense(uint256 hostSeed, uint256 stakeSeed) external useTime("acquireLicense") {
        if (_licenseIds.length - _honestLicenses.length >= MAX_LICENSES) return;
        uint256 i = hostSeed % _hosts.length;
        (, Terms memory t,) = registry.currentTerms(modelId);
        _acquire(_hosts[i], 0x6A00 + i + 1, bound(stakeSeed, t.minStake, 5 * uint256(t.minStake)));
    }

    function addStake(uint256 licSeed, uint256 amount) external useTime("addStake") {
        (bool ok, uint256 id) = _pickLicense(licSeed);
        if (!ok || !_live(id)) return;
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

    /// @dev The permission service closes an exiting license's usage account over what was settled.
    function closeUsage(uint256 licSeed) external useTime("closeUsage") {
        (bool ok, uint256 id) = _pickLicense(licSeed);
        if (!ok || usage.accountClosed(id)) return;
        LicenseStatus st = licenses.getLicense(id).status;
        if (st != LicenseStatus.Exiting && st != LicenseStatus.Exited) return;
        (uint64 q,,) = usage.account(id);
        bytes32 digest = keccak256(
            abi.encodePacked(
                hex"1901", usage.domainSeparator(), keccak256(abi.encode(usage.USAGE_CLOSURE_TYPEHASH(), id, q))
            )
        );
        usage.close(id, q, _sign(_currentSignerPk(), digest));
        ++calls["closeUsage.ok"];
    }

    /// @dev Tries to withdraw whatever the license's state; a success must meet every condition.
    function withdraw(uint256 licSeed, uint256 waitSeed) external useTime("withdraw") {
        (bool ok, uint256 id) = _pickLicense(licSeed);
        if (!ok) return;
        LicenseManager.License memory l = licenses.getLicense(id);
        if (waitSeed % 2 == 0 && l.status == LicenseStatus.Exiting && currentTime < l.unbondAt) {
            _setTime(l.unbondAt);
        }
        bool allowed = l.status == LicenseStatus.Exiting && block.timestamp >= l.unbondAt
            && _ghostOpenOn(id, false) == 0 && (usage.accountClosed(id) || block.timestamp >= _fallbackAt(l));
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

    // ======================================================= permission signer

    /// @dev The admin proposes a signer from the pool (the current one included); it takes over
    /// after the rotation delay.
    function rotateSigner(uint256 seed) external useTime("rotateSigner") {
        vm.prank(_modelAdmin);
        registry.proposeSigner(modelId, vm.addr(_signerPks[seed % _signerPks.length]));
    }

    /// @dev The admin revokes the signer in force at once (a leaked key, or a greedy admin trying
    /// to void the σ an honest host holds).
    function revokeSigner(uint256 seed) external useTime("revokeSigner") {
        address current = registry.permissionSigner(modelId);
        address next = vm.addr(_signerPks[seed % _signerPks.length]);
        if (next == current) next = vm.addr(_signerPks[(seed % _signerPks.length + 1) % _signerPks.length]);
        vm.prank(_modelAdmin);
        registry.revokeSigner(modelId, next);
    }

    // ================================================================ usage

    function depositEscrow(uint256 licSeed, uint256 amount) external useTime("depositEscrow") {
        (bool ok, uint256 id) = _pickLicense(licSeed);
        if (!ok || !_live(id)) return;
        amount = bound(amount, 1, 5 ether);
        address h = hostOf[id];
        vm.deal(h, h.balance + amount);
        vm.prank(h);
        usage.depositEscrow{value: amount}(id);
    }

    /// @dev A voucher for the license's next usage. The honest host's fees stay within its escrow
    /// (the permission service refuses σ beyond it); other hosts' vouchers may owe more than the
    /// escrow, even more than escrow and stake together: the escrow pays first, the stake the
    /// rest, and only what the stake lacks is left unpaid (the voucher settles regardless).
    function settle(uint256 licSeed, uint256 queriesSeed, uint256 feeSeed) external useTime("settle") {
        (bool ok, uint256 id) = _pickLicense(licSeed);
        if (!ok || usage.accountClosed(id)) return; // the signer issues nothing after closing
        (uint64 q, uint256 fee, uint256 escrow) = usage.account(id);
        uint256 stake = licenses.getLicense(id).stake;
        uint64 queries = q + uint64(bound(queriesSeed, 1, 1_000));
        uint256 due = _due(feeSeed, escrow, isHonest[id] ? 0 : stake);
        bytes32 root = keccak256(abi.encode("usage", id, queries));
        bytes32 digest = keccak256(
            abi.encodePacked(
                hex"1901",
                usage.domainSeparator(),
                keccak256(abi.encode(usage.USAGE_VOUCHER_TYPEHASH(), id, queries, fee + due, root))
            )
        );
        uint256 accrued = usage.accruedRevenue(modelId);
        uint256 unpaidBefore = usage.unpaidFees(id);
        usage.settle(id, queries, fee + due, root, _sign(_currentSignerPk(), digest));
        _bookFees(id, due, escrow, stake, accrued, unpaidBefore);
    }

    /// @dev A voucher's new fees: within the escrow, into the stake, or beyond both (a quarter of
    /// the time each), or anything up to that. `stake` 0: within the escrow only.
    function _due(uint256 seed, uint256 escrow, uint256 stake) internal pure returns (uint256) {
        uint256 mode = stake == 0 ? 0 : _rand(seed, "fee mode") % 4;
        if (mode == 0) return bound(seed, 0, escrow);
        if (mode == 1) return bound(seed, escrow + 1, escrow + stake);
        if (mode == 2) return bound(seed, escrow + stake + 1, escrow + stake + 5 ether);
        return bound(seed, 0, escrow + stake + 5 ether);
    }

    /// @dev Checks a settle that owed `due` against `escrow` and `stake` as they were, and books it.
    function _bookFees(uint256 id, uint256 due, uint256 escrow, uint256 stake, uint256 accrued, uint256 unpaidBefore)
        internal
    {
        uint256 fromEscrow = due < escrow ? due : escrow;
        uint256 rest = due - fromEscrow;
        uint256 fromStake = rest < stake ? rest : stake;
        uint256 unpaid = rest - fromStake;
        (,, uint256 escrowAfter) = usage.account(id);
        uint256 stakeAfter = licenses.getLicense(id).stake;
        if (escrowAfter != escrow - fromEscrow) ++feeViolations;
        if (stakeAfter != stake - fromStake) ++feeViolations;
        if (usage.accruedRevenue(modelId) != accrued + fromEscrow + fromStake) ++feeViolations;
        if (usage.unpaidFees(id) != unpaidBefore + unpaid) ++feeViolations;
        // A shortfall only once the stake is gone: everything that existed went to the owners.
        if (usage.unpaidFees(id) != unpaidBefore && stakeAfter != 0) ++feeViolations;
        if (fromStake != 0) ++calls["settle.fromStake"];
        if (unpaid != 0) ++calls["settle.shortfall"];
        feesOwed[id] += due;
        feesFromEscrow[id] += fromEscrow;
        feesFromStake[id] += fromStake;
        expectedLicenseStake[id] -= fromStake;
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

    /// @dev A claim of any kind against a license of a non-honest host or a derived model, with
    /// a valid quorum (one time in eight, one attester short of it: that one must be refused).
    function openClaim(uint256 subjectSeed, uint256 leafSeed, uint256 kindSeed, uint256 who, uint256 attSeed)
        external
        useTime("openClaim")
    {
        (bool ok, ClaimManager.ClaimInput memory c) = _buildInput(subjectSeed, leafSeed, kindSeed);
        if (!ok) return;
        address by = _claimants[who % _claimants.length];
        if (attSeed % 8 == 7) {
            _openShortOfQuorum(c, by, attSeed);
            return;
        }
        uint256[] memory pks = _quorumSubset(attSeed, false);
        if (pks.length == 0) return;
        _open(c, by, pks);
    }

    function _buildInput(uint256 subjectSeed, uint256 leafSeed, uint256 kindSeed)
        internal
        returns (bool ok, ClaimManager.ClaimInput memory c)
    {
        c.kind = ClaimKind(kindSeed % 5);
        // Half the time, pile onto the subject of the latest claim of the same family (license or
        // model): several claims on one stake is where reservations fill up.
        if (_rand(kindSeed, "pile") % 2 == 0) {
            subjectSeed = _latestSubjectIndex(c.kind == ClaimKind.LINEAGE, subjectSeed);
        }
        c.evidenceHash = keccak256(abi.encode("evidence", ++_nonce));
        // A quarter of the time, take the leaf whatever its state: the contract must refuse a
        // leaf under claim or spent.
        bool anyLeaf = _rand(leafSeed, "anyLeaf") % 4 == 0;
        ok = c.kind == ClaimKind.LINEAGE
            ? _lineageInput(c, subjectSeed, leafSeed, anyLeaf)
            : _licenseInput(c, subjectSeed, leafSeed, anyLeaf);
        if (ok) ok = _answer(c, _rand(kindSeed, "served"));
    }

    /// @dev When the answer was served (between the license's start and a clock skew ago) and,
    /// for UNPERMITTED_USE, the accused gateway's receipt of it (served without σ: a cheater).
    function _answer(ClaimManager.ClaimInput memory c, uint256 seed) internal view returns (bool) {
        uint256 latest = block.timestamp - _clockSkew;
        uint256 start =
            c.kind == ClaimKind.LINEAGE ? latest - (latest > 3 days ? 3 days : latest) : _licenseStart(c.subjectId);
        if (latest < start) return false;
        c.servedAt = uint64(start + seed % (latest - start + 1));
        if (c.kind != ClaimKind.UNPERMITTED_USE) return true;
        c.answerHash = keccak256(abi.encode("answer", c.queryHash, c.servedAt));
        c.receiptPermission = _rand(seed, "sigma") % 2 == 0 ? bytes32(0) : keccak256(abi.encode("a sigma", seed));
        c.receipt = _sign(
            _gatewayPkOf[c.subjectId],
            claims.receiptDigest(c.subjectId, c.queryHash, c.answerHash, c.servedAt, c.receiptPermission)
        );
        return true;
    }

    /// @dev Opens `c` with the attestations of `pks`; the contract must refuse exactly when the
    /// leaf is held or nothing is left of the stake to reserve.
    function _open(ClaimManager.ClaimInput memory c, address by, uint256[] memory pks)
        internal
        returns (bool opened, uint256 id)
    {
        address[] memory att = _addresses(pks);
        (ClaimManager.ClaimRecord memory r, uint256 snapshot) = _recordFor(c, by, att);
        bytes[] memory sigs = _attest(c, r.leaf, by, pks);
        uint256 holder = _keyHolder[offenceKey(r)];
        vm.deal(by, by.balance + r.bond);
        vm.prank(by);
        try claims.openClaim{value: r.bond}(c, sigs) returns (uint256 newId) {
            if (holder != 0) ++leafReuseViolations;
            if (r.slashAmount == 0) ++overReservations;
            _recordOpened(newId, c, sigs, r, att, snapshot);
            return (true, newId);
        } catch {
            ++calls["open.refused"];
            if (holder == 0 && r.slashAmount != 0) ++unexpectedOpenRefusals;
            if (r.slashAmount == 0) ++calls["open.nothingLeft"];
        }
    }

    /// @dev Attesters one short of two thirds of the active stake: the claim must not open.
    function _openShortOfQuorum(ClaimManager.ClaimInput memory c, address by, uint256 seed) internal {
        uint256[] memory pks = _quorumSubset(seed, true);
        (ClaimManager.ClaimRecord memory r,) = _recordFor(c, by, _addresses(pks));
        bytes[] memory sigs = _attest(c, r.leaf, by, pks);
        vm.deal(by, by.balance + r.bond);
        vm.prank(by);
        try claims.openClaim{value: r.bond}(c, sigs) returns (uint256 id) {
            ++subQuorumOpened;
            _recordOpened(id, c, sigs, r, _addresses(pks), 0);
        } catch {
            ++calls["open.shortOfQuorum"];
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
        _keyHolder[offenceKey(r)] = id;
        _openCall[id] = abi.encodeCall(ClaimManager.openClaim, (c, sigs));
        _claimIds.push(id);
        _records[id] = r;
        _attesters[id] = att;
        _ghost[id].snapshot = snapshot;
        ++calls[_kindName(c.kind)];
    }

    /// @dev Refutes an open UNPERMITTED_USE or LEAK claim (not the honest host's: it refutes its
    /// own) within its window with a σ from the signer in force, issued no later than the answer
    /// and no earlier than the license. First tries a σ issued after the answer and one issued
    /// before the license: both must be refused.
    function refute(uint256 claimSeed, uint256 callerSeed, uint64 seq) external useTime("refute") {
        (bool ok, uint256 id) = _pickClaim(claimSeed, ClaimManager.ClaimStatus.Open, true);
        if (!ok) return;
        ClaimManager.ClaimRecord memory r = _records[id];
        uint256 pk = _currentSignerPk();
        address caller = callerSeed % 2 == 0 ? r.accused : address(uint160(0xCAFE0000 + callerSeed % 1000));
        if (callerSeed % 3 == 0) {
            // The attack of issue 13: σ bought after the answer (or before the license) clears nothing.
            uint64 bad = _rand(callerSeed, "late") % 2 == 0 || r.notBefore == 0
                ? r.servedAt + 1 + uint64(callerSeed % 1 days)
                : r.notBefore - 1;
            bytes memory late = _sign(pk, claims.permissionDigest(r.subjectId, r.queryHash, seq, bad));
            vm.prank(caller);
            try claims.refute(id, r, seq, bad, late) {
                ++lateSigmaAccepted;
                _ghost[id].refuted = true;
                return;
            } catch {
                ++calls["refute.lateRefused"];
            }
        }
        uint256 span = r.servedAt - r.notBefore;
        uint64 issuedAt = r.servedAt - uint64(bound(_rand(callerSeed, "lead"), 0, span < 1 days ? span : 1 days));
        bytes memory sigma = _sign(pk, claims.permissionDigest(r.subjectId, r.queryHash, seq, issuedAt));
        uint256 stakeBefore = _subjectStake(r);
        uint256 accusedBefore = r.accused.balance + claims.owedTo(r.accused);
        vm.prank(caller);
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
            // The honest host's watcher refuted its claims before the window closed.
            if (claims.claimStatus(id) != ClaimManager.ClaimStatus.Open) return;
        }
        uint256 stakeBefore = _subjectStake(r);
        uint256 claimantBefore = r.claimant.balance + claims.owedTo(r.claimant);
        uint256 accruedBefore = usage.accruedRevenue(r.modelId);
        vm.prank(address(uint160(0xE0000 + claimSeed % 1000)));
        claims.execute(id, r);
        uint256 slashed = stakeBefore - _subjectStake(r);
        _ghost[id].slashed = slashed;
        _ghost[id].executed = true;
        if (r.kind == ClaimKind.LINEAGE) {
            expectedRegistrationStake[r.subjectId] -= slashed;
        } else {
            expectedLicenseStake[r.subjectId] -= slashed;
            if (isHonest[r.subjectId]) honestSlashed += slashed;
        }
        uint256 reward = r.reward < slashed ? r.reward : slashed;
        if (slashed < r.slashAmount) ++calls["execute.capped"];
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
            uint256 id = _claimIds[(claimSeed % n + k) % n];
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

    // =========================================================== honest host

    function honestAcquire(uint256 stakeSeed) external useTime("honestAcquire") {
        if (_honestLicenses.length >= MAX_HONEST) return;
        (, Terms memory t,) = registry.currentTerms(modelId);
        uint256 id = _acquire(HONEST_HOST, HONEST_GATEWAY_PK, bound(stakeSeed, t.minStake, 5 * uint256(t.minStake)));
        isHonest[id] = true;
        _honestLicenses.push(id);
    }

    /// @dev The honest gateway answers a fingerprint query (a prover's probe): it first obtains
    /// σ(q) from the signer in force, issued up to ten minutes (at least a second) before the
    /// answer, then serves and receipts the answer with the σ's reference.
    function honestServe(uint256 licSeed, uint256 leafSeed, uint256 leadSeed) external useTime("honestServe") {
        if (_honestLicenses.length == 0 || _answers.length >= MAX_ANSWERS) return;
        uint256 id = _honestLicenses[licSeed % _honestLicenses.length];
        if (!_live(id)) return;
        uint256 start = _licenseStart(id);
        if (block.timestamp < start + 1) return;
        uint256 maxLead = block.timestamp - start < 10 minutes ? block.timestamp - start : 10 minutes;
        Answer storage a = _answers.push();
        a.licenseId = id;
        a.leafIndex = leafSeed % LICENSE_LEAVES;
        a.servedAt = uint64(block.timestamp);
        a.issuedAt = uint64(block.timestamp - bound(leadSeed, 1, maxLead));
        a.sequence = ++_honestSequence[id];
        (bytes32 q,,) = _licenseTriple(id, a.leafIndex);
        a.sigma = _sign(_currentSignerPk(), claims.permissionDigest(id, q, a.sequence, a.issuedAt));
        a.permissionRef = keccak256(a.sigma);
        a.answerHash = keccak256(abi.encode("honest answer", id, a.leafIndex, a.servedAt));
        a.receipt = _sign(HONEST_GATEWAY_PK, claims.receiptDigest(id, q, a.answerHash, a.servedAt, a.permissionRef));
    }

    /// @dev A claimant (the owners' prover, say) accuses the honest host on one of its real
    /// answers, with a valid quorum: genuine receipt (it will be refuted), or forged: no receipt,
    /// a receipt by another key, the answer moved before its σ, or another answer. Forged ones
    /// must be refused.
    function claimHonest(uint256 answerSeed, uint256 who, uint256 attSeed, uint256 forgeSeed)
        external
        useTime("claimHonest")
    {
        if (_answers.length == 0) return;
        uint256 index = answerSeed % _answers.length;
        Answer memory a = _answers[index];
        (bytes32[] memory ls, ClaimManager.ClaimInput memory c) = _honestInput(a);
        if (claims.claimOf(_queryKey(false, a.licenseId, 0, c.queryHash)) != 0) return;
        LicenseStatus st = licenses.getLicense(a.licenseId).status;
        if (st != LicenseStatus.Active && st != LicenseStatus.Exiting) return;
        if (block.timestamp < a.servedAt + _clockSkew) _setTime(a.servedAt + _clockSkew);
        uint256[] memory pks = _quorumSubset(attSeed, false);
        if (pks.length == 0) return;
        address by = _claimants[who % _claimants.length];
        uint256 mode = forgeSeed % 5;
        if (mode == 4) {
            // Verifiers misled (the owners' permission service told them no σ was issued) observe
            // the answer themselves and attest it as OBSERVED_USE, at a time no earlier than it
            // was served: the host's σ must still refute it.
            c.kind = ClaimKind.OBSERVED_USE;
            c.servedAt = a.servedAt + uint64(bound(forgeSeed, 0, 1 hours));
            c.answerHash = bytes32(0);
            c.receiptPermission = bytes32(0);
            c.receipt = "";
            if (block.timestamp < c.servedAt + _clockSkew) _setTime(c.servedAt + _clockSkew);
            mode = 0;
        }
        if (mode == 0) {
            (bool opened, uint256 id) = _open(c, by, pks);
            if (opened) {
                _honestClaimIds.push(id);
                _answerOfClaim[id] = index + 1;
                ++calls["claimHonest.opened"];
            }
            return;
        }
        if (mode == 1) {
            c.receipt = _rand(forgeSeed, "receipt") % 2 == 0
                ? bytes("")
                : _sign(
                    FORGER_PK,
                    claims.receiptDigest(a.licenseId, c.queryHash, c.answerHash, c.servedAt, c.receiptPermission)
                );
        } else if (mode == 2) {
            c.servedAt = a.issuedAt - 1; // "served before its σ": the σ would no longer refute
        } else {
            c.answerHash = keccak256(abi.encode("an answer it never gave", forgeSeed));
        }
        _openForged(c, by, pks, index);
    }

    /// @dev The honest host refutes an open claim against it with the σ it held when it answered.
    function honestRefute(uint256 claimSeed) external useTime("honestRefute") {
        uint256 n = _honestClaimIds.length;
        for (uint256 k; k < n; ++k) {
            uint256 id = _honestClaimIds[(claimSeed % n + k) % n];
            if (claims.claimStatus(id) != ClaimManager.ClaimStatus.Open) continue;
            _honestRefute(id);
            return;
        }
    }

    // ============================================================ verifiers

    function verifierJoin(uint256 seed, uint256 amount) external useTime("verifierJoin") {
        (bool ok, address v) = _pickVerifier(seed, false);
        if (!ok) return;
        (,,, VerifierRegistry.Status status) = verifiers.verifierInfo(v);
        if (status != VerifierRegistry.Status.None) return;
        (uint96 minStake,,,) = verifiers.config();
        amount = bound(amount, minStake, 8 * uint256(minStake));
        vm.deal(v, v.balance + amount);
        vm.prank(v);
        verifiers.join{value: amount}();
    }

    function verifierAddStake(uint256 seed, uint256 amount) external useTime("verifierAddStake") {
        address v = vm.addr(_verifierPks[seed % _verifierPks.length]);
        (,,, VerifierRegistry.Status status) = verifiers.verifierInfo(v);
        if (status != VerifierRegistry.Status.Active && status != VerifierRegistry.Status.Joining) return;
        amount = bound(amount, 1, 4 ether);
        vm.deal(v, v.balance + amount);
        vm.prank(v);
        verifiers.addStake{value: amount}();
    }

    /// @dev Anyone activates a verifier's pending stake once its delay has passed (waiting for
    /// it when `wait`). It must go through exactly then.
    function verifierActivate(uint256 seed, bool wait) external useTime("verifierActivate") {
        (bool ok, address v) = _pickVerifier(seed, true);
        if (!ok) return;
        (, uint256 pending, uint256 readyAt, VerifierRegistry.Status status) = verifiers.verifierInfo(v);
        if (pending == 0 || (status != VerifierRegistry.Status.Active && status != VerifierRegistry.Status.Joining)) {
            return;
        }
        if (block.timestamp < readyAt) {
            if (!wait) {
                // Too early: stake arriving after a claim was seen must not count in it.
                try verifiers.activate(v) {
                    ++earlyActivations;
                } catch {
                    ++calls["verifierActivate.early"];
                }
                return;
            }
            _setTime(readyAt);
        }
        uint256 activeBefore = verifiers.activeStake();
        verifiers.activate(v);
        if (verifiers.activeStake() != activeBefore + pending) ++payoutMismatches;
    }

    function verifierLeave(uint256 seed) external useTime("verifierLeave") {
        address v = vm.addr(_verifierPks[seed % _verifierPks.length]);
        (,,, VerifierRegistry.Status status) = verifiers.verifierInfo(v);
        if (status != VerifierRegistry.Status.Active && status != VerifierRegistry.Status.Joining) return;
        vm.prank(v);
        verifiers.requestLeave();
    }

    /// @dev Tries to withdraw whatever the verifier's state; a success must meet every condition,
    /// and never free the stake of an attester whose claim is still open.
    function verifierWithdraw(uint256 seed, uint256 waitSeed) external useTime("verifierWithdraw") {
        // Mostly a leaving verifier (the one that can withdraw), sometimes anyone.
        address v = vm.addr(_verifierPks[seed % _verifierPks.length]);
        for (uint256 k; k < _verifierPks.length && waitSeed % 4 != 3; ++k) {
            address w = vm.addr(_verifierPks[(seed % _verifierPks.length + k) % _verifierPks.length]);
            (,,, VerifierRegistry.Status st) = verifiers.verifierInfo(w);
            if (st == VerifierRegistry.Status.Leaving) {
                v = w;
                break;
            }
        }
        (uint256 stake,, uint256 unbondAt, VerifierRegistry.Status status) = verifiers.verifierInfo(v);
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
            if (_attestsOpenClaim(v)) ++attesterEscapes;
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

    function honestLicenseIds() external view returns (uint256[] memory) {
        return _honestLicenses;
    }

    function honestClaimIds() external view returns (uint256[] memory) {
        return _honestClaimIds;
    }

    function answerCount() external view returns (uint256) {
        return _answers.length;
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

    /// @dev Moves time forward; the honest host's watcher first refutes every claim against it
    /// whose window would close by then (it never misses one: downtime is not modelled here).
    function _setTime(uint256 t) internal {
        for (uint256 k; k < _honestClaimIds.length; ++k) {
            uint256 id = _honestClaimIds[k];
            if (claims.claimStatus(id) == ClaimManager.ClaimStatus.Open && _records[id].deadline <= t) {
                _honestRefute(id);
            }
        }
        currentTime = t;
        vm.warp(t);
    }

    function _honestRefute(uint256 id) internal {
        Answer memory a = _answers[_answerOfClaim[id] - 1];
        ClaimManager.ClaimRecord memory r = _records[id];
        uint256 stakeBefore = _subjectStake(r);
        uint256 accusedBefore = r.accused.balance + claims.owedTo(r.accused);
        vm.prank(HONEST_HOST);
        try claims.refute(id, r, a.sequence, a.issuedAt, a.sigma) {
            ++calls["honestRefute.ok"];
            _ghost[id].refuted = true;
            if (_subjectStake(r) != stakeBefore) ++refuteStakeChanges;
            if (r.accused.balance + claims.owedTo(r.accused) != accusedBefore + r.bond) ++payoutMismatches;
        } catch {
            ++honestRefuteFailures;
        }
    }

    /// @dev The honest license's claim input for answer `a`, as its real receipt supports it.
    function _honestInput(Answer memory a)
        internal
        pure
        returns (bytes32[] memory ls, ClaimManager.ClaimInput memory c)
    {
        ls = _licenseLeaves(a.licenseId);
        c.kind = ClaimKind.UNPERMITTED_USE;
        c.subjectId = a.licenseId;
        (c.queryHash, c.responseHash, c.salt) = _licenseTriple(a.licenseId, a.leafIndex);
        c.proof = TestMerkle.proof(ls, ls[a.leafIndex]);
        c.evidenceHash = keccak256(abi.encode("honest transcript", a.licenseId, a.leafIndex, a.servedAt));
        c.servedAt = a.servedAt;
        c.answerHash = a.answerHash;
        c.receiptPermission = a.permissionRef;
        c.receipt = a.receipt;
    }

    /// @dev A forged claim against the honest host: a violation if it opens. Tracked like a
    /// genuine one if it does, so that the stake invariants see what it would cost.
    function _openForged(ClaimManager.ClaimInput memory c, address by, uint256[] memory pks, uint256 index) internal {
        address[] memory att = _addresses(pks);
        (ClaimManager.ClaimRecord memory r, uint256 snapshot) = _recordFor(c, by, att);
        bytes[] memory sigs = _attest(c, r.leaf, by, pks);
        vm.deal(by, by.balance + r.bond);
        vm.prank(by);
        try claims.openClaim{value: r.bond}(c, sigs) returns (uint256 id) {
            ++forgedClaimsOpened;
            _recordOpened(id, c, sigs, r, att, snapshot);
            _honestClaimIds.push(id);
            _answerOfClaim[id] = index + 1;
        } catch {
            ++calls["claimHonest.forgedRefused"];
        }
    }

    function _acquire(address h, uint256 gatewayPk, uint256 stake) internal returns (uint256 id) {
        (,, bytes32 th) = registry.currentTerms(modelId);
        vm.deal(h, h.balance + stake);
        vm.prank(h);
        id = licenses.acquireLicense{value: stake}(modelId, "https://h.example/v1", th, vm.addr(gatewayPk));
        vm.prank(_modelAdmin);
        licenses.setFingerprintCommitment(id, TestMerkle.root(_licenseLeaves(id)), keccak256(abi.encode("w", id)));
        _licenseIds.push(id);
        hostOf[id] = h;
        _gatewayPkOf[id] = gatewayPk;
        expectedLicenseStake[id] = stake;
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
            modelId, o, sh, vm.addr(_familySignerPk), pt, bytes32(0), keccak256(abi.encode("derived", a))
        );
        _derivedIds.push(d);
        expectedRegistrationStake[d] = pt.registrationStake;
    }

    /// @dev The key of the model's permission signer in force now.
    function _currentSignerPk() internal view returns (uint256) {
        address current = registry.permissionSigner(modelId);
        for (uint256 i; i < _signerPks.length; ++i) {
            if (vm.addr(_signerPks[i]) == current) return _signerPks[i];
        }
        revert("ClaimHandler: unknown signer");
    }

    /// @dev When license `id` began: its expiry minus its terms' license period.
    function _licenseStart(uint256 id) internal view returns (uint256) {
        LicenseManager.License memory l = licenses.getLicense(id);
        return l.expiresAt - registry.terms(l.modelId, l.termsVersion).licensePeriod;
    }

    /// @dev Whether the license serves: Active and unexpired.
    function _live(uint256 id) internal view returns (bool) {
        LicenseManager.License memory l = licenses.getLicense(id);
        return l.status == LicenseStatus.Active && block.timestamp < l.expiresAt;
    }

    /// @dev From a random start, the first pool verifier that has never joined (`pending` false)
    /// or that has stake waiting for activation (`pending` true).
    function _pickVerifier(uint256 seed, bool pending) internal view returns (bool, address) {
        uint256 n = _verifierPks.length;
        for (uint256 k; k < n; ++k) {
            address v = vm.addr(_verifierPks[(seed % n + k) % n]);
            (, uint256 p,, VerifierRegistry.Status st) = verifiers.verifierInfo(v);
            if (pending ? p != 0 && st != VerifierRegistry.Status.Leaving : st == VerifierRegistry.Status.None) {
                return (true, v);
            }
        }
        return (false, address(0));
    }

    /// @dev Whether `v` attested a claim that is still open.
    function _attestsOpenClaim(address v) internal view returns (bool) {
        for (uint256 k; k < _claimIds.length; ++k) {
            uint256 id = _claimIds[k];
            if (claims.claimStatus(id) != ClaimManager.ClaimStatus.Open) continue;
            // Past its deadline a claim can only be executed: no refutation, so no penalty to escape.
            if (block.timestamp >= _records[id].deadline) continue;
            address[] storage att = _attesters[id];
            for (uint256 i; i < att.length; ++i) {
                if (att[i] == v) return true;
            }
        }
        return false;
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

    /// @dev The first claim from a random start with `status` (refutable, in its window and not
    /// against the honest host when asked).
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
                if (_answerOfClaim[id] != 0) continue;
            }
            return (true, id);
        }
        return (false, 0);
    }

    /// @dev A license of a non-honest host; claims against the honest one go through claimHonest.
    function _licenseInput(ClaimManager.ClaimInput memory c, uint256 subjectSeed, uint256 leafSeed, bool anyLeaf)
        internal
        view
        returns (bool)
    {
        (bool ok, uint256 id) = _pickLicense(subjectSeed);
        if (!ok || isHonest[id]) return false;
        LicenseStatus st = licenses.getLicense(id).status;
        if (st != LicenseStatus.Active && st != LicenseStatus.Exiting) return false;
        c.subjectId = id;
        if (c.kind == ClaimKind.ALIGNMENT_BREACH) return true;
        bytes32[] memory ls = _licenseLeaves(id);
        // The first leaf from a random one that is neither under claim nor spent (unless anyLeaf).
        for (uint256 k; k < LICENSE_LEAVES; ++k) {
            uint256 j = (leafSeed % LICENSE_LEAVES + k) % LICENSE_LEAVES;
            (c.queryHash, c.responseHash, c.salt) = _licenseTriple(id, j);
            if (!anyLeaf && _claimed(false, id, 0, c.queryHash)) continue;
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
            uint256 j = (leafSeed % LINEAGE_LEAVES + k) % LINEAGE_LEAVES;
            (c.queryHash, c.responseHash, c.salt) = _lineageTriple(j);
            if (!anyLeaf && _claimed(true, d, familyId, c.queryHash)) continue;
            c.proof = TestMerkle.proof(ls, ls[j]);
            return true;
        }
        return false;
    }

    /// @dev Active verifiers in a random order, taken until they hold two thirds of the active
    /// stake, plus a random number of the rest; in address order. With `short`, the smallest such
    /// prefix less its last member (below the quorum). Empty when no stake is active.
    function _quorumSubset(uint256 seed, bool short) internal view returns (uint256[] memory pks) {
        uint256 n;
        uint256[] memory active = new uint256[](_verifierPks.length);
        for (uint256 i; i < _verifierPks.length; ++i) {
            if (verifiers.isActive(vm.addr(_verifierPks[i]))) active[n++] = _verifierPks[i];
        }
        uint256 total = verifiers.activeStake();
        if (n == 0 || total == 0) return new uint256[](0);
        for (uint256 i = n; i > 1; --i) {
            uint256 j = uint256(keccak256(abi.encode(seed, i))) % i;
            (active[i - 1], active[j]) = (active[j], active[i - 1]);
        }
        uint256 signed;
        uint256 count;
        while (count < n && signed * 3 < total * 2) {
            (uint256 s,,,) = verifiers.verifierInfo(vm.addr(active[count]));
            signed += s;
            ++count;
        }
        if (short) --count;
        else count += _rand(seed, "extra") % (n - count + 1);
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

    function _attest(ClaimManager.ClaimInput memory c, bytes32 leaf, address by, uint256[] memory pks)
        internal
        view
        returns (bytes[] memory sigs)
    {
        bytes32 digest = claims.attestationDigest(c.subjectId, c.familyId, c.kind, leaf, c.evidenceHash, c.servedAt, by);
        sigs = new bytes[](pks.length);
        for (uint256 i; i < pks.length; ++i) {
            sigs[i] = _sign(pks[i], digest);
        }
    }

    function _addresses(uint256[] memory pks) internal pure returns (address[] memory a) {
        a = new address[](pks.length);
        for (uint256 i; i < pks.length; ++i) {
            a[i] = vm.addr(pks[i]);
        }
    }

    /// @dev The record openClaim must store, from the stake holders' views, and the stake it
    /// snapshots. slashAmount 0: nothing is left to reserve and the claim must be refused.
    function _recordFor(ClaimManager.ClaimInput memory c, address by, address[] memory att)
        internal
        view
        returns (ClaimManager.ClaimRecord memory r, uint256 stake)
    {
        r.kind = c.kind;
        r.subjectId = c.subjectId;
        r.claimant = by;
        r.servedAt = c.servedAt;
        uint32 version;
        if (c.kind == ClaimKind.LINEAGE) {
            (stake,, version, r.accused) = registry.lineageClaimInfo(c.subjectId, c.familyId);
            r.modelId = c.familyId;
        } else {
            (r.modelId, version, stake,, r.accused,,) = licenses.claimInfo(c.subjectId);
            r.notBefore = uint64(_licenseStart(c.subjectId));
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
        uint256 pending = claims.pendingSlash(c.kind == ClaimKind.LINEAGE, c.subjectId);
        uint256 free = stake > pending ? stake - pending : 0;
        if (r.slashAmount > free) r.slashAmount = free;
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

    /// @dev When a host whose usage account was never closed may withdraw: a second unbonding later.
    function _fallbackAt(LicenseManager.License memory l) internal view returns (uint256) {
        return uint256(l.unbondAt) + registry.terms(l.modelId, l.termsVersion).unbondingPeriod;
    }

    /// @dev The offence a claim's record is about (the handler's own oracle of ClaimManager.claimKey).
    function offenceKey(ClaimManager.ClaimRecord memory r) public pure returns (bytes32) {
        bool lineage = r.kind == ClaimKind.LINEAGE;
        bytes32 matter = r.kind == ClaimKind.ALIGNMENT_BREACH ? r.leaf : r.queryHash;
        return _queryKey(lineage, r.subjectId, lineage ? r.modelId : 0, matter);
    }

    function _claimed(bool lineage, uint256 subjectId, uint256 family, bytes32 query) internal view returns (bool) {
        return claims.claimOf(_queryKey(lineage, subjectId, family, query)) != 0;
    }

    function _queryKey(bool lineage, uint256 subjectId, uint256 family, bytes32 matter)
        internal
        pure
        returns (bytes32)
    {
        return keccak256(abi.encode(lineage, subjectId, family, matter));
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

    /// @dev An independent choice derived from a fuzzed seed (the fuzzer favours small seeds,
    /// whose high bits are all zero).
    function _rand(uint256 seed, bytes32 salt) internal pure returns (uint256) {
        return uint256(keccak256(abi.encode(seed, salt)));
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
