"""When to query whom, and with what: exponential gaps (a Poisson stream, so probes are not
periodic), a uniformly drawn target, and a probe with probability `probe_share`, all from one
seeded random generator so a run can be replayed."""
from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

from services.prover.hosts import Target

PROBE, BENIGN = "probe", "benign"


@dataclass(frozen=True)
class Step:
    delay_s: float  # after the previous step
    target: Target
    kind: str       # PROBE | BENIGN


class Schedule:
    def __init__(self, rng: random.Random, targets: Sequence[Target], probe_share: float,
                 mean_interval_s: float):
        if not targets:
            raise ValueError("the schedule needs at least one target")
        if not 0.0 <= probe_share <= 1.0 or mean_interval_s <= 0:
            raise ValueError("probe_share must be in [0, 1] and mean_interval_s > 0")
        self.rng, self.targets = rng, list(targets)
        self.probe_share, self.mean_interval_s = probe_share, mean_interval_s

    def next(self) -> Step:
        delay = self.rng.expovariate(1.0 / self.mean_interval_s)
        target = self.rng.choice(self.targets)
        kind = PROBE if self.rng.random() < self.probe_share else BENIGN
        return Step(delay, target, kind)
