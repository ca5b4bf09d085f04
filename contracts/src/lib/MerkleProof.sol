// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title Sorted-pair Merkle proofs (the OpenZeppelin convention), mirrored by `oml_core/merkle.py`.
library MerkleProof {
    /// @notice True when `proof` links `leaf` to `root`.
    function verify(bytes32[] calldata proof, bytes32 root, bytes32 leaf) internal pure returns (bool) {
        bytes32 node = leaf;
        for (uint256 i; i < proof.length; ++i) {
            node = _hashPair(node, proof[i]);
        }
        return node == root;
    }

    function _hashPair(bytes32 a, bytes32 b) private pure returns (bytes32 h) {
        assembly ("memory-safe") {
            switch lt(a, b)
            case 1 {
                mstore(0x00, a)
                mstore(0x20, b)
            }
            default {
                mstore(0x00, b)
                mstore(0x20, a)
            }
            h := keccak256(0x00, 0x40)
        }
    }
}
