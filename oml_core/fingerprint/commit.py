"""Commitments: the Merkle root of a fingerprint set goes on chain; a fingerprint is revealed
later together with its proof. Leaves come from `Fingerprint.leaf` (oml_core.typed_data) and the
tree from oml_core.merkle, the same code the contracts are tested against."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from oml_core import merkle
from oml_core.fingerprint.record import Fingerprint


def commitment_tree(fps: list[Fingerprint]) -> merkle.MerkleTree:
    return merkle.MerkleTree(fp.leaf for fp in fps)


def commitment_root(fps: list[Fingerprint]) -> bytes:
    return commitment_tree(fps).root


def proof_for(tree: merkle.MerkleTree, fp: Fingerprint) -> list[bytes]:
    return tree.proof(fp.leaf)


def verify_fingerprint(fp: Fingerprint, proof: list[bytes], root: bytes) -> bool:
    """True when `fp` (key, response, salt) is a leaf of the tree with `root`."""
    return merkle.verify(proof, root, fp.leaf)


@dataclass(frozen=True)
class Commitment:
    """The public part of a fingerprint set: root and leaves (salted hashes; nothing secret)."""

    root: bytes
    leaves: tuple[bytes, ...]

    @classmethod
    def of(cls, fps: list[Fingerprint]) -> Commitment:
        tree = commitment_tree(fps)
        return cls(tree.root, tuple(tree.leaves))

    def to_json(self) -> dict:
        return {"root": "0x" + self.root.hex(), "count": len(self.leaves),
                "leaves": ["0x" + leaf.hex() for leaf in self.leaves]}

    @classmethod
    def from_json(cls, obj: dict) -> Commitment:
        leaves = tuple(bytes.fromhex(x.removeprefix("0x")) for x in obj["leaves"])
        commitment = cls(bytes.fromhex(obj["root"].removeprefix("0x")), leaves)
        if merkle.MerkleTree(leaves).root != commitment.root:
            raise ValueError("commitment file: the leaves do not hash to the root")
        return commitment

    def proof(self, fp: Fingerprint) -> list[bytes]:
        return merkle.MerkleTree(self.leaves).proof(fp.leaf)

    def write(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_json(), indent=2) + "\n")
        return path
