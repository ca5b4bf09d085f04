// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @notice Commercial and security terms a model's owners set for its licenses.
/// @dev Layout and order are part of the protocol: `termsHash = keccak256(abi.encode(terms))`.
struct Terms {
    uint96 pricePerQuery;
    uint96 minStake;
    uint96 claimBond;
    uint96 registrationStake;
    uint64 quota;
    uint32 licensePeriod;
    uint32 challengeWindow;
    uint32 unbondingPeriod;
    uint16 slashBps;
    uint16 claimantRewardBps;
}

/// @notice What a claim accuses its subject of.
enum ClaimKind {
    UNPERMITTED_USE,
    LEAK,
    LINEAGE,
    ALIGNMENT_BREACH
}

/// @notice Lifecycle of a license.
enum LicenseStatus {
    None,
    Active,
    Exiting,
    Exited
}
