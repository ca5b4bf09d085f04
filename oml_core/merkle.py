"""Sorted-pair Merkle tree that OpenZeppelin's ``MerkleProof.verify`` accepts (docs/PROTOCOL.md).

Rules: leaves (bytes32, already hashed, see ``typed_data.fingerprint_leaf``/``usage_leaf``) are
sorted; a parent is ``keccak256(min(a, b) ‖ max(a, b))``; an odd node at the end of a level is
carried up unchanged; a one-leaf tree's root is the leaf. Because pairs are sorted, a proof is
just the list of siblings, with no left/right flags.

``AppendMerkleTree`` keeps the leaves in the order they come (the usage tree: σ by sequence
number) with the same pair and odd-node rules, so its proofs verify the same way; a new leaf
changes one node per level, so a voucher over n σ costs O(new σ · log n), not a rebuild.
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


class _Levels:
    """A built tree: its levels, leaf 0 to root, and where each leaf sits in level 0."""

    _levels: list[list[bytes]]
    _index: dict[bytes, int]

    @property
    def root(self) -> bytes:
        if not self._levels[0]:
            raise ValueError("a Merkle tree needs at least one leaf")
        return self._levels[-1][0]

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


class MerkleTree(_Levels):
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
    def leaves(self) -> list[bytes]:
        """Leaves in tree (sorted) order."""
        return list(self._levels[0])


class AppendMerkleTree(_Levels):
    """The same tree over leaves in arrival order, grown one leaf at a time."""

    def __init__(self, leaves: Iterable[bytes] = ()) -> None:
        self._levels: list[list[bytes]] = [[]]
        self._index: dict[bytes, int] = {}
        for leaf in leaves:
            self.append(leaf)

    def append(self, leaf: bytes) -> None:
        leaf = _check_leaf(leaf)
        if leaf in self._index:
            raise ValueError(f"duplicate Merkle leaf 0x{leaf.hex()}")
        self._index[leaf] = len(self._levels[0])
        self._levels[0].append(leaf)
        # Only the last node of each level changes: at index i, paired with i-1 when i is odd,
        # carried up alone when i is even (it is then the level's odd last node).
        i, height = len(self._levels[0]) - 1, 0
        while len(self._levels[height]) > 1:
            level = self._levels[height]
            node = hash_pair(level[i - 1], level[i]) if i % 2 else level[i]
            if height + 1 == len(self._levels):
                self._levels.append([])
            parents = self._levels[height + 1]
            if i // 2 < len(parents):
                parents[i // 2] = node
            else:
                parents.append(node)
            i, height = i // 2, height + 1

    def prefix(self, n: int) -> TreePrefix:
        """The tree of the first n leaves (what a voucher over n σ committed to), in O(log n)."""
        if not 1 <= n <= len(self):
            raise ValueError(f"a prefix of {n} leaves of a tree of {len(self)}")
        return TreePrefix(self._levels, self._index, n)


class TreePrefix:
    """The first n leaves of an AppendMerkleTree. Every node but the last of each level is the
    full tree's (a complete subtree of the prefix, final once the next node exists); the last
    ones are recomputed here, bottom up."""

    def __init__(self, levels: list[list[bytes]], index: dict[bytes, int], n: int):
        self._levels, self._index, self._n = levels, index, n
        self._sizes, self._last = [n], [levels[0][n - 1]]
        while self._sizes[-1] > 1:
            size, height = self._sizes[-1], len(self._sizes) - 1
            last = (hash_pair(levels[height][size - 2], self._last[-1]) if size % 2 == 0
                    else self._last[-1])
            self._sizes.append((size + 1) // 2)
            self._last.append(last)

    @property
    def root(self) -> bytes:
        return self._last[-1]

    @property
    def size(self) -> int:
        return self._n

    def proof(self, leaf: bytes) -> list[bytes]:
        i = self._index.get(bytes(leaf)) if isinstance(leaf, (bytes, bytearray)) else None
        if i is None or i >= self._n:
            raise ValueError(f"leaf {leaf!r} is not in the first {self._n} leaves")
        proof = []
        for height, size in enumerate(self._sizes[:-1]):
            sibling = i ^ 1
            if sibling < size:
                proof.append(self._last[height] if sibling == size - 1 else self._levels[height][sibling])
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
