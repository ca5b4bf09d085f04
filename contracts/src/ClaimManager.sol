// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ClaimKind} from "./lib/OMLTypes.sol";
import {TypedData} from "./lib/TypedData.sol";
import {MerkleProof} from "./lib/MerkleProof.sol";
import {Commitments} from "./lib/Commitments.sol";
import {PaymentSender} from "./lib/PaymentSender.sol";
import {
    IModelRegistry,
    ILicenseManager,
    IVerifierRegistry,
    IUsageSettlement,
    IClaimManagerBoundView
} from "./interfaces/IOML.sol";

/// @title ClaimManager
/// @notice Slashing. A claimant reveals a fingerprint leaf with its Merkle proof against the
/// accused's commitment, attestations from a stake-weighted quorum of verifiers, and a bond. An
/// UNPERMITTED_USE claim must carry the accused host's own signed receipt of the answer (license,
/// query, answer hash, serving time), so no one can convict a host of an answer it never gave; a
/// host that withholds receipts is claimed as OBSERVED_USE, on the word of a stake quorum of
/// verifiers that each queried its endpoint themselves (the time is theirs, not the host's).
/// During the challenge window the accused can refute with a σ for that query issued no later than
/// the answer was served and no earlier than the license began: a σ bought after the fact clears
/// nothing, and a host that followed the protocol can never be slashed for an accounted query.
/// After the window anyone may execute the slash of the snapshotted stake. Pending slashes of a
/// subject never add up to more than its stake. Claim kinds without a sound refutation or appeal
/// path are disabled at deployment (see docs/SECURITY.md).
/// @dev Only a hash of each claim's record is stored (its low byte holds the status); callers pass
/// the record, which ClaimOpened emits in full. That keeps openClaim to two new storage slots.
contract ClaimManager is TypedData, PaymentSender {
    error ClaimManager__WrongBond(uint256 required, uint256 sent);
    error ClaimManager__BadProof();
    error ClaimManager__NoFingerprintCommitment(uint256 licenseId);
    error ClaimManager__EmptyEvidence();
    error ClaimManager__AnswerUnderClaim(bytes32 claimKey, uint256 claimId);
    error ClaimManager__AnswerAlreadyClaimed(bytes32 claimKey, uint256 claimId);
    error ClaimManager__AttestersNotSorted();
    error ClaimManager__AttesterNotActive();
    error ClaimManager__QuorumNotReached(uint256 attestingStake, uint256 activeStake);
    error ClaimManager__KindDisabled(ClaimKind kind);
    error ClaimManager__ReceiptRequired();
    error ClaimManager__UnexpectedReceipt();
    error ClaimManager__UnexpectedFamily(uint256 familyId);
    error ClaimManager__ReceiptNotByAccused(address signer, address accused);
    error ClaimManager__OpenedTooEarly(uint64 servedAt, uint256 openableAt);
    error ClaimManager__ServedBeforeLicense(uint64 servedAt, uint64 licenseStart);
    error ClaimManager__NothingLeftToSlash(uint256 subjectId);
    error ClaimManager__WindowTooLong(uint256 challengeWindow, uint256 verifierDelay);
    error ClaimManager__PermissionAfterAnswer(uint64 issuedAt, uint64 servedAt);
    error ClaimManager__PermissionBeforeLicense(uint64 issuedAt, uint64 licenseStart);
    error ClaimManager__InvalidConfig();
    error ClaimManager__RecordMismatch(uint256 claimId);
    error ClaimManager__WrongStatus(uint256 claimId, ClaimStatus status);
    error ClaimManager__NotRefutable(uint256 claimId, ClaimKind kind);
    error ClaimManager__ChallengeWindowOver(uint256 claimId, uint256 deadline);
    error ClaimManager__ChallengeWindowNotOver(uint256 claimId, uint256 deadline);
    error ClaimManager__NotPermissionSigner(address signer);
    error ClaimManager__AttestersMismatch(uint256 claimId);
    error ClaimManager__UnexpectedPayment(address from);
    error ClaimManager__WiredElsewhere(address contract_, address claimManager);

    /// @notice What a claimant submits.
    struct ClaimInput {
        ClaimKind kind;
        uint256 subjectId; // license id; LINEAGE: the accused model id
        uint256 familyId; // LINEAGE only: the model whose lineage root holds the leaf
        bytes32 queryHash;
        bytes32 responseHash;
        bytes32 salt;
        bytes32[] proof;
        bytes32 evidenceHash; // hash of the transcript; ALIGNMENT_BREACH: keys the claim
        uint64 servedAt; // when the answer was served (the receipt's time, else the quorum's)
        bytes32 answerHash; // UNPERMITTED_USE: the receipt's hash of the whole answer text
        bytes32 receiptPermission; // UNPERMITTED_USE: the receipt's σ reference (0: served without σ)
        bytes receipt; // UNPERMITTED_USE: the accused host's AnswerReceipt signature; else empty
    }

    /// @notice What the contract remembers of a claim (as a hash), passed back by later calls.
    struct ClaimRecord {
        ClaimKind kind;
        uint256 subjectId;
        uint256 modelId; // whose terms apply and whose owners receive the slash
        address claimant;
        address accused; // host, or the accused model's admin; receives the bond on refutation
        uint256 bond;
        uint256 slashAmount; // snapshotted stake × slashBps
        uint256 reward; // slashAmount × claimantRewardBps
        uint64 deadline; // end of the challenge window
        bytes32 queryHash;
        bytes32 leaf;
        bytes32 attestersHash;
        uint64 servedAt; // a σ refutes only if issued no later than this (0: a future-dated receipt)
        uint64 notBefore; // ... and no earlier than this (the license's start; 0 for LINEAGE)
    }

    /// @dev Open claims and the slashes they would take, per subject, in one slot.
    struct Subject {
        uint128 openClaims;
        uint128 pendingSlash;
    }

    enum ClaimStatus {
        None,
        Open,
        Refuted,
        Executed,
        AttestersPenalized
    }

    event ClaimOpened(
        uint256 indexed claimId, ClaimKind indexed kind, uint256 indexed subjectId, ClaimRecord record,
        bytes32 evidenceHash, address[] attesters
    );
    event ClaimRefuted(uint256 indexed claimId, address indexed signer, uint64 sequence, uint64 issuedAt);
    event ClaimExecuted(uint256 indexed claimId, uint256 slashed, uint256 claimantPaid, uint256 ownersPaid);
    event AttestersPenalized(uint256 indexed claimId, uint256 total);

    bytes32 public constant PERMISSION_TYPEHASH =
        keccak256("Permission(uint256 licenseId,bytes32 queryHash,uint64 sequence,uint64 issuedAt)");
    bytes32 public constant CLAIM_ATTESTATION_TYPEHASH = keccak256(
        "ClaimAttestation(uint256 subjectId,uint256 familyId,uint8 kind,bytes32 leaf,bytes32 evidenceHash,uint64 servedAt,address claimant)"
    );
    bytes32 public constant ANSWER_RECEIPT_TYPEHASH = keccak256(
        "AnswerReceipt(uint256 licenseId,bytes32 queryHash,bytes32 responseHash,uint64 servedAt,bytes32 permission)"
    );
    uint256 private constant _STATUS_MASK = 0xff;

    IModelRegistry private immutable _registry;
    ILicenseManager private immutable _licenses;
    IVerifierRegistry private immutable _verifiers;
    IUsageSettlement private immutable _usage;
    uint32 private immutable _clockSkew;
    uint8 private immutable _enabledKinds;
    uint256 private immutable _verifierDelay;

    mapping(uint256 => bytes32) private _claims;
    /// @dev The claim that holds each offence (claimKey): open, or closed for ever.
    mapping(bytes32 => uint256) private _claimOf;
    mapping(bool => mapping(uint256 => Subject)) private _subjects;
    uint256 private _claimCount;

    /// @param clockSkew_ Largest clock difference tolerated between hosts, verifiers, the
    /// permission service and the chain (seconds). A claim opens only that long after its answer
    /// was served, so that no σ dated before the answer can be obtained after the claim is seen.
    /// @param enabledKinds_ Bit i set: claims of ClaimKind i may be opened.
    constructor(
        IModelRegistry registry_,
        ILicenseManager licenses_,
        IVerifierRegistry verifiers_,
        IUsageSettlement usage_,
        uint32 clockSkew_,
        uint8 enabledKinds_
    ) {
        if (clockSkew_ == 0 || enabledKinds_ == 0 || enabledKinds_ >> 5 != 0) revert ClaimManager__InvalidConfig();
        _registry = registry_;
        _licenses = licenses_;
        _verifiers = verifiers_;
        _usage = usage_;
        _clockSkew = clockSkew_;
        _enabledKinds = enabledKinds_;
        // Challenge windows must end before an attester can withdraw (so a refuted claim's
        // attesters are still there to penalize) and before stake that joined after a claim was
        // seen can count.
        (, uint32 unbonding, uint32 activationDelay,) = verifiers_.config();
        _verifierDelay = activationDelay < unbonding ? activationDelay : unbonding;
        // The four were deployed first with this contract's predicted address; refuse to exist
        // if any of them names another ClaimManager (a wrong prediction, or a mixed deployment).
        address[4] memory bound = [address(registry_), address(licenses_), address(verifiers_), address(usage_)];
        for (uint256 i; i < 4; ++i) {
            address named = IClaimManagerBoundView(bound[i]).claimManager();
            if (named != address(this)) revert ClaimManager__WiredElsewhere(bound[i], named);
        }
    }

    /// @dev Only the stake holders send ETH here, when they hand over a slash or a penalty.
    receive() external payable {
        if (msg.sender != address(_licenses) && msg.sender != address(_registry) && msg.sender != address(_verifiers)) {
            revert ClaimManager__UnexpectedPayment(msg.sender);
        }
    }

    /// @notice Opens a claim: reveals a fingerprint leaf, proves it is committed for the subject,
    /// and shows a quorum of verifier attestations. `msg.value` must equal the terms' claim bond.
    /// @param c The claim (see ClaimInput).
    /// @param signatures EIP-712 ClaimAttestation signatures, ordered by increasing signer address.
    /// @return claimId The new claim.
    function openClaim(ClaimInput calldata c, bytes[] calldata signatures) external payable returns (uint256 claimId) {
        if ((_enabledKinds >> uint8(c.kind)) & 1 == 0) revert ClaimManager__KindDisabled(c.kind);
        ClaimRecord memory r = _subjectRecord(c);
        bytes32 key = _claimKeyOf(c, r.leaf);
        uint256 used = _claimOf[key];
        if (used != 0) {
            if (claimStatus(used) == ClaimStatus.Open) revert ClaimManager__AnswerUnderClaim(key, used);
            revert ClaimManager__AnswerAlreadyClaimed(key, used);
        }
        // Attestations name the claimant, so a copied openClaim from another sender fails here.
        address[] memory attesters = _checkQuorum(
            attestationDigest(c.subjectId, c.familyId, c.kind, r.leaf, c.evidenceHash, c.servedAt, msg.sender),
            signatures
        );
        r.attestersHash = keccak256(abi.encodePacked(attesters));
        r.claimant = msg.sender;

        claimId = ++_claimCount;
        _claims[claimId] = _stamp(keccak256(abi.encode(r)), ClaimStatus.Open);
        _claimOf[key] = claimId;
        Subject storage s = _subjects[c.kind == ClaimKind.LINEAGE][c.subjectId];
        // Both stay below the stake (a uint96) and the claim count: no overflow of 128 bits.
        unchecked {
            s.openClaims += 1;
            s.pendingSlash += uint128(r.slashAmount);
        }
        emit ClaimOpened(claimId, c.kind, c.subjectId, r, c.evidenceHash, attesters);
    }

    /// @notice Refutes an UNPERMITTED_USE, OBSERVED_USE or LEAK claim with the σ issued for its
    /// query before the answer was served (and not before the license began).
    /// @param claimId The claim.
    /// @param r Its record, as ClaimOpened emitted it.
    /// @param sequence The σ's per-license sequence number.
    /// @param issuedAt The σ's issue time: at least r.notBefore, at most r.servedAt.
    /// @param permission The permission signer's EIP-712 Permission signature.
    function refute(
        uint256 claimId,
        ClaimRecord calldata r,
        uint64 sequence,
        uint64 issuedAt,
        bytes calldata permission
    ) external {
        bytes32 stored = _checkRecord(claimId, r, ClaimStatus.Open);
        if (r.kind == ClaimKind.LINEAGE || r.kind == ClaimKind.ALIGNMENT_BREACH) {
            revert ClaimManager__NotRefutable(claimId, r.kind);
        }
        if (block.timestamp >= r.deadline) revert ClaimManager__ChallengeWindowOver(claimId, r.deadline);
        if (issuedAt > r.servedAt) revert ClaimManager__PermissionAfterAnswer(issuedAt, r.servedAt);
        if (issuedAt < r.notBefore) revert ClaimManager__PermissionBeforeLicense(issuedAt, r.notBefore);
        bytes32 digest =
            _digest(keccak256(abi.encode(PERMISSION_TYPEHASH, r.subjectId, r.queryHash, sequence, issuedAt)));
        address signer = _recover(digest, permission);
        if (!_registry.permissionClears(r.modelId, signer, issuedAt, r.servedAt)) {
            revert ClaimManager__NotPermissionSigner(signer);
        }
        _claims[claimId] = _stamp(stored, ClaimStatus.Refuted);
        // The leaf stays bound to this claim: the claim revealed the key, so the host can now spot
        // it and it can never be a secret probe again; and the same public attestations cannot
        // reopen the claim to have its attesters penalized twice.
        _release(false, r);
        emit ClaimRefuted(claimId, signer, sequence, issuedAt);
        _pay(r.accused, r.bond);
    }

    /// @notice After a refutation, takes the penalty from each attester and pays it to the accused.
    /// @param attesters The attesters, as ClaimOpened emitted them.
    function penalizeAttesters(uint256 claimId, ClaimRecord calldata r, address[] calldata attesters) external {
        bytes32 stored = _checkRecord(claimId, r, ClaimStatus.Refuted);
        if (keccak256(abi.encodePacked(attesters)) != r.attestersHash) revert ClaimManager__AttestersMismatch(claimId);
        _claims[claimId] = _stamp(stored, ClaimStatus.AttestersPenalized);
        uint256 total = _verifiers.penalize(attesters);
        emit AttestersPenalized(claimId, total);
        _pay(r.accused, total);
    }

    /// @notice Executes a claim whose window passed unrefuted: slashes the subject, pays the
    /// claimant its bond and reward, sends the rest to the model's owners, spends the leaf.
    function execute(uint256 claimId, ClaimRecord calldata r) external {
        bytes32 stored = _checkRecord(claimId, r, ClaimStatus.Open);
        if (block.timestamp < r.deadline) revert ClaimManager__ChallengeWindowNotOver(claimId, r.deadline);
        bool lineage = r.kind == ClaimKind.LINEAGE;
        _claims[claimId] = _stamp(stored, ClaimStatus.Executed);
        _release(lineage, r);
        uint256 slashed = lineage
            ? _registry.slashRegistration(r.subjectId, r.slashAmount)
            : _licenses.slash(r.subjectId, r.slashAmount);
        uint256 reward = r.reward < slashed ? r.reward : slashed;
        // reward <= slashed by the line above.
        uint256 toOwners;
        unchecked {
            toOwners = slashed - reward;
        }
        emit ClaimExecuted(claimId, slashed, r.bond + reward, toOwners);
        if (toOwners != 0) _usage.depositRevenue{value: toOwners}(r.modelId);
        _pay(r.claimant, r.bond + reward);
    }

    // ---------------------------------------------------------------- views

    /// @notice A claim's status.
    function claimStatus(uint256 claimId) public view returns (ClaimStatus) {
        return _statusOf(_claims[claimId]);
    }

    /// @notice Whether `r` is the record of `claimId`.
    function matchesRecord(uint256 claimId, ClaimRecord calldata r) external view returns (bool) {
        return _matches(_claims[claimId], r);
    }

    /// @notice The claim that holds an offence (see claimKey): open, or closed (then it can never
    /// be claimed again); 0 if none.
    function claimOf(bytes32 key) external view returns (uint256) {
        return _claimOf[key];
    }

    /// @notice What identifies one offence: a license's answer to one fingerprint query (whether
    /// claimed as UNPERMITTED_USE, OBSERVED_USE or LEAK), a model's answer to one query of a family's lineage
    /// fingerprint, or one piece of ALIGNMENT_BREACH evidence against a license. Claims are keyed by
    /// it, not by the leaf, so the same key committed under two salts cannot convict one answer twice.
    /// @param lineage Whether the subject is a model's registration (LINEAGE) rather than a license.
    /// @param familyId LINEAGE: the family whose fingerprint it is; 0 for the other kinds.
    /// @param matter The query hash; ALIGNMENT_BREACH: the evidence hash.
    function claimKey(bool lineage, uint256 subjectId, uint256 familyId, bytes32 matter)
        public
        pure
        returns (bytes32)
    {
        return keccak256(abi.encode(lineage, subjectId, familyId, matter));
    }

    /// @notice Open claims against a license (`lineage` false) or a model's registration (true).
    function openClaims(bool lineage, uint256 subjectId) external view returns (uint256) {
        return _subjects[lineage][subjectId].openClaims;
    }

    /// @notice Sum of the slash amounts of the open claims against a subject (never above its stake).
    function pendingSlash(bool lineage, uint256 subjectId) external view returns (uint256) {
        return _subjects[lineage][subjectId].pendingSlash;
    }

    /// @notice Number of claims ever opened.
    function claimCount() external view returns (uint256) {
        return _claimCount;
    }

    /// @notice EIP-712 digest a verifier signs to attest a claim that `claimant` will open.
    function attestationDigest(
        uint256 subjectId,
        uint256 familyId,
        ClaimKind kind,
        bytes32 leaf,
        bytes32 evidenceHash,
        uint64 servedAt,
        address claimant
    ) public view returns (bytes32) {
        return _digest(
            keccak256(
                abi.encode(
                    CLAIM_ATTESTATION_TYPEHASH, subjectId, familyId, uint8(kind), leaf, evidenceHash, servedAt, claimant
                )
            )
        );
    }

    /// @notice EIP-712 digest of the receipt a host's gateway signs for every answer it serves.
    function receiptDigest(
        uint256 licenseId,
        bytes32 queryHash,
        bytes32 responseHash,
        uint64 servedAt,
        bytes32 permission
    ) public view returns (bytes32) {
        return _digest(
            keccak256(abi.encode(ANSWER_RECEIPT_TYPEHASH, licenseId, queryHash, responseHash, servedAt, permission))
        );
    }

    /// @notice EIP-712 digest of σ(q) as the permission signer signs it.
    function permissionDigest(uint256 licenseId, bytes32 queryHash, uint64 sequence, uint64 issuedAt)
        external
        view
        returns (bytes32)
    {
        return _digest(keccak256(abi.encode(PERMISSION_TYPEHASH, licenseId, queryHash, sequence, issuedAt)));
    }

    /// @notice The protocol parameters fixed at deployment.
    /// @return clockSkew Seconds a claim waits after its answer was served.
    /// @return enabledKinds Bit i set: ClaimKind i may be claimed.
    /// @return maxChallengeWindow Longest challenge window a claim may have.
    function config() external view returns (uint32 clockSkew, uint8 enabledKinds, uint256 maxChallengeWindow) {
        return (_clockSkew, _enabledKinds, _verifierDelay - 1);
    }

    /// @notice The contracts this one works with.
    function wiring() external view returns (address registry, address licenses, address verifiers, address usage) {
        return (address(_registry), address(_licenses), address(_verifiers), address(_usage));
    }

    // ------------------------------------------------------------- internals

    /// @dev Proves the leaf against the subject's commitment, checks the evidence of the answer,
    /// and fills in the record's terms.
    function _subjectRecord(ClaimInput calldata c) private view returns (ClaimRecord memory r) {
        r.kind = c.kind;
        r.subjectId = c.subjectId;
        r.servedAt = c.servedAt;
        uint256 stake;
        bytes32 root;
        uint32 version;
        uint256 expiresAt;
        address receiptSigner;
        if (c.kind == ClaimKind.LINEAGE) {
            (stake, root, version, r.accused) = _registry.lineageClaimInfo(c.subjectId, c.familyId);
            r.modelId = c.familyId;
        } else {
            // The family is part of the claim's key: a stray one would let the answer be claimed twice.
            if (c.familyId != 0) revert ClaimManager__UnexpectedFamily(c.familyId);
            (r.modelId, version, stake, root, r.accused, expiresAt, receiptSigner) = _licenses.claimInfo(c.subjectId);
        }
        if (c.kind == ClaimKind.ALIGNMENT_BREACH) {
            if (c.evidenceHash == bytes32(0)) revert ClaimManager__EmptyEvidence();
            r.leaf = c.evidenceHash;
        } else {
            if (root == bytes32(0)) revert ClaimManager__NoFingerprintCommitment(c.subjectId);
            r.queryHash = c.queryHash;
            r.leaf = Commitments.fingerprintLeaf(c.queryHash, c.responseHash, c.salt);
            if (!MerkleProof.verify(c.proof, root, r.leaf)) revert ClaimManager__BadProof();
        }
        (uint96 bond, uint32 window, uint16 slashBps, uint16 rewardBps, uint32 licensePeriod) =
            _registry.claimTerms(r.modelId, version);
        if (window >= _verifierDelay) revert ClaimManager__WindowTooLong(window, _verifierDelay);
        if (c.kind != ClaimKind.LINEAGE) r.notBefore = uint64(expiresAt - licensePeriod);
        _checkAnswer(c, r, receiptSigner);
        if (msg.value != bond) revert ClaimManager__WrongBond(bond, msg.value);
        r.bond = msg.value;
        r.slashAmount = _slashable(c.kind == ClaimKind.LINEAGE, c.subjectId, stake, slashBps);
        r.reward = r.slashAmount * rewardBps / 10_000;
        r.deadline = uint64(block.timestamp + window);
    }

    /// @dev When the answer was served, and (UNPERMITTED_USE) that the accused served it: its
    /// gateway's receipt must recover to the license's receipt signer. A claim opens only a clock
    /// skew after its answer, so that every σ that could clear it was issued before the claim
    /// revealed the query. A receipt dated more than a skew ahead of the chain is a lie no honest
    /// gateway tells (it stamps its own clock, at least the σ's issue time): it opens at once and
    /// no σ can refute it, or a host could postpone every claim past its own exit.
    function _checkAnswer(ClaimInput calldata c, ClaimRecord memory r, address receiptSigner) private view {
        uint64 servedAt = c.servedAt;
        if (servedAt < r.notBefore) revert ClaimManager__ServedBeforeLicense(servedAt, r.notBefore);
        bool receipted = c.kind == ClaimKind.UNPERMITTED_USE;
        if (receipted && servedAt > block.timestamp + _clockSkew) {
            r.servedAt = 0;
        } else if (block.timestamp < uint256(servedAt) + _clockSkew) {
            revert ClaimManager__OpenedTooEarly(servedAt, uint256(servedAt) + _clockSkew);
        }
        if (!receipted) {
            if (c.receipt.length != 0) revert ClaimManager__UnexpectedReceipt();
            return;
        }
        if (c.receipt.length == 0) revert ClaimManager__ReceiptRequired();
        address signer =
            _recover(receiptDigest(c.subjectId, c.queryHash, c.answerHash, servedAt, c.receiptPermission), c.receipt);
        if (signer != receiptSigner) revert ClaimManager__ReceiptNotByAccused(signer, receiptSigner);
    }

    function _claimKeyOf(ClaimInput calldata c, bytes32 leaf) private pure returns (bytes32) {
        bytes32 matter = c.kind == ClaimKind.ALIGNMENT_BREACH ? leaf : c.queryHash;
        return claimKey(c.kind == ClaimKind.LINEAGE, c.subjectId, c.familyId, matter);
    }

    /// @dev The stake × slashBps a new claim may take, within what open claims leave of the stake.
    function _slashable(bool lineage, uint256 subjectId, uint256 stake, uint16 slashBps)
        private
        view
        returns (uint256 amount)
    {
        uint256 pending = _subjects[lineage][subjectId].pendingSlash;
        uint256 free = stake > pending ? stake - pending : 0;
        amount = stake * slashBps / 10_000;
        if (amount > free) amount = free;
        if (amount == 0) revert ClaimManager__NothingLeftToSlash(subjectId);
    }

    /// @dev A claim closes: it no longer counts as open nor holds its slash amount.
    function _release(bool lineage, ClaimRecord calldata r) private {
        Subject storage s = _subjects[lineage][r.subjectId];
        // Both were added when the claim opened and are taken away once, here.
        unchecked {
            s.openClaims -= 1;
            s.pendingSlash -= uint128(r.slashAmount);
        }
    }

    /// @dev Recovers the attesters (strictly increasing addresses: no one counts twice) and checks
    /// that they are active verifiers holding at least two thirds of the active stake.
    function _checkQuorum(bytes32 digest, bytes[] calldata signatures)
        private
        view
        returns (address[] memory attesters)
    {
        attesters = new address[](signatures.length);
        address previous;
        for (uint256 i; i < signatures.length; ++i) {
            address signer = _recover(digest, signatures[i]);
            if (signer <= previous) revert ClaimManager__AttestersNotSorted();
            attesters[i] = signer;
            previous = signer;
        }
        (uint256 signed, uint256 total, bool allActive) = _verifiers.attestingStake(attesters);
        if (!allActive) revert ClaimManager__AttesterNotActive();
        if (total == 0 || signed * 3 < total * 2) revert ClaimManager__QuorumNotReached(signed, total);
    }

    function _checkRecord(uint256 claimId, ClaimRecord calldata r, ClaimStatus expected)
        private
        view
        returns (bytes32 stored)
    {
        stored = _claims[claimId];
        if (!_matches(stored, r)) revert ClaimManager__RecordMismatch(claimId);
        ClaimStatus status = _statusOf(stored);
        if (status != expected) revert ClaimManager__WrongStatus(claimId, status);
    }

    /// @dev A stored slot matches a record when all but its status byte equal the record's hash.
    function _matches(bytes32 stored, ClaimRecord calldata r) private pure returns (bool) {
        return stored != 0 && _clearStatus(stored) == _clearStatus(keccak256(abi.encode(r)));
    }

    function _statusOf(bytes32 stored) private pure returns (ClaimStatus) {
        return ClaimStatus(uint256(stored) & _STATUS_MASK);
    }

    function _stamp(bytes32 recordHash, ClaimStatus status) private pure returns (bytes32) {
        return bytes32((uint256(recordHash) & ~_STATUS_MASK) | uint256(status));
    }

    function _clearStatus(bytes32 h) private pure returns (bytes32) {
        return bytes32(uint256(h) & ~_STATUS_MASK);
    }
}
