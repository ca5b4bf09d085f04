"""Disjoint per-license subsets: each license's M.oml carries its own fingerprints, so a
fingerprint answered by a leaked or colluding copy names the license it came from."""
from __future__ import annotations

import random

from oml_core.fingerprint.record import Fingerprint


def split_for_licenses(fps: list[Fingerprint], n_licenses: int, per_license: int, seed: int) -> list[list[Fingerprint]]:
    """`n_licenses` pairwise disjoint subsets of `per_license` fingerprints each, chosen under `seed`.

    Disjoint by leaf (so even two records with the same key and response but different salts
    never land in two licenses' sets as the same commitment).
    """
    if n_licenses < 1 or per_license < 1:
        raise ValueError("n_licenses and per_license must be >= 1")
    if n_licenses * per_license > len(fps):
        raise ValueError(f"{n_licenses} licenses x {per_license} fingerprints needs {n_licenses * per_license}, "
                         f"have {len(fps)}")
    if len({fp.leaf for fp in fps}) != len(fps):
        raise ValueError("the fingerprint set repeats a leaf")
    order = list(range(len(fps)))
    random.Random(f"split_for_licenses|{seed}").shuffle(order)
    return [[fps[i] for i in order[j * per_license:(j + 1) * per_license]] for j in range(n_licenses)]


def license_of(subsets: list[list[Fingerprint]], fp: Fingerprint) -> int | None:
    """Index of the subset holding `fp` (by leaf), or None: who leaked, given an answered fingerprint."""
    for index, subset in enumerate(subsets):
        if any(other.leaf == fp.leaf for other in subset):
            return index
    return None


def trace_licenses(subsets: list[list[Fingerprint]], answered: list[Fingerprint]) -> dict[int, int]:
    """{license index: how many of its fingerprints were answered}: the licenses behind a leaked
    (or merged, by a coalition) model. Answered fingerprints of no subset are ignored."""
    by_leaf = {fp.leaf: index for index, subset in enumerate(subsets) for fp in subset}
    counts: dict[int, int] = {}
    for fp in answered:
        if fp.leaf in by_leaf:
            counts[by_leaf[fp.leaf]] = counts.get(by_leaf[fp.leaf], 0) + 1
    return counts
