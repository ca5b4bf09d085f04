// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Terms} from "./lib/OMLTypes.sol";
import {ClaimManagerBound} from "./lib/ClaimManagerBound.sol";
import {IClaimManagerViews} from "./interfaces/IOML.sol";

/// @title ModelRegistry
/// @notice Registers community-owned models: owners and their shares, the permission signer that
/// signs σ(q), versioned license terms, the lineage root of fingerprints that name the model's
/// family, and derived models that declare a parent and lock a registration stake.
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

    event ModelRegistered(
        uint256 indexed modelId, uint256 indexed parentId, address indexed admin, address permissionSigner,
        bytes32 lineageRoot, bytes32 weightsHash, uint256 registrationStake
    );
    event OwnerShare(uint256 indexed modelId, address indexed owner, uint256 shares);
    event TermsUpdated(uint256 indexed modelId, uint32 indexed version, bytes32 termsHash, Terms terms);
    event SignerRotationProposed(uint256 indexed modelId, address indexed newSigner, uint256 effectiveAt);
    event SignerRevoked(uint256 indexed modelId, address indexed revoked, address indexed newSigner);
    event LineageRootSet(uint256 indexed modelId, bytes32 lineageRoot);
    event RegistrationSlashed(uint256 indexed modelId, uint256 amount);
    event RetirementRequested(uint256 indexed modelId, uint256 unbondAt);
    event RegistrationWithdrawn(uint256 indexed modelId, address indexed to, uint256 amount);

    /// @notice Delay before a newly proposed permission signer takes over.
    uint256 public constant SIGNER_ROTATION_DELAY = 1 days;
    uint256 public constant MAX_OWNERS = 32;
    /// @notice How far up the declared ancestry a lineage check walks.
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

    /// @param claimManager_ The ClaimManager that may slash registration stakes.
    constructor(address claimManager_) ClaimManagerBound(claimManager_) {}

    /// @notice Registers a base model; the caller becomes its admin.
    /// @param owners_ Addresses that share the model's revenue.
    /// @param shares Each owner's share (any positive integers; revenue is split pro rata).
    /// @param permissionSigner_ Key of the community's permission service that signs σ(q).
    /// @param terms_ License terms (version 1).
    /// @param lineageRoot Merkle root of the model family's lineage fingerprints (0 if none).
    /// @param weightsHash Hash of the published base weights.
    function registerModel(
        address[] calldata owners_,
        uint256[] calldata shares,
        address permissionSigner_,
        Terms calldata terms_,
        bytes32 lineageRoot,
        bytes32 weightsHash
    ) external returns (uint256 modelId) {
        modelId = _register(0, owners_, shares, permissionSigner_, terms_, lineageRoot, weightsHash, 0);
    }

    /// @notice Registers a model derived from `parentId`, locking the parent's registration stake.
    /// @dev The stake can be slashed by a LINEAGE claim if the model answers the lineage
    /// fingerprints of a family it did not declare.
    function registerDerivedModel(
        uint256 parentId,
        address[] calldata owners_,
        uint256[] calldata shares,
        address permissionSigner_,
        Terms calldata terms_,
        bytes32 lineageRoot,
        bytes32 weightsHash
    ) external payable returns (uint256 modelId) {
        Model storage parent = _model(parentId);
        uint256 required = _terms[parentId][parent.termsVersion].registrationStake;
        if (msg.value != required || required == 0) revert ModelRegistry__WrongRegistrationStake(required, msg.value);
        modelId = _register(parentId, owners_, shares, permissionSigner_, terms_, lineageRoot, weightsHash, msg.value);
    }

    /// @notice Publishes a new version of the terms; existing licenses keep the version they accepted.
    function updateTerms(uint256 modelId, Terms calldata terms_) external {
        Model storage m = _onlyAdmin(modelId);
        _validateTerms(terms_);
        uint32 version = m.termsVersion + 1;
        m.termsVersion = version;
        _terms[modelId][version] = terms_;
        emit TermsUpdated(modelId, version, keccak256(abi.encode(terms_)), terms_);
    }

    /// @notice Sets the lineage fingerprint root of a model that had none.
    function setLineageRoot(uint256 modelId, bytes32 lineageRoot) external {
        Model storage m = _onlyAdmin(modelId);
        if (m.lineageRoot != bytes32(0) || lineageRoot == bytes32(0)) revert ModelRegistry__InvalidTerms("lineage root");
        m.lineageRoot = lineageRoot;
        emit LineageRootSet(modelId, lineageRoot);
    }

    /// @notice Proposes a new permission signer; it takes over after SIGNER_ROTATION_DELAY.
    /// @dev σ signed by the outgoing signer stay valid for issue times before the switch, so a
    /// host that followed the protocol can still refute claims about queries served before it.
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
    /// hosts it wants slashed.
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

    /// @notice Starts the unbonding of a derived model's registration stake.
    function requestRetirement(uint256 modelId) external {
        Model storage m = _onlyAdmin(modelId);
        if (m.registrationStake == 0) revert ModelRegistry__NothingStaked(modelId);
        if (m.retireUnbondAt != 0) revert ModelRegistry__AlreadyRetiring(modelId);
        uint256 at = block.timestamp + _terms[modelId][m.termsVersion].unbondingPeriod;
        m.retireUnbondAt = uint40(at);
        emit RetirementRequested(modelId, at);
    }

    /// @notice Returns the registration stake to the admin after unbonding, when no claim is open.
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
        _totalRegistrationStake -= amount;
        emit RegistrationWithdrawn(modelId, msg.sender, amount);
        (bool ok,) = msg.sender.call{value: amount}("");
        if (!ok) revert ModelRegistry__TransferFailed();
    }

    /// @notice Checks a LINEAGE accusation and returns what the claim needs.
    /// @dev `familyId` must be neither the subject nor one of its declared ancestors.
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
        uint256 cursor = subjectId;
        for (uint256 depth; cursor != 0; ++depth) {
            if (depth > MAX_LINEAGE_DEPTH) revert ModelRegistry__LineageTooDeep();
            if (cursor == familyId) revert ModelRegistry__SameFamily(subjectId, familyId);
            cursor = _models[cursor].parentId;
        }
        stake = subject.registrationStake;
        if (stake == 0) revert ModelRegistry__NothingStaked(subjectId);
        lineageRoot = family.lineageRoot;
        if (lineageRoot == bytes32(0)) revert ModelRegistry__NotInFamily(subjectId, familyId);
        familyVersion = family.termsVersion;
        accused = subject.admin;
    }

    /// @notice Slashes up to `amount` of a registration stake and sends it to the ClaimManager.
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

    /// @notice Terms of `modelId` at `version`.
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

    /// @notice Current terms version, terms and their hash.
    function currentTerms(uint256 modelId) external view returns (uint32 version, Terms memory t, bytes32 termsHash) {
        version = _model(modelId).termsVersion;
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

    function _openLineageClaims(uint256 modelId) private view returns (uint256) {
        return IClaimManagerViews(_claimManager).openClaims(true, modelId);
    }

    function _onlyAdmin(uint256 modelId) private view returns (Model storage m) {
        m = _model(modelId);
        if (msg.sender != m.admin) revert ModelRegistry__NotAdmin(modelId, msg.sender);
    }

    function _model(uint256 modelId) private view returns (Model storage m) {
        m = _models[modelId];
        if (m.admin == address(0)) revert ModelRegistry__UnknownModel(modelId);
    }
}
