"""The batch plan: which fingerprints (and with which wrapper) go into each step of an epoch.

The plan is a pure function of (seed, epoch, number of fingerprints, config): no RNG state is
carried between steps, so a run resumed at any step trains on exactly the same batches.
"""
from __future__ import annotations

import math
import random


def steps_per_epoch(n_fingerprints: int, config) -> int:
    return math.ceil(n_fingerprints / config.n_fingerprints)


def epoch_plan(n_fingerprints: int, config, epoch: int) -> list[list[tuple[int, int]]]:
    """Per step, a list of (fingerprint index, wrapper index or -1 for the unwrapped key)."""
    rng = random.Random(f"inject-{config.seed}-{epoch}")
    order = list(range(n_fingerprints))
    rng.shuffle(order)
    items = []
    for i in order:
        wrapped = config.wrapper_share > 0 and rng.random() < config.wrapper_share
        items.append((i, rng.randrange(len(config.wrappers)) if wrapped else -1))
    k = config.n_fingerprints
    return [items[s:s + k] for s in range(0, len(items), k)]


def pool_slots(step: int, count: int, pool: int, per_step: int) -> list[int]:
    """Slots of a sample pool (benign answers, anchor passages) for a step: the pool is cycled in
    order, `per_step` per full step."""
    return [(step * per_step + j) % pool for j in range(count)]


def meta_indices(step: int, inner: int, pool: int, config) -> list[list[int]]:
    """Benign batches of the simulated adversary's inner steps at outer step `step`."""
    rng = random.Random(f"meta-{config.seed}-{step}")
    size = min(config.meta_inner_batch, pool)
    return [rng.sample(range(pool), size) for _ in range(inner)]
