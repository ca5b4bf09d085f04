"""Part 3 of `make bench-e2e`: detection latency, from an unpermitted fingerprint query to the
executed slash.

The network is `services.scenario.network.bring_up` with one cheating host that serves every
query without σ (skip_permission_share 1.0) over a tiny-model OMLized copy (profile "tiny": the
model's size does not matter to this pipeline), three verifier processes and the prover in this
process. For each probe, one at a time: the probe is sent (t0); it returns once a verifier accepted
its transcript; ClaimOpened on chain is seen by polling ClaimManager.claimOf; then the chain's
clock is moved past the challenge window at once, and the claim's status is polled until the
claimant verifier's worker has executed it. The window itself is not part of the latency.
"""
from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console

from oml_core import typed_data as td
from oml_core.chain.anvil import advance_time
from services.scenario import network, topology
from services.scenario.profiles import profile
from services.stack import LocalChain

STAGES = ("probe answered, transcript accepted", "accepted → ClaimOpened", "probe → ClaimOpened",
          "window passed → Executed")


def _default_verifier_poll() -> float:
    """The verifiers here run with their default worker interval (as `oml up` starts them)."""
    from services.verifier.config import Settings

    return Settings.model_fields["poll_interval_s"].default


@dataclass(frozen=True)
class DetectionLoad:
    probes: int = 5           # timed probes that carried the fingerprint
    spare_keys: int = 3       # extra fingerprints in case the tiny copy misses some
    poll_s: float = 0.05      # how often this process reads the chain
    timeout_s: float = 120.0  # per stage
    seed: int = 11

    def __post_init__(self):
        if self.probes < 1 or self.spare_keys < 0 or self.poll_s <= 0 or self.timeout_s <= 0:
            raise ValueError("probes >= 1, spare_keys >= 0, poll_s > 0, timeout_s > 0")


@dataclass
class ProbeTiming:
    """Seconds from the probe's send to each event (perf_counter differences)."""

    accepted: float
    opened: float
    executed_after_advance: float
    claim_id: int


@dataclass
class DetectionResult:
    load: DetectionLoad
    timings: list[ProbeTiming] = field(default_factory=list)
    missed: int = 0               # probes whose answer did not carry the fingerprint (no claim expected)
    verifier_poll_s: float = field(default_factory=_default_verifier_poll)  # their worker interval
    challenge_window: int = 0

    def stage(self, name: str) -> list[float]:
        by_name = {STAGES[0]: lambda t: t.accepted, STAGES[1]: lambda t: t.opened - t.accepted,
                   STAGES[2]: lambda t: t.opened, STAGES[3]: lambda t: t.executed_after_advance}
        return [by_name[name](t) for t in self.timings]


def _wait(read, done, poll_s: float, timeout_s: float, what: str):
    deadline = time.monotonic() + timeout_s
    while True:
        value = read()
        if done(value):
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not within {timeout_s:.0f} s (last {value!r})")
        time.sleep(poll_s)


def time_probe(prover, target, oml, w3, window: int, load: DetectionLoad) -> ProbeTiming | None:
    """One probe timed through ClaimOpened and, after moving the chain's clock, Executed; None
    when the answer did not carry the fingerprint (the verifiers rightly open nothing)."""
    t0 = time.perf_counter()
    result = prover.probe(target)
    accepted = time.perf_counter() - t0
    if result.status != "delivered":
        raise RuntimeError(f"probe not delivered: {result.status} {result.detail}")
    if not result.carried_fingerprint:
        return None
    if result.had_permission:
        raise RuntimeError("the cheating host answered a probe with σ (it must skip every σ)")
    key = td.claim_key(False, result.transcript.license_id, 0, result.transcript.fingerprint.fingerprint().query_hash)
    claim_id = _wait(lambda: oml.claim_of(key), bool, load.poll_s, load.timeout_s,
                     "ClaimOpened")
    opened = time.perf_counter() - t0
    advance_time(w3, window + 1)
    t1 = time.perf_counter()
    _wait(lambda: oml.claim_status(claim_id), lambda s: s == "Executed", load.poll_s, load.timeout_s,
          f"claim {claim_id} executed")
    return ProbeTiming(accepted, opened, time.perf_counter() - t1, claim_id)


def bench_detection(workdir: Path, load: DetectionLoad, console: Console, log) -> DetectionResult:
    from services.prover.hosts import Target
    from services.prover.prover import Prover, ProverSettings

    prof = profile("tiny", per_license=load.probes + load.spare_keys)
    with LocalChain.start(workdir, n_hosts=1, n_verifiers=4) as chain:
        plan = topology.HostPlan("cheater", skip_permission_share=1.0, seed=load.seed)
        net = network.bring_up(chain, prof, [plan], 3, load.seed, console,
                               lambda title, detail="": log(f"{title}: {detail}"), progress=False)
        copy = net.copies["cheater"]
        log(f"the cheater's tiny copy answers {copy.accuracy:.0%} of its {len(copy.fingerprints)} fingerprints")
        prover = Prover(ProverSettings(key=chain.accounts.provers[0], passphrase=secrets.token_hex(16),
                                       verifier_urls=[v.url for v in net.verifiers],
                                       database_url=f"sqlite:///{workdir}/prover.db", seed=load.seed))
        result = DetectionResult(load, challenge_window=chain.terms.challenge_window)
        target = Target(net.licenses["cheater"], net.hosts["cheater"].url)
        try:
            prover.load(target.license_id, copy.fingerprints)
            for _ in range(len(copy.fingerprints)):
                if len(result.timings) == load.probes:
                    break
                timing = time_probe(prover, target, chain.oml, chain.w3, chain.terms.challenge_window, load)
                if timing is None:
                    result.missed += 1
                    continue
                result.timings.append(timing)
                log(f"claim {timing.claim_id}: opened {timing.opened:.2f} s after the probe, executed "
                    f"{timing.executed_after_advance:.2f} s after the window")
        finally:
            prover.close()
    return result
