// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title Leaf formats committed to on chain, mirrored by `oml_core/typed_data.py`.
library Commitments {
    /// @notice Fingerprint leaf: double keccak (second-preimage safe) of (queryHash, responseHash, salt).
    function fingerprintLeaf(bytes32 queryHash, bytes32 responseHash, bytes32 salt) internal pure returns (bytes32) {
        return keccak256(bytes.concat(keccak256(abi.encode(queryHash, responseHash, salt))));
    }
}
