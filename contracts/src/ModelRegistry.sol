// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Terms} from "./lib/OMLTypes.sol";
import {ClaimManagerBound} from "./lib/ClaimManagerBound.sol";
import {IClaimManagerViews} from "./interfaces/IOML.sol";

/// @title ModelRegistry
/// @notice Registers community-owned models: owners and their shares, the permission signer that
/// signs σ(q), versioned license terms, the lineage root of fingerprints that name the model's
/// family, and derived models that declare a parent and lock a registration stake.
/// @dev Lineage rules, each there so that a LINEAGE claim can neither be dodged nor stolen:
/// - a family can accuse only models registered strictly after its lineage root was set (a root
///   copied after the fact names no model that was already there);
/// - a derived model declares at most MAX_LINEAGE_DEPTH ancestors, checked at registration, so
///   every walk up the declared ancestry is bounded by construction;
/// - a derivative locks the largest registration stake any declared ancestor asks, and its
///   unbonding is at least every declared ancestor's and at least `minRetirementUnbonding`;
/// - a model whose registration was withdrawn is Retired: no new license, no derivative, no
///   claim, no new terms; licenses taken before keep their terms and signers.
contract ModelRegistry is ClaimManagerBound {
    error ModelRegistry__UnknownModel(uint256 modelId);
    error ModelRegistry__NotAdmin(uint256 modelId, address caller);
    error ModelRegistry__NoOwners();
    error ModelRegistry__TooManyOwners(uint256 count);
    error ModelRegistry__LengthMismatch();
    error ModelRegistry__InvalidOwner(address owner);
    error ModelRegistry__DuplicateOwner(address owner);
    error ModelRegistry__ZeroShares(address owner);
    error ModelRegistry__ZeroSigner();
    error ModelRegistry__SameSigner(address signer);
    error ModelRegistry__InvalidTerms(string reason);
    error ModelRegistry__WrongRegistrationStake(uint256 expected, uint256 sent);
    error ModelRegistry__LineageTooDeep();
    error ModelRegistry__NotClaimManager(address caller);
    error ModelRegistry__NotInFamily(uint256 modelId, uint256 familyId);
    error ModelRegistry__SameFamily(uint256 modelId, uint256 familyId);
    error ModelRegistry__NothingStaked(uint256 modelId);
    error ModelRegistry__AlreadyRetiring(uint256 modelId);
    error ModelRegistry__NotRetiring(uint256 modelId);
    error ModelRegistry__StillUnbonding(uint256 modelId, uint256 unbondAt);
    error ModelRegistry__TransferFailed();
    error ModelRegistry__Retired(uint256 modelId);
    error ModelRegistry__LineageRootNotPrior(uint256 subjectId, uint256 familyId);
    error ModelRegistry__UnbondingTooShort(uint256 minimum, uint256 unbondingPeriod);
    error ModelRegistry__ZeroMinRetirementUnbonding();

    event ModelRegistered(
        uint256 indexed modelId,
        uint256 indexed parentId,
        address indexed admin,
        address permissionSigner,
        bytes32 lineageRoot,
        bytes32 weightsHash,
        uint256 registrationStake
    );
    event OwnerShare(uint256 indexed modelId, address indexed owner, uint256 shares);
    event TermsUpdated(uint256 indexed modelId, uint32 indexed version, bytes32 termsHash, Terms terms);
    event SignerRotationProposed(uint256 indexed modelId, address indexed newSigner, uint256 effectiveAt);
    event SignerRevoked(uint256 indexed modelId, address indexed revoked, address indexed newSigner);
    event LineageRootSet(uint256 indexed modelId, bytes32 lineageRoot);
    event RegistrationSlashed(uint256 indexed modelId, uint256 amount);
    event RetirementRequested(uint256 indexed modelId, uint256 unbondAt);
    event RegistrationWithdrawn(uint256 indexed modelId, address indexed to, uint256 amount);
    event ModelRetired(uint256 indexed modelId);

    /// @notice Delay before a newly proposed permission signer takes over.
    uint256 public constant SIGNER_ROTATION_DELAY = 1 days;
    uint256 public constant MAX_OWNERS = 32;
    /// @notice The most declared ancestors a derived model may have (a base model has none).
    uint256 public constant MAX_LINEAGE_DEPTH = 16;

    struct Model {
        address admin;
        uint64 parentId;
        uint32 termsVersion;
        address permissionSigner;
        uint40 retireUnbondAt;
        uint40 signerSwitchAt; // non-zero exactly while a rotation to pendingSigner is pending
        address pendingSigner;
        uint96 registrationStake;
        bytes32 lineageRoot;
        bytes32 weightsHash;
        uint256 totalShares;
        // One slot for what lineageClaimInfo reads of each side besides the root and the stake.
        uint40 registeredAt;
        uint40 lineageRootSetAt; // 0 while the model has no lineage root
        uint8 depth; // declared ancestors: 0 for a base model, at most MAX_LINEAGE_DEPTH
        bool retired; // set once its registration stake was withdrawn; never cleared
    }

    mapping(uint256 => Model) private _models;
    mapping(uint256 => mapping(uint32 => Terms)) private _terms;
    mapping(uint256 => mapping(address => uint256)) private _shares;
    mapping(uint256 => address[]) private _owners;
    /// @dev When each former permission signer of a model was replaced. Kept for every former
    /// signer, not only the last one: otherwise two rotations would void the σ a host holds from
    /// the first signer, and an honest host could be slashed for queries it was permitted.
    mapping(uint256 => mapping(address => uint256)) private _signerReplacedAt;
    /// @dev When a signer key was revoked as compromised. Whoever holds it can date a σ as it
    /// likes, so its σ clear only answers served up to the revocation, whatever they say.
    mapping(uint256 => mapping(address => uint256)) private _signerRevokedAt;
    uint256 private _modelCount;
    uint256 private _totalRegistrationStake;
    /// @dev The shortest unbonding a retirement may have, whatever a model's terms say: the time
    /// the protocol gives a claimant to notice a derivative that retires as soon as it is caught.
    uint32 private immutable _minRetirementUnbonding;

    /// @param claimManager_ The ClaimManager that may slash registration stakes.
    /// @param minRetirementUnbonding_ Seconds a retiring model's stake stays slashable at least (non-zero).
    constructor(address claimManager_, uint32 minRetirementUnbonding_) ClaimManagerBound(claimManager_) {
        if (minRetirementUnbonding_ == 0) revert ModelRegistry__ZeroMinRetirementUnbonding();
        _minRetirementUnbonding = minRetirementUnbonding_;
    }

    /// @notice Registers a base model; the caller becomes its admin.
    /// @param owners_ Addresses that share the model's revenue.
    /// @param shares Each owner's share (any positive integers; revenue is split pro rata).
    /// @param permissionSigner_ Key of the community's permission service that signs σ(q).
    /// @param terms_ License terms (version 1).
    /// @param lineageRoot Merkle root of the model family's lineage fingerprints (0 if none).
    /// @param weightsHash Hash of the published base weights.
    /// @return modelId The new model's id.
    /// @dev A base model locks no registration stake, so no LINEAGE claim can reach it: a copy of
    /// another family's model registered here as a base model (its parent undeclared) risks
    /// nothing on chain. Only declared derivatives are held to their family; docs/SECURITY.md
    /// lists the undeclared copy as a residual risk.
    function registerModel(
        address[] calldata owners_,
        uint256[] calldata shares,
        address permissionSigner_,
        Terms calldata terms_,
        bytes32 lineageRoot,
        bytes32 weightsHash
    ) external returns (uint256 modelId) {
        modelId = _register(0, 0, owners_, shares, permissionSigner_, terms_, lineageRoot, weightsHash, 0);
    }

    /// @notice Registers a model derived from `parentId`; the caller becomes its admin and locks,
    /// as `msg.value`, the largest `registrationStake` of the current terms of the parent and of
    /// every ancestor the parent declares.
    /// @dev The stake can be slashed by a LINEAGE claim if the model answers the lineage
    /// fingerprints of a family it did not declare. The whole declared family sets it, not the
    /// parent alone: otherwise a cheap intermediate model would let a derivative of an expensive
    /// family lock little. For the same reason `terms_.unbondingPeriod` must be at least every
    /// declared ancestor's current one, so that retiring through a short-unbonding child cannot
    /// leave a family's claimants less time than the family itself gives. Retired ancestors count
    /// with the terms they had: deregistering a model must not lower what its descendants lock.
    /// @param parentId The declared parent; it must not be Retired.
    /// @param owners_ Addresses that share the model's revenue.
    /// @param shares Each owner's share (any positive integers; revenue is split pro rata).
    /// @param permissionSigner_ Key of the community's permission service that signs σ(q).
    /// @param terms_ License terms (version 1).
    /// @param lineageRoot Merkle root of the model's own lineage fingerprints (0 if none).
    /// @param weightsHash Hash of the published derived weights.
    /// @return modelId The new model's id.
    function registerDerivedModel(
        uint256 parentId,
        address[] calldata owners_,
        uint256[] calldata shares,
        address permissionSigner_,
        Terms calldata terms_,
        bytes32 lineageRoot,
        bytes32 weightsHash
    ) external payable returns (uint256 modelId) {
        Model storage parent = _live(parentId);
        // Checked before the walk below, which it bounds: the parent has at most
        // MAX_LINEAGE_DEPTH - 1 ancestors of its own.
        uint256 depth = uint256(parent.depth) + 1;
        if (depth > MAX_LINEAGE_DEPTH) revert ModelRegistry__LineageTooDeep();
        (uint256 required, uint256 minUnbonding) = _familyFloor(parentId);
        if (msg.value != required || required == 0) revert ModelRegistry__WrongRegistrationStake(required, msg.value);
        if (terms_.unbondingPeriod < minUnbonding) {
            revert ModelRegistry__UnbondingTooShort(minUnbonding, terms_.unbondingPeriod);
        }
        modelId =
            _register(parentId, depth, owners_, shares, permissionSigner_, terms_, lineageRoot, weightsHash, msg.value);
    }

    /// @notice Publishes a new version of the terms; existing licenses keep the version they accepted.
    /// @dev A derived model's unbonding may not drop below any declared ancestor's current one. A
    /// retirement already requested keeps the unbondAt it was given, whatever the new terms say.
    /// @param modelId A model the caller administers that is not Retired.
    /// @param terms_ The new terms (version = previous + 1).
    function updateTerms(uint256 modelId, Terms calldata terms_) external {
        Model storage m = _onlyAdmin(modelId);
        if (m.retired) revert ModelRegistry__Retired(modelId);
        _validateTerms(terms_);
        uint256 parentId = m.parentId;
        if (parentId != 0) {
            (, uint256 minUnbonding) = _familyFloor(parentId);
            if (terms_.unbondingPeriod < minUnbonding) {
                revert ModelRegistry__UnbondingTooShort(minUnbonding, terms_.unbondingPeriod);
            }
        }
        uint32 version = m.termsVersion + 1;
        m.termsVersion = version;
        _terms[modelId][version] = terms_;
        emit TermsUpdated(modelId, version, keccak256(abi.encode(terms_)), terms_);
    }

    /// @notice Sets the lineage fingerprint root of a model that had none.
    /// @dev The time it is set is recorded: the model can be the family of LINEAGE claims only
    /// against models registered strictly later.
    /// @param modelId A model the caller administers that is not Retired and has no lineage root.
    /// @param lineageRoot The root (non-zero).
    function setLineageRoot(uint256 modelId, bytes32 lineageRoot) external {
        Model storage m = _onlyAdmin(modelId);
        if (m.retired) revert ModelRegistry__Retired(modelId);
        if (m.lineageRoot != bytes32(0) || lineageRoot == bytes32(0)) {
            revert ModelRegistry__InvalidTerms("lineage root");
        }
        m.lineageRoot = lineageRoot;
        m.lineageRootSetAt = uint40(block.timestamp);
        emit LineageRootSet(modelId, lineageRoot);
    }

    /// @notice Proposes a new permission signer; it takes over after SIGNER_ROTATION_DELAY.
    /// @dev σ signed by the outgoing signer stay valid for issue times before the switch, so a
    /// host that followed the protocol can still refute claims about queries served before it.
    /// Allowed on a Retired model too: its licenses still need σ and vouchers.
    /// @param modelId A model the caller administers.
    /// @param newSigner The signer that takes over (non-zero).
    function proposeSigner(uint256 modelId, address newSigner) external {
        Model storage m = _onlyAdmin(modelId);
        if (newSigner == address(0)) revert ModelRegistry__ZeroSigner();
        _settleRotation(modelId, m);
        uint256 at = block.timestamp + SIGNER_ROTATION_DELAY;
        m.pendingSigner = newSigner;
        m.signerSwitchAt = uint40(at);
        emit SignerRotationProposed(modelId, newSigner, at);
    }

    /// @notice Replaces a compromised permission signer at once (no rotation delay): σ it signs
    /// clear no answer served after now, whatever issue time they claim (its holder can
    /// backdate). A pending rotation is dropped with it.
    /// @dev σ it issued before now still clear the answers served before now, so an honest host
    /// keeps what it was given; revoking cannot reach back, or a greedy admin could void the σ of
    /// hosts it wants slashed. Allowed on a Retired model too: its licenses may still be served.
    /// @param modelId A model the caller administers.
    /// @param newSigner The signer that replaces the revoked one (non-zero, not the revoked one).
    function revokeSigner(uint256 modelId, address newSigner) external {
        Model storage m = _onlyAdmin(modelId);
        if (newSigner == address(0)) revert ModelRegistry__ZeroSigner();
        _settleRotation(modelId, m);
        address revoked = m.permissionSigner;
        if (newSigner == revoked) revert ModelRegistry__SameSigner(newSigner);
        _signerReplacedAt[modelId][revoked] = block.timestamp;
        _signerRevokedAt[modelId][revoked] = block.timestamp;
        m.permissionSigner = newSigner;
        m.pendingSigner = address(0);
        m.signerSwitchAt = 0;
        emit SignerRevoked(modelId, revoked, newSigner);
    }

    /// @notice Starts the unbonding of a derived model's registration stake: it can be withdrawn
    /// after the longer of the model's current terms' unbondingPeriod and `minRetirementUnbonding`.
    /// @dev The time is fixed here: terms published later (updateTerms) do not move it.
    /// @param modelId A derived model the caller administers, with stake, not already retiring.
    function requestRetirement(uint256 modelId) external {
        Model storage m = _onlyAdmin(modelId);
        if (m.registrationStake == 0) revert ModelRegistry__NothingStaked(modelId);
        if (m.retireUnbondAt != 0) revert ModelRegistry__AlreadyRetiring(modelId);
        uint256 unbonding = _terms[modelId][m.termsVersion].unbondingPeriod;
        if (unbonding < _minRetirementUnbonding) unbonding = _minRetirementUnbonding;
        uint256 at = block.timestamp + unbonding;
        m.retireUnbondAt = uint40(at);
        emit RetirementRequested(modelId, at);
    }

    /// @notice Returns the registration stake to the admin after unbonding, when no claim is
    /// open, and retires the model: no new license, derivative, claim or terms from then on.
    /// @param modelId A model the caller administers whose retirement has unbonded.
    function withdrawRegistration(uint256 modelId) external {
        Model storage m = _onlyAdmin(modelId);
        uint256 unbondAt = m.retireUnbondAt;
        if (unbondAt == 0) revert ModelRegistry__NotRetiring(modelId);
        if (block.timestamp < unbondAt || _openLineageClaims(modelId) != 0) {
            revert ModelRegistry__StillUnbonding(modelId, unbondAt);
        }
        uint256 amount = m.registrationStake;
        if (amount == 0) revert ModelRegistry__NothingStaked(modelId);
        m.registrationStake = 0;
        m.retired = true;
        _totalRegistrationStake -= amount;
        emit RegistrationWithdrawn(modelId, msg.sender, amount);
        emit ModelRetired(modelId);
        (bool ok,) = msg.sender.call{value: amount}("");
        if (!ok) revert ModelRegistry__TransferFailed();
    }

    /// @notice Checks a LINEAGE accusation and returns what the claim needs.
    /// @dev `familyId` must be neither the subject nor one of its declared ancestors, neither may
    /// be Retired, and the family's lineage root must have been set strictly before the subject
    /// registered: a model cannot have copied fingerprints that did not exist yet, while a family
    /// registered after the subject, with leaves copied from anywhere, could otherwise take the
    /// subject's stake under its own terms.
    /// @param subjectId The accused model.
    /// @param familyId The model whose lineage root holds the revealed leaf.
    /// @return stake The subject's registration stake (snapshotted by the claim).
    /// @return lineageRoot The family's lineage root that the revealed leaf is proven against.
    /// @return familyVersion The family's current terms version (bond, window, slash fraction).
    /// @return accused The subject's admin, who receives the bond if the claim is refuted.
    function lineageClaimInfo(uint256 subjectId, uint256 familyId)
        external
        view
        returns (uint256 stake, bytes32 lineageRoot, uint32 familyVersion, address accused)
    {
        Model storage subject = _model(subjectId);
        Model storage family = _model(familyId);
        if (subject.retired) revert ModelRegistry__Retired(subjectId);
        if (family.retired) revert ModelRegistry__Retired(familyId);
        // At most MAX_LINEAGE_DEPTH + 1 steps: registerDerivedModel caps every model's depth.
        for (uint256 cursor = subjectId; cursor != 0; cursor = _models[cursor].parentId) {
            if (cursor == familyId) revert ModelRegistry__SameFamily(subjectId, familyId);
        }
        stake = subject.registrationStake;
        if (stake == 0) revert ModelRegistry__NothingStaked(subjectId);
        lineageRoot = family.lineageRoot;
        if (lineageRoot == bytes32(0)) revert ModelRegistry__NotInFamily(subjectId, familyId);
        if (family.lineageRootSetAt >= subject.registeredAt) {
            revert ModelRegistry__LineageRootNotPrior(subjectId, familyId);
        }
        familyVersion = family.termsVersion;
        accused = subject.admin;
    }

    /// @notice Slashes up to `amount` of a registration stake and sends it to the ClaimManager.
    /// @param modelId The model whose registration stake is slashed.
    /// @param amount The most to slash.
    /// @return slashed What was slashed: `amount`, or the whole stake if that is less.
    function slashRegistration(uint256 modelId, uint256 amount) external returns (uint256 slashed) {
        if (msg.sender != _claimManager) revert ModelRegistry__NotClaimManager(msg.sender);
        Model storage m = _model(modelId);
        uint256 stake = m.registrationStake;
        slashed = amount < stake ? amount : stake;
        // slashed <= stake, checked on the line above.
        unchecked {
            m.registrationStake = uint96(stake - slashed);
            _totalRegistrationStake -= slashed;
        }
        emit RegistrationSlashed(modelId, slashed);
        (bool ok,) = msg.sender.call{value: slashed}("");
        if (!ok) revert ModelRegistry__TransferFailed();
    }

    // ---------------------------------------------------------------- views

    /// @notice Whether `signer` may sign σ for `modelId` with issue time `issuedAt`.
    function isPermissionSigner(uint256 modelId, address signer, uint64 issuedAt) public view returns (bool) {
        Model storage m = _models[modelId];
        if (signer == address(0)) return false;
        // switchAt shares a slot with permissionSigner: the usual case reads one slot.
        uint256 switchAt = m.signerSwitchAt;
        if (switchAt != 0 && block.timestamp >= switchAt) {
            // The rotation is due but not yet written to storage.
            if (signer == m.pendingSigner) return true;
            if (signer == m.permissionSigner) return issuedAt < switchAt;
        } else if (signer == m.permissionSigner) {
            return true;
        }
        return issuedAt < _signerReplacedAt[modelId][signer];
    }

    /// @notice Whether a σ that `signer` signed with issue time `issuedAt` clears an answer served
    /// at `servedAt` (ClaimManager.refute): a signer of the model at `issuedAt`, and, for a key
    /// revoked as compromised, an answer served no later than the revocation (its holder can
    /// backdate; the revocation's own second still counts, as answers of that second may have
    /// been served before the revoking transaction).
    function permissionClears(uint256 modelId, address signer, uint64 issuedAt, uint64 servedAt)
        external
        view
        returns (bool)
    {
        uint256 revokedAt = _signerRevokedAt[modelId][signer];
        if (revokedAt != 0 && servedAt > revokedAt) return false;
        return isPermissionSigner(modelId, signer, issuedAt);
    }

    /// @notice When `signer` was revoked as compromised for `modelId` (0: never).
    function signerRevokedAt(uint256 modelId, address signer) external view returns (uint256) {
        return _signerRevokedAt[modelId][signer];
    }

    /// @notice The permission signer in force now.
    function permissionSigner(uint256 modelId) public view returns (address) {
        Model storage m = _model(modelId);
        uint256 switchAt = m.signerSwitchAt;
        if (switchAt != 0 && block.timestamp >= switchAt) return m.pendingSigner;
        return m.permissionSigner;
    }

    /// @notice Terms of `modelId` at `version` (Retired models included: their licenses keep them).
    function terms(uint256 modelId, uint32 version) external view returns (Terms memory) {
        _model(modelId);
        return _terms[modelId][version];
    }

    /// @notice The terms a claim needs, without decoding the whole struct (openClaim is hot).
    /// @dev licensePeriod shares a slot with the window and the fractions: it costs no extra read.
    function claimTerms(uint256 modelId, uint32 version)
        external
        view
        returns (
            uint96 claimBond,
            uint32 challengeWindow,
            uint16 slashBps,
            uint16 claimantRewardBps,
            uint32 licensePeriod
        )
    {
        Terms storage t = _terms[modelId][version];
        return (t.claimBond, t.challengeWindow, t.slashBps, t.claimantRewardBps, t.licensePeriod);
    }

    /// @notice Current terms version, terms and their hash: the terms a new license accepts.
    /// @dev Reverts for a Retired model, which takes no new license (LicenseManager reads this).
    function currentTerms(uint256 modelId) external view returns (uint32 version, Terms memory t, bytes32 termsHash) {
        version = _live(modelId).termsVersion;
        t = _terms[modelId][version];
        termsHash = keccak256(abi.encode(t));
    }

    /// @notice Admin, parent, stake and roots of a model.
    function modelInfo(uint256 modelId)
        external
        view
        returns (address admin, uint256 parentId, uint96 registrationStake, bytes32 lineageRoot, bytes32 weightsHash)
    {
        Model storage m = _model(modelId);
        return (m.admin, m.parentId, m.registrationStake, m.lineageRoot, m.weightsHash);
    }

    /// @notice When `modelId` registered and set its lineage root (0: none), its declared depth,
    /// when its retirement unbonds (0: not retiring) and whether it is Retired.
    function lineageInfo(uint256 modelId)
        external
        view
        returns (uint40 registeredAt, uint40 lineageRootSetAt, uint8 depth, uint40 retireUnbondAt, bool retired)
    {
        Model storage m = _model(modelId);
        return (m.registeredAt, m.lineageRootSetAt, m.depth, m.retireUnbondAt, m.retired);
    }

    /// @notice The shortest unbonding a retirement has, whatever the model's terms say.
    function minRetirementUnbonding() external view returns (uint256) {
        return _minRetirementUnbonding;
    }

    /// @notice The model's admin (sets fingerprint roots and terms).
    function adminOf(uint256 modelId) external view returns (address) {
        return _model(modelId).admin;
    }

    /// @notice The model's owners.
    function owners(uint256 modelId) external view returns (address[] memory) {
        _model(modelId);
        return _owners[modelId];
    }

    /// @notice `owner`'s shares in `modelId` and the model's total shares.
    function sharesOf(uint256 modelId, address owner) external view returns (uint256 shares, uint256 totalShares) {
        return (_shares[modelId][owner], _model(modelId).totalShares);
    }

    /// @notice Number of models registered.
    function modelCount() external view returns (uint256) {
        return _modelCount;
    }

    /// @notice Sum of all registration stakes held.
    function totalRegistrationStake() external view returns (uint256) {
        return _totalRegistrationStake;
    }

    // ------------------------------------------------------------- internals

    function _register(
        uint256 parentId,
        uint256 depth,
        address[] calldata owners_,
        uint256[] calldata shares_,
        address signer,
        Terms calldata t,
        bytes32 lineageRoot,
        bytes32 weightsHash,
        uint256 stake
    ) private returns (uint256 modelId) {
        if (signer == address(0)) revert ModelRegistry__ZeroSigner();
        _validateTerms(t);
        modelId = ++_modelCount;
        uint256 total = _setOwners(modelId, owners_, shares_);
        Model storage m = _models[modelId];
        m.admin = msg.sender;
        m.parentId = uint64(parentId);
        m.termsVersion = 1;
        m.permissionSigner = signer;
        m.registrationStake = uint96(stake);
        m.lineageRoot = lineageRoot;
        m.weightsHash = weightsHash;
        m.totalShares = total;
        m.registeredAt = uint40(block.timestamp);
        if (lineageRoot != bytes32(0)) m.lineageRootSetAt = uint40(block.timestamp);
        m.depth = uint8(depth);
        _terms[modelId][1] = t;
        _totalRegistrationStake += stake;
        emit ModelRegistered(modelId, parentId, msg.sender, signer, lineageRoot, weightsHash, stake);
        emit TermsUpdated(modelId, 1, keccak256(abi.encode(t)), t);
    }

    function _setOwners(uint256 modelId, address[] calldata owners_, uint256[] calldata shares_)
        private
        returns (uint256 total)
    {
        uint256 n = owners_.length;
        if (n == 0) revert ModelRegistry__NoOwners();
        if (n > MAX_OWNERS) revert ModelRegistry__TooManyOwners(n);
        if (n != shares_.length) revert ModelRegistry__LengthMismatch();
        for (uint256 i; i < n; ++i) {
            address owner = owners_[i];
            uint256 s = shares_[i];
            if (owner == address(0)) revert ModelRegistry__InvalidOwner(owner);
            if (s == 0) revert ModelRegistry__ZeroShares(owner);
            if (_shares[modelId][owner] != 0) revert ModelRegistry__DuplicateOwner(owner);
            _shares[modelId][owner] = s;
            _owners[modelId].push(owner);
            total += s;
            emit OwnerShare(modelId, owner, s);
        }
    }

    function _validateTerms(Terms calldata t) private pure {
        if (t.licensePeriod == 0) revert ModelRegistry__InvalidTerms("licensePeriod");
        if (t.challengeWindow == 0) revert ModelRegistry__InvalidTerms("challengeWindow");
        // The stake must stay slashable for a whole window after the last query it served.
        if (t.unbondingPeriod <= t.challengeWindow) revert ModelRegistry__InvalidTerms("unbondingPeriod");
        if (t.slashBps == 0 || t.slashBps > 10_000) revert ModelRegistry__InvalidTerms("slashBps");
        if (t.claimantRewardBps > 10_000) revert ModelRegistry__InvalidTerms("claimantRewardBps");
        if (t.minStake == 0) revert ModelRegistry__InvalidTerms("minStake");
        if (t.claimBond == 0) revert ModelRegistry__InvalidTerms("claimBond");
    }

    function _settleRotation(uint256 modelId, Model storage m) private {
        uint256 switchAt = m.signerSwitchAt;
        if (switchAt != 0 && block.timestamp >= switchAt) {
            // Switch times only grow, so this keeps the latest time a signer was replaced.
            _signerReplacedAt[modelId][m.permissionSigner] = switchAt;
            m.permissionSigner = m.pendingSigner;
            m.pendingSigner = address(0);
            m.signerSwitchAt = 0;
        }
    }

    /// @dev The largest registrationStake and unbondingPeriod in the current terms of `cursor` and
    /// of every ancestor it declares. Callers bound the walk: `cursor` is a registered model,
    /// whose depth registerDerivedModel capped.
    function _familyFloor(uint256 cursor) private view returns (uint256 stake, uint256 unbonding) {
        while (cursor != 0) {
            Model storage m = _models[cursor];
            Terms storage t = _terms[cursor][m.termsVersion];
            if (t.registrationStake > stake) stake = t.registrationStake;
            if (t.unbondingPeriod > unbonding) unbonding = t.unbondingPeriod;
            cursor = m.parentId;
        }
    }

    function _openLineageClaims(uint256 modelId) private view returns (uint256) {
        return IClaimManagerViews(_claimManager).openClaims(true, modelId);
    }

    function _onlyAdmin(uint256 modelId) private view returns (Model storage m) {
        m = _model(modelId);
        if (msg.sender != m.admin) revert ModelRegistry__NotAdmin(modelId, msg.sender);
    }

    /// @dev A registered model that is not Retired.
    function _live(uint256 modelId) private view returns (Model storage m) {
        m = _model(modelId);
        if (m.retired) revert ModelRegistry__Retired(modelId);
    }

    function _model(uint256 modelId) private view returns (Model storage m) {
        m = _models[modelId];
        if (m.admin == address(0)) revert ModelRegistry__UnknownModel(modelId);
    }
}
