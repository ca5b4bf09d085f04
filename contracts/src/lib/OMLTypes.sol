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

/// @notice What a claim accuses its subject of. UNPERMITTED_USE rests on the host's own receipt of
/// the answer; OBSERVED_USE is the same offence by a host that gave no receipt, resting on a stake
/// quorum of verifiers who each saw the license's endpoint serve its fingerprints without σ.
enum ClaimKind {
    UNPERMITTED_USE,
    LEAK,
    LINEAGE,
    ALIGNMENT_BREACH,
    OBSERVED_USE
}

/// @notice Lifecycle of a license.
enum LicenseStatus {
    None,
    Active,
    Exiting,
    Exited
}
