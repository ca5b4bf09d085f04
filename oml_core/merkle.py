"""Sorted-pair Merkle tree that OpenZeppelin's ``MerkleProof.verify`` accepts (docs/PROTOCOL.md).

Rules: leaves (bytes32, already hashed, see ``typed_data.fingerprint_leaf``/``usage_leaf``) are
sorted; a parent is ``keccak256(min(a, b) ‖ max(a, b))``; an odd node at the end of a level is
carried up unchanged; a one-leaf tree's root is the leaf. Because pairs are sorted, a proof is
just the list of siblings, with no left/right flags.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from itertools import pairwise

# eth_hash's keccak directly: eth_utils.keccak adds type dispatch that doubles the cost of the
# ~n hashes a large tree needs.
from eth_hash.auto import keccak


def hash_pair(a: bytes, b: bytes) -> bytes:
    # Byte order of equal-length big-endian words is Solidity's bytes32/uint256 order.
    return keccak(a + b) if a < b else keccak(b + a)


def _check_leaf(leaf: bytes) -> bytes:
    if not isinstance(leaf, (bytes, bytearray)) or len(leaf) != 32:
        raise ValueError(f"Merkle leaves and proof nodes must be 32 bytes, got {leaf!r}")
    return bytes(leaf)


class MerkleTree:
    def __init__(self, leaves: Iterable[bytes]) -> None:
        level = sorted(_check_leaf(leaf) for leaf in leaves)
        if not level:
            raise ValueError("a Merkle tree needs at least one leaf")
        # Duplicates would make two leaves share one proof and inflate counts; callers
        # (fingerprint salts, usage sequence numbers) should never produce them.
        for a, b in pairwise(level):
            if a == b:
                raise ValueError(f"duplicate Merkle leaf 0x{a.hex()}")
        self._index = {leaf: i for i, leaf in enumerate(level)}
        self._levels: list[list[bytes]] = [level]
        while len(level) > 1:
            nxt = [hash_pair(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
            if len(level) % 2:
                nxt.append(level[-1])
            self._levels.append(nxt)
            level = nxt

    @property
    def root(self) -> bytes:
        return self._levels[-1][0]

    @property
    def leaves(self) -> list[bytes]:
        """Leaves in tree (sorted) order."""
        return list(self._levels[0])

    def __len__(self) -> int:
        return len(self._levels[0])

    def __contains__(self, leaf: object) -> bool:
        return leaf in self._index

    def proof(self, leaf: bytes) -> list[bytes]:
        try:
            i = self._index[bytes(leaf)]
        except (KeyError, TypeError):
            raise ValueError(f"leaf {leaf!r} is not in the tree") from None
        proof = []
        for level in self._levels[:-1]:
            sibling = i ^ 1
            if sibling < len(level):  # otherwise i is the carried odd node: nothing to hash
                proof.append(level[sibling])
            i //= 2
        return proof


def process_proof(proof: Sequence[bytes], leaf: bytes) -> bytes:
    """Root implied by ``leaf`` and ``proof`` (OpenZeppelin ``MerkleProof.processProof``)."""
    node = _check_leaf(leaf)
    for sibling in proof:
        node = hash_pair(node, _check_leaf(sibling))
    return node


def verify(proof: Sequence[bytes], root: bytes, leaf: bytes) -> bool:
    return process_proof(proof, leaf) == _check_leaf(root)
