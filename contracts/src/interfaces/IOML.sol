// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Terms, LicenseStatus} from "../lib/OMLTypes.sol";

/// @dev What the other OML contracts read from, and ask of, the ModelRegistry.
interface IModelRegistry {
    function currentTerms(uint256 modelId) external view returns (uint32 version, Terms memory t, bytes32 termsHash);
    function terms(uint256 modelId, uint32 version) external view returns (Terms memory);
    function claimTerms(uint256 modelId, uint32 version)
        external
        view
        returns (
            uint96 claimBond,
            uint32 challengeWindow,
            uint16 slashBps,
            uint16 claimantRewardBps,
            uint32 licensePeriod
        );
    function adminOf(uint256 modelId) external view returns (address);
    function sharesOf(uint256 modelId, address owner) external view returns (uint256 shares, uint256 totalShares);
    function permissionSigner(uint256 modelId) external view returns (address);
    function isPermissionSigner(uint256 modelId, address signer, uint64 issuedAt) external view returns (bool);
    function permissionClears(uint256 modelId, address signer, uint64 issuedAt, uint64 servedAt)
        external
        view
        returns (bool);
    function lineageClaimInfo(uint256 subjectId, uint256 familyId)
        external
        view
        returns (uint256 stake, bytes32 lineageRoot, uint32 familyVersion, address accused);
    function slashRegistration(uint256 modelId, uint256 amount) external returns (uint256 slashed);
}

/// @dev What the other OML contracts read from, and ask of, the LicenseManager.
interface ILicenseManager {
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
        );
    function usageInfo(uint256 licenseId)
        external
        view
        returns (uint256 modelId, uint64 quota, LicenseStatus status, address host);
    function lifecycle(uint256 licenseId) external view returns (LicenseStatus status, uint256 expiresAt);
    function slash(uint256 licenseId, uint256 amount) external returns (uint256 slashed);
    function collectFees(uint256 licenseId, uint256 amount) external returns (uint256 collected);
    function usageSettlement() external view returns (address);
}

/// @dev What the ClaimManager asks of the VerifierRegistry.
interface IVerifierRegistry {
    function attestingStake(address[] calldata signers)
        external
        view
        returns (uint256 signed, uint256 total, bool allActive);
    function penalize(address[] calldata verifiers) external returns (uint256 total);
    function config()
        external
        view
        returns (uint96 minStake, uint32 unbondingPeriod, uint32 activationDelay, uint16 penaltyBps);
}

/// @dev What the ClaimManager asks of UsageSettlement.
interface IUsageSettlement {
    function depositRevenue(uint256 modelId) external payable;
}

/// @dev What the LicenseManager asks of UsageSettlement before it returns a stake.
interface IUsageBooks {
    function accountClosed(uint256 licenseId) external view returns (bool);
}

/// @dev What the ClaimManager checks of each contract at deployment.
interface IClaimManagerBoundView {
    function claimManager() external view returns (address);
}

/// @dev The ClaimManager view that stake holders consult before releasing a stake.
interface IClaimManagerViews {
    function openClaims(bool lineage, uint256 subjectId) external view returns (uint256);
}
