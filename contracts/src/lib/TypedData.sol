// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title EIP-712 domain of one OML contract, and signature recovery.
/// @dev Every OML contract that verifies a signed message is its own verifying contract, so a
/// signature is bound to one deployment, one chain and one use. Mirrors `oml_core/typed_data.py`.
abstract contract TypedData {
    error TypedData__BadSignature();

    bytes32 private constant _DOMAIN_TYPEHASH =
        keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)");
    bytes32 private constant _NAME_HASH = keccak256("OML");
    bytes32 private constant _VERSION_HASH = keccak256("1");
    // Upper bound of a canonical (low) s, EIP-2.
    uint256 private constant _HALF_ORDER = 0x7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF5D576E7357A4501DDFE92F46681B20A0;

    bytes32 private immutable _cachedSeparator;
    uint256 private immutable _cachedChainId;

    constructor() {
        _cachedChainId = block.chainid;
        _cachedSeparator = _buildSeparator();
    }

    /// @notice The EIP-712 domain separator of this contract on the current chain.
    function domainSeparator() public view returns (bytes32) {
        // Recomputed after a fork changes the chain id, so old signatures do not replay there.
        return block.chainid == _cachedChainId ? _cachedSeparator : _buildSeparator();
    }

    function _digest(bytes32 structHash) internal view returns (bytes32 d) {
        bytes32 sep = domainSeparator();
        assembly ("memory-safe") {
            let p := mload(0x40)
            mstore(p, hex"1901")
            mstore(add(p, 0x02), sep)
            mstore(add(p, 0x22), structHash)
            d := keccak256(p, 0x42)
        }
    }

    /// @dev Recovers the signer of a 65-byte r‖s‖v signature; rejects malleable and invalid ones.
    function _recover(bytes32 digest, bytes calldata signature) internal pure returns (address signer) {
        if (signature.length != 65) revert TypedData__BadSignature();
        bytes32 r;
        bytes32 s;
        uint8 v;
        assembly ("memory-safe") {
            r := calldataload(signature.offset)
            s := calldataload(add(signature.offset, 0x20))
            v := byte(0, calldataload(add(signature.offset, 0x40)))
        }
        if (uint256(s) > _HALF_ORDER || (v != 27 && v != 28)) revert TypedData__BadSignature();
        signer = ecrecover(digest, v, r, s);
        if (signer == address(0)) revert TypedData__BadSignature();
    }

    function _buildSeparator() private view returns (bytes32) {
        return keccak256(abi.encode(_DOMAIN_TYPEHASH, _NAME_HASH, _VERSION_HASH, block.chainid, address(this)));
    }
}
