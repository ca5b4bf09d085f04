// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Terms, LicenseStatus} from "./lib/OMLTypes.sol";
import {TypedData} from "./lib/TypedData.sol";
import {ClaimManagerBound} from "./lib/ClaimManagerBound.sol";
import {IModelRegistry, IClaimManagerViews, IUsageBooks} from "./interfaces/IOML.sol";

/// @title LicenseManager
/// @notice Hosts accept a model's terms, stake, and receive a license: an id, an endpoint, the
/// per-license fingerprint commitment the owners set before download, and an expiry. Exit is a
/// request followed by a withdrawal after an unbonding period longer than the challenge window;
/// the stake stays slashable while unbonding and cannot leave while a claim is open. Fees a
/// settled voucher owes beyond the license's escrow are taken from the stake (by UsageSettlement
/// only), before any claim's slash.
contract LicenseManager is TypedData, ClaimManagerBound {
    error LicenseManager__UnknownLicense(uint256 licenseId);
    error LicenseManager__TermsChanged(bytes32 expected, bytes32 current);
    error LicenseManager__InsufficientStake(uint256 required, uint256 sent);
    error LicenseManager__BadEndpoint();
    error LicenseManager__ZeroReceiptSigner();
    error LicenseManager__NotHost(uint256 licenseId, address caller);
    error LicenseManager__NotModelAdmin(uint256 licenseId, address caller);
    error LicenseManager__NotActive(uint256 licenseId);
    error LicenseManager__Expired(uint256 licenseId, uint256 expiresAt);
    error LicenseManager__NotExiting(uint256 licenseId);
    error LicenseManager__NotSlashable(uint256 licenseId);
    error LicenseManager__CommitmentAlreadySet(uint256 licenseId);
    error LicenseManager__ZeroRoot();
    error LicenseManager__StillUnbonding(uint256 licenseId, uint256 unbondAt);
    error LicenseManager__ClaimOpen(uint256 licenseId);
    error LicenseManager__UsageNotClosed(uint256 licenseId, uint256 withdrawableAt);
    error LicenseManager__NotClaimManager(address caller);
    error LicenseManager__NotUsageSettlement(address caller);
    error LicenseManager__ZeroValue();
    error LicenseManager__TransferFailed();

    event LicenseAcquired(
        uint256 indexed licenseId, uint256 indexed modelId, address indexed host, uint256 stake,
        uint32 termsVersion, bytes32 agreementHash, uint256 expiresAt, string endpoint, address receiptSigner
    );
    event StakeAdded(uint256 indexed licenseId, uint256 amount, uint256 stake);
    event FingerprintCommitmentSet(uint256 indexed licenseId, bytes32 fingerprintRoot, bytes32 weightsHash);
    event EndpointUpdated(uint256 indexed licenseId, string endpoint);
    event ExitRequested(uint256 indexed licenseId, uint256 unbondAt);
    event StakeWithdrawn(uint256 indexed licenseId, address indexed host, uint256 amount);
    event StakeSlashed(uint256 indexed licenseId, uint256 amount, uint256 remaining);
    event FeesCollected(uint256 indexed licenseId, uint256 amount, uint256 remaining);

    bytes32 public constant LICENSE_AGREEMENT_TYPEHASH =
        keccak256("LicenseAgreement(uint256 modelId,address host,bytes32 termsHash,bytes32 endpointHash)");
    uint256 public constant MAX_ENDPOINT_LENGTH = 256;

    struct License {
        address host;
        uint40 expiresAt;
        uint40 unbondAt;
        LicenseStatus status;
        uint64 modelId;
        uint32 termsVersion;
        uint96 stake;
        uint64 quota;
        bytes32 fingerprintRoot;
        bytes32 weightsHash;
        bytes32 agreementHash;
        string endpoint;
        address receiptSigner;
    }

    IModelRegistry private immutable _registry;
    address private immutable _usageSettlement;
    mapping(uint256 => License) private _licenses;
    uint256 private _licenseCount;

    /// @param claimManager_ The ClaimManager that may slash stakes.
    /// @param usageSettlement_ The UsageSettlement that may collect unpaid fees from stakes. Like
    /// the ClaimManager it is deployed later, at an address predicted from the deployer's nonce
    /// (the next creation after this one); its constructor refuses to exist unless this names it.
    constructor(IModelRegistry registry_, address claimManager_, address usageSettlement_)
        ClaimManagerBound(claimManager_)
    {
        _registry = registry_;
        _usageSettlement = usageSettlement_;
    }

    /// @notice Accepts the model's current terms, stakes `msg.value` and opens a license.
    /// @param modelId The model to host.
    /// @param endpoint Where the host serves users (an https URL); LEAK claims refer to it.
    /// @param termsHash Hash of the terms the host agrees to; guards against a terms change in flight.
    /// @param receiptSigner Key the host's gateway signs every answer's receipt with (an EOA, so
    /// that a host account that is a contract still yields evidence). Fixed for the license's
    /// life: a host that could change it could disown the receipts it already gave.
    /// @return licenseId The new license.
    function acquireLicense(uint256 modelId, string calldata endpoint, bytes32 termsHash, address receiptSigner)
        external
        payable
        returns (uint256 licenseId)
    {
        if (receiptSigner == address(0)) revert LicenseManager__ZeroReceiptSigner();
        (uint32 version, Terms memory t, bytes32 current) = _registry.currentTerms(modelId);
        if (termsHash != current) revert LicenseManager__TermsChanged(termsHash, current);
        if (msg.value < t.minStake) revert LicenseManager__InsufficientStake(t.minStake, msg.value);
        _checkEndpoint(endpoint);
        licenseId = ++_licenseCount;
        License storage l = _licenses[licenseId];
        l.host = msg.sender;
        l.expiresAt = uint40(block.timestamp + t.licensePeriod);
        l.status = LicenseStatus.Active;
        l.modelId = uint64(modelId);
        l.termsVersion = version;
        l.stake = uint96(msg.value);
        l.quota = t.quota;
        l.agreementHash = agreementHash(modelId, msg.sender, termsHash, endpoint);
        l.endpoint = endpoint;
        l.receiptSigner = receiptSigner;
        _emitAcquired(licenseId, l);
    }

    /// @notice Adds to an active license's stake.
    function addStake(uint256 licenseId) external payable {
        License storage l = _onlyLive(licenseId);
        if (msg.value == 0) revert LicenseManager__ZeroValue();
        uint256 stake = l.stake + msg.value;
        l.stake = uint96(stake);
        emit StakeAdded(licenseId, msg.value, stake);
    }

    /// @notice The model admin commits the license's fingerprints and weights, once, before download.
    /// @param fingerprintRoot Merkle root of this license's fingerprint leaves.
    /// @param weightsHash Hash of the license's M.oml weights, checked by the host after download.
    function setFingerprintCommitment(uint256 licenseId, bytes32 fingerprintRoot, bytes32 weightsHash) external {
        License storage l = _license(licenseId);
        if (msg.sender != _registry.adminOf(l.modelId)) revert LicenseManager__NotModelAdmin(licenseId, msg.sender);
        if (l.status != LicenseStatus.Active) revert LicenseManager__NotActive(licenseId);
        if (l.fingerprintRoot != bytes32(0)) revert LicenseManager__CommitmentAlreadySet(licenseId);
        if (fingerprintRoot == bytes32(0)) revert LicenseManager__ZeroRoot();
        l.fingerprintRoot = fingerprintRoot;
        l.weightsHash = weightsHash;
        emit FingerprintCommitmentSet(licenseId, fingerprintRoot, weightsHash);
    }

    /// @notice Moves an active license to a new endpoint.
    function setEndpoint(uint256 licenseId, string calldata endpoint) external {
        License storage l = _onlyLive(licenseId);
        _checkEndpoint(endpoint);
        l.endpoint = endpoint;
        emit EndpointUpdated(licenseId, endpoint);
    }

    /// @notice Stops serving: starts the unbonding period. The stake stays slashable meanwhile.
    function requestExit(uint256 licenseId) external {
        License storage l = _onlyHost(licenseId);
        if (l.status != LicenseStatus.Active) revert LicenseManager__NotActive(licenseId);
        uint256 unbondAt = block.timestamp + _registry.terms(l.modelId, l.termsVersion).unbondingPeriod;
        l.status = LicenseStatus.Exiting;
        l.unbondAt = uint40(unbondAt);
        emit ExitRequested(licenseId, unbondAt);
    }

    /// @notice Pays the remaining stake back after unbonding, when no claim is open against it and
    /// the permission signer closed the license's usage account (every σ settled, so the fees were
    /// taken first). If the account was not closed, the host waits a second unbonding period: a
    /// permission service that is down, or will not close, can delay a host but not keep its stake.
    function withdraw(uint256 licenseId) external {
        License storage l = _onlyHost(licenseId);
        if (l.status != LicenseStatus.Exiting) revert LicenseManager__NotExiting(licenseId);
        uint256 unbondAt = l.unbondAt;
        if (block.timestamp < unbondAt) revert LicenseManager__StillUnbonding(licenseId, unbondAt);
        if (!IUsageBooks(_usageSettlement).accountClosed(licenseId)) {
            uint256 at = unbondAt + _registry.terms(l.modelId, l.termsVersion).unbondingPeriod;
            if (block.timestamp < at) revert LicenseManager__UsageNotClosed(licenseId, at);
        }
        if (IClaimManagerViews(_claimManager).openClaims(false, licenseId) != 0) {
            revert LicenseManager__ClaimOpen(licenseId);
        }
        uint256 amount = l.stake;
        l.stake = 0;
        l.status = LicenseStatus.Exited;
        emit StakeWithdrawn(licenseId, msg.sender, amount);
        (bool ok,) = msg.sender.call{value: amount}("");
        if (!ok) revert LicenseManager__TransferFailed();
    }

    /// @notice Slashes up to `amount` of the stake and sends it to the ClaimManager.
    /// @return slashed What was actually taken (less than `amount` only if earlier slashes took the rest).
    function slash(uint256 licenseId, uint256 amount) external returns (uint256 slashed) {
        if (msg.sender != _claimManager) revert LicenseManager__NotClaimManager(msg.sender);
        // No existence check: the ClaimManager only slashes licenses it opened a claim on.
        uint256 remaining;
        (slashed, remaining) = _takeStake(_licenses[licenseId], amount);
        emit StakeSlashed(licenseId, slashed, remaining);
        _sendToCaller(slashed);
    }

    /// @notice Takes up to `amount` of the stake for fees a settled voucher owes beyond the
    /// license's escrow, and sends it to UsageSettlement. UsageSettlement only.
    /// @dev Fees come before claims: pending slashes are reservations against what is left, and
    /// an execute takes at most the stake remaining (docs/PROTOCOL.md, Usage and fees).
    /// @return collected What was taken (less than `amount` only when the stake ran out).
    function collectFees(uint256 licenseId, uint256 amount) external returns (uint256 collected) {
        if (msg.sender != _usageSettlement) revert LicenseManager__NotUsageSettlement(msg.sender);
        // No existence check: UsageSettlement read the license before settling its voucher.
        uint256 remaining;
        (collected, remaining) = _takeStake(_licenses[licenseId], amount);
        emit FeesCollected(licenseId, collected, remaining);
        if (collected != 0) _sendToCaller(collected);
    }

    // ---------------------------------------------------------------- views

    /// @notice EIP-712 digest of LicenseAgreement(modelId, host, termsHash, keccak256(endpoint)).
    function agreementHash(uint256 modelId, address host, bytes32 termsHash, string calldata endpoint)
        public
        view
        returns (bytes32)
    {
        return _digest(
            keccak256(abi.encode(LICENSE_AGREEMENT_TYPEHASH, modelId, host, termsHash, keccak256(bytes(endpoint))))
        );
    }

    /// @notice What a claim against `licenseId` needs; reverts when the stake is no longer slashable.
    /// @dev The license began at expiresAt − the terms' licensePeriod, which the claim reads with
    /// the rest of the terms (no extra slot here).
    function claimInfo(uint256 licenseId)
        external
        view
        returns (
            uint256 modelId,
            uint32 termsVersion,
            uint256 stake,
            bytes32 fingerprintRoot,
            address host,
            uint256 expiresAt,
            address receiptSigner
        )
    {
        License storage l = _licenses[licenseId];
        if (l.status != LicenseStatus.Active && l.status != LicenseStatus.Exiting) {
            revert LicenseManager__NotSlashable(licenseId);
        }
        return (l.modelId, l.termsVersion, l.stake, l.fingerprintRoot, l.host, l.expiresAt, l.receiptSigner);
    }

    /// @notice What settling a usage voucher needs.
    function usageInfo(uint256 licenseId)
        external
        view
        returns (uint256 modelId, uint64 quota, LicenseStatus status, address host)
    {
        License storage l = _license(licenseId);
        return (l.modelId, l.quota, l.status, l.host);
    }

    /// @notice A license's status and expiry (a license serves only while Active and unexpired).
    function lifecycle(uint256 licenseId) external view returns (LicenseStatus status, uint256 expiresAt) {
        License storage l = _license(licenseId);
        return (l.status, l.expiresAt);
    }

    /// @notice A license's full record.
    function getLicense(uint256 licenseId) external view returns (License memory) {
        return _license(licenseId);
    }

    /// @notice Number of licenses ever issued.
    function licenseCount() external view returns (uint256) {
        return _licenseCount;
    }

    /// @notice The contracts this one reads (besides its ClaimManager).
    function wiring() external view returns (address registry) {
        return address(_registry);
    }

    /// @notice The UsageSettlement that may collect fees from stakes.
    function usageSettlement() external view returns (address) {
        return _usageSettlement;
    }

    // ------------------------------------------------------------- internals

    function _emitAcquired(uint256 licenseId, License storage l) private {
        emit LicenseAcquired(
            licenseId,
            l.modelId,
            l.host,
            l.stake,
            l.termsVersion,
            l.agreementHash,
            l.expiresAt,
            l.endpoint,
            l.receiptSigner
        );
    }

    /// @dev Takes up to `amount` of the license's stake: what was taken and what is left.
    function _takeStake(License storage l, uint256 amount) private returns (uint256 taken, uint256 remaining) {
        uint256 stake = l.stake;
        taken = amount < stake ? amount : stake;
        // taken <= stake by the line above.
        unchecked {
            remaining = stake - taken;
        }
        l.stake = uint96(remaining);
    }

    /// @dev Pays `amount` to the calling contract (the ClaimManager or UsageSettlement).
    function _sendToCaller(uint256 amount) private {
        (bool ok,) = msg.sender.call{value: amount}("");
        if (!ok) revert LicenseManager__TransferFailed();
    }

    function _checkEndpoint(string calldata endpoint) private pure {
        uint256 n = bytes(endpoint).length;
        if (n == 0 || n > MAX_ENDPOINT_LENGTH) revert LicenseManager__BadEndpoint();
    }

    /// @dev The host's own license, Active and not expired: stake and endpoint changes are for serving.
    function _onlyLive(uint256 licenseId) private view returns (License storage l) {
        l = _onlyHost(licenseId);
        if (l.status != LicenseStatus.Active) revert LicenseManager__NotActive(licenseId);
        if (block.timestamp >= l.expiresAt) revert LicenseManager__Expired(licenseId, l.expiresAt);
    }

    function _onlyHost(uint256 licenseId) private view returns (License storage l) {
        l = _license(licenseId);
        if (msg.sender != l.host) revert LicenseManager__NotHost(licenseId, msg.sender);
    }

    function _license(uint256 licenseId) private view returns (License storage l) {
        l = _licenses[licenseId];
        if (l.host == address(0)) revert LicenseManager__UnknownLicense(licenseId);
    }
}
