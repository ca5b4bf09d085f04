"""oml_core.merkle: known shapes, OpenZeppelin processProof agreement, properties, scale."""

from __future__ import annotations

import random
import time

import pytest
from eth_utils import keccak
from hypothesis import given, settings
from hypothesis import strategies as st

from oml_core.merkle import AppendMerkleTree, MerkleTree, hash_pair, process_proof, verify


def leaf(i: int) -> bytes:
    return keccak(i.to_bytes(8, "big"))


def oz_process_proof(proof: list[bytes], leaf_: bytes) -> bytes:
    """Line-by-line transcription of contracts/src/lib/MerkleProof.sol (OpenZeppelin):
    `lt(a, b)` on uint256 words decides which goes first."""
    node = leaf_
    for sibling in proof:
        a, b = int.from_bytes(node, "big"), int.from_bytes(sibling, "big")
        node = keccak(node + sibling) if a < b else keccak(sibling + node)
    return node


def h(a: bytes, b: bytes) -> bytes:
    return keccak(min(a, b) + max(a, b))


# --- known shapes (spec rules written out by hand) -----------------------------------------


def test_one_leaf_root_is_the_leaf_and_proof_is_empty():
    tree = MerkleTree([leaf(0)])
    assert tree.root == leaf(0)
    assert tree.proof(leaf(0)) == []
    assert verify([], tree.root, leaf(0))


def test_two_leaves():
    a, b = leaf(1), leaf(2)
    assert MerkleTree([a, b]).root == MerkleTree([b, a]).root == h(a, b)
    assert MerkleTree([a, b]).proof(a) == [b]


def test_odd_node_is_carried_up_unchanged():
    s = sorted(leaf(i) for i in range(5))
    # level1: h(s0,s1), h(s2,s3), s4 ; level2: h(h01, h23), s4 ; root: h(that, s4)
    h01, h23 = h(s[0], s[1]), h(s[2], s[3])
    tree = MerkleTree(s[::-1])
    assert tree.root == h(h(h01, h23), s[4])
    assert tree.proof(s[4]) == [h(h01, h23)]
    assert tree.proof(s[2]) == [s[3], h01, s[4]]
    assert tree.leaves == s


def test_three_leaves():
    s = sorted(leaf(i) for i in range(3))
    tree = MerkleTree(s)
    assert tree.root == h(h(s[0], s[1]), s[2])
    assert tree.proof(s[2]) == [h(s[0], s[1])]
    assert tree.proof(s[0]) == [s[1], s[2]]


def test_hash_pair_is_symmetric_and_sorted():
    a, b = leaf(1), leaf(2)
    assert hash_pair(a, b) == hash_pair(b, a) == h(a, b)


# --- errors --------------------------------------------------------------------------------


def test_empty_tree_rejected():
    with pytest.raises(ValueError):
        MerkleTree([])


def test_duplicate_leaves_rejected():
    with pytest.raises(ValueError, match="duplicate"):
        MerkleTree([leaf(1), leaf(2), leaf(1)])


@pytest.mark.parametrize("bad", [b"\x00" * 31, b"\x00" * 33, "00" * 32, 5])
def test_non_bytes32_leaves_rejected(bad):
    with pytest.raises(ValueError):
        MerkleTree([leaf(1), bad])
    with pytest.raises(ValueError):
        verify([], leaf(1), bad)
    with pytest.raises(ValueError):
        verify([bad], leaf(1), leaf(1))


def test_proof_of_absent_leaf_rejected():
    tree = MerkleTree([leaf(1), leaf(2)])
    with pytest.raises(ValueError):
        tree.proof(leaf(3))
    assert leaf(3) not in tree and leaf(1) in tree and len(tree) == 2


# --- properties ----------------------------------------------------------------------------

leaf_sets = st.lists(st.binary(min_size=32, max_size=32), min_size=1, max_size=70, unique=True)


@settings(max_examples=150, deadline=None)
@given(leaf_sets, st.randoms(use_true_random=False))
def test_every_proof_verifies_and_matches_openzeppelin(leaves, rnd):
    tree = MerkleTree(leaves)
    shuffled = leaves[:]
    rnd.shuffle(shuffled)
    assert MerkleTree(shuffled).root == tree.root  # input order does not matter
    for lf in leaves:
        proof = tree.proof(lf)
        assert verify(proof, tree.root, lf)
        assert process_proof(proof, lf) == oz_process_proof(proof, lf) == tree.root
        assert len(proof) <= max(1, len(leaves) - 1).bit_length()


@settings(max_examples=150, deadline=None)
@given(leaf_sets, st.binary(min_size=32, max_size=32), st.data())
def test_proof_fails_for_another_leaf_or_root(leaves, outsider, data):
    tree = MerkleTree(leaves)
    lf = data.draw(st.sampled_from(leaves))
    proof = tree.proof(lf)
    for other in leaves:
        if other != lf:
            assert not verify(proof, tree.root, other)
    if outsider != lf:
        assert not verify(proof, tree.root, outsider)
    bad_root = bytes([tree.root[0] ^ 1]) + tree.root[1:]
    assert not verify(proof, bad_root, lf)
    if proof:
        tampered = [bytes([proof[0][0] ^ 1]) + proof[0][1:], *proof[1:]]
        assert not verify(tampered, tree.root, lf)


def test_root_changes_when_any_leaf_changes():
    leaves = [leaf(i) for i in range(9)]
    root = MerkleTree(leaves).root
    for i in range(9):
        changed = leaves[:i] + [leaf(100 + i)] + leaves[i + 1 :]
        assert MerkleTree(changed).root != root
    assert MerkleTree(leaves[:-1]).root != root


# --- scale ---------------------------------------------------------------------------------


def test_100k_leaves_is_fast():
    rng = random.Random(7)
    leaves = [rng.randbytes(32) for _ in range(100_000)]
    start = time.perf_counter()
    tree = MerkleTree(leaves)
    proofs = [tree.proof(leaves[i]) for i in range(0, 100_000, 100)]
    elapsed = time.perf_counter() - start
    assert max(len(p) for p in proofs) == 17  # ceil(log2(100000)); carried nodes skip levels
    assert all(verify(p, tree.root, leaves[i * 100]) for i, p in enumerate(proofs))
    assert elapsed < 5.0, f"100k-leaf tree took {elapsed:.2f}s"


# --------------------------------------------------------------------------- append-order tree


def batch_root(leaves: list[bytes]) -> bytes:
    """The tree rules applied to the leaves as given (not sorted), level by level."""
    level = list(leaves)
    while len(level) > 1:
        nxt = [hash_pair(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        level = nxt + ([level[-1]] if len(level) % 2 else [])
    return level[0]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.binary(min_size=32, max_size=32), min_size=1, max_size=70, unique=True))
def test_append_tree_grows_into_the_batch_tree_of_its_arrival_order(leaves):
    tree = AppendMerkleTree()
    for i, leaf_ in enumerate(leaves, start=1):
        tree.append(leaf_)
        assert tree.root == batch_root(leaves[:i])  # after every append, not only at the end
    for leaf_ in leaves:
        assert oz_process_proof(tree.proof(leaf_), leaf_) == tree.root


@settings(max_examples=40, deadline=None)
@given(st.lists(st.binary(min_size=32, max_size=32), min_size=1, max_size=70, unique=True), st.data())
def test_a_prefix_is_the_tree_of_the_first_n_leaves_even_after_the_tree_grew(leaves, data):
    n = data.draw(st.integers(1, len(leaves)))
    tree = AppendMerkleTree(leaves[:n])
    prefix = tree.prefix(n)
    for extra in range(data.draw(st.integers(0, 40))):  # later σ must not change an older voucher's tree
        tree.append(keccak(b"later" + extra.to_bytes(4, "big")))
    assert prefix.root == batch_root(leaves[:n]) and prefix.size == n
    for leaf_ in leaves[:n]:
        assert verify(prefix.proof(leaf_), prefix.root, leaf_)
    later = keccak(b"later" + (0).to_bytes(4, "big"))
    if later in tree:
        with pytest.raises(ValueError):
            prefix.proof(later)


def test_append_tree_refuses_duplicates_bad_leaves_and_bad_prefixes():
    tree = AppendMerkleTree([leaf(1)])
    with pytest.raises(ValueError):
        tree.append(leaf(1))
    with pytest.raises(ValueError):
        tree.append(b"short")
    with pytest.raises(ValueError):
        tree.prefix(2)
    with pytest.raises(ValueError):
        _ = AppendMerkleTree().root
