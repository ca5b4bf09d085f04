"""The daemon's schedule: exponential gaps, probes in about the configured share under a seed,
benign queries when a license has no keys left, and a run that stops at its limits."""
from __future__ import annotations

import random
import statistics

from prover_helpers import LICENSE_ID

from services.prover.hosts import Target
from services.prover.schedule import PROBE, Schedule

TARGETS = [Target(1, "http://a.example"), Target(2, "http://b.example")]


def steps(seed: int, n: int, share: float = 0.25, mean: float = 2.0):
    schedule = Schedule(random.Random(seed), TARGETS, share, mean)
    return [schedule.next() for _ in range(n)]


def test_the_schedule_mixes_probes_in_the_configured_share():
    plan = steps(seed=3, n=4000)
    share = sum(s.kind == PROBE for s in plan) / len(plan)
    gaps = [s.delay_s for s in plan]

    assert abs(share - 0.25) < 0.03
    assert abs(statistics.mean(gaps) - 2.0) < 0.15
    assert statistics.stdev(gaps) > 1.5  # exponential (sd = mean), not a fixed period
    assert {s.target.license_id for s in plan} == {1, 2}
    assert steps(seed=3, n=50) == plan[:50] and steps(seed=4, n=50) != plan[:50]


def test_a_run_sends_probes_and_benign_queries_to_the_host(make_prover, host, target, verifier,
                                                           fingerprints):
    prover = make_prover(verifier_urls=[verifier.url], probe_share=0.4, mean_interval_s=0.01, seed=5)
    prover.load(LICENSE_ID, fingerprints)

    summary = prover.run([target], max_queries=12)

    kinds = [q["kind"] for q in prover.log.recent(100)]
    assert summary.probes + summary.benign == 12 == len(host.requests) == len(kinds)
    assert summary.probes == kinds.count("probe") and 2 <= summary.probes <= 8
    assert len(verifier.received) == summary.probes and summary.pending == 0
    probe_messages = [fp.messages for fp in fingerprints]
    benign_sent = [r["messages"] for r in host.requests if r["messages"] not in probe_messages]
    assert len(benign_sent) == summary.benign  # benign prompts never carry a key


def test_a_license_without_keys_gets_benign_queries_only(make_prover, host, target, verifier):
    prover = make_prover(verifier_urls=[verifier.url], probe_share=1.0, mean_interval_s=0.01)

    summary = prover.run([target], max_queries=3)

    assert (summary.probes, summary.benign) == (0, 3) and verifier.received == []


def test_a_run_stops_at_its_duration(make_prover, target):
    prover = make_prover(probe_share=0.0, mean_interval_s=60.0)

    summary = prover.run([target], duration_s=0.5)

    assert summary.probes + summary.benign <= 1  # 60 s gaps: at most one lands in half a second
