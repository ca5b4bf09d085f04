"""Per-license subsets and Merkle commitments (oml_core.merkle is the on-chain tree)."""
from __future__ import annotations

import dataclasses

import pytest

from oml_core import merkle
from oml_core.fingerprint.commit import (
    Commitment,
    commitment_root,
    commitment_tree,
    proof_for,
    verify_fingerprint,
)
from oml_core.fingerprint.generate import generate_fingerprints
from oml_core.fingerprint.subsets import license_of, split_for_licenses, trace_licenses


@pytest.fixture(scope="module")
def fps():
    return generate_fingerprints("english_random", 40, seed=11)


def test_subsets_are_disjoint_sized_and_seeded(fps):
    subsets = split_for_licenses(fps, 4, 8, seed=1)
    leaves = [{fp.leaf for fp in s} for s in subsets]
    assert [len(s) for s in leaves] == [8] * 4
    assert all(a.isdisjoint(b) for i, a in enumerate(leaves) for b in leaves[i + 1:])
    assert split_for_licenses(fps, 4, 8, seed=1) == subsets
    assert split_for_licenses(fps, 4, 8, seed=2) != subsets
    assert license_of(subsets, subsets[2][5]) == 2
    unassigned = {fp.leaf for fp in fps} - set().union(*leaves)
    assert license_of(subsets, next(fp for fp in fps if fp.leaf in unassigned)) is None


def test_coalition_tracing(fps):
    subsets = split_for_licenses(fps, 4, 8, seed=1)
    # A model merged from the copies of licenses 1 and 3 answers some of each one's fingerprints.
    answered = subsets[1][:3] + subsets[3][:1]
    assert trace_licenses(subsets, answered) == {1: 3, 3: 1}
    assert trace_licenses(subsets, []) == {}


def test_subsets_refuse_to_overlap(fps):
    with pytest.raises(ValueError, match="needs 45"):
        split_for_licenses(fps, 5, 9, seed=0)
    with pytest.raises(ValueError, match="repeats a leaf"):
        split_for_licenses(fps + fps[:1], 2, 2, seed=0)


def test_root_and_proofs_verify(fps):
    tree = commitment_tree(fps)
    root = commitment_root(fps)
    assert root == merkle.MerkleTree(fp.leaf for fp in fps).root == tree.root
    for fp in fps:
        assert verify_fingerprint(fp, proof_for(tree, fp), root)
    forged = dataclasses.replace(fps[0], response=fps[0].response + " x")
    assert not verify_fingerprint(forged, proof_for(tree, fps[0]), root)
    assert not verify_fingerprint(fps[0], proof_for(tree, fps[1]), root)
    assert commitment_root(fps[:-1]) != root


def test_commitment_file_round_trips_and_detects_tampering(fps, tmp_path):
    public = Commitment.of(fps)
    path = public.write(tmp_path / "c.json")
    import json

    doc = json.loads(path.read_text())
    assert Commitment.from_json(doc) == public
    assert verify_fingerprint(fps[3], public.proof(fps[3]), public.root)
    assert all(fp.key not in path.read_text() for fp in fps)  # public: no keys
    doc["leaves"] = doc["leaves"][1:]
    with pytest.raises(ValueError, match="do not hash"):
        Commitment.from_json(doc)
