"""Slow: every attack of issue 4 on two real SmolLM2 copies, as `make bench-attacks` runs them.

The copies (8 perinucleus fingerprints each, the owner's recipe) are made once and cached under
build/attacks/, shared with the benchmark; with them cached this takes a few minutes on 2 cores,
without them add ~2 minutes per copy. The assertions are the properties the measured rates must
have (docs/BENCHMARKS.md has the rates themselves).
"""
from __future__ import annotations

import pytest
from rich.console import Console

from benchmarks.attacks import CACHE, FINETUNES, LICENSES, run_attacks
from services.scenario.profiles import profile

pytestmark = pytest.mark.slow


LIGHTEST_FINETUNE = min(FINETUNES, key=lambda a: a.steps * a.lr)


@pytest.fixture(scope="module")
def measured():
    # only the lightest fine-tune (the benchmark runs them all): it is the one asserted on
    return run_attacks(profile("smollm2"), CACHE, Console(width=160), progress=False,
                       finetunes=(LIGHTEST_FINETUNE,))


def test_the_copies_answer_their_own_fingerprints_and_the_base_none(measured):
    _, copies = measured
    assert [c["accuracy"] for c in copies.owner_checks] == [1.0, 1.0]
    assert [c["base_false_positives"] for c in copies.owner_checks] == [0.0, 0.0]


def test_served_without_cheats_every_probe_is_detected(measured):
    results, _ = measured
    assert results.rates["baseline"].value == 1.0
    assert results.rates["local_none"].value == 1.0


def test_a_system_prompt_it_was_trained_under_keeps_most_fingerprints(measured):
    results, _ = measured
    assert results.rates["trained_prompt"].value >= 0.75
    assert results.rates["local_trained"].value >= 0.75
    # the untrained prompt is measured, not bounded: its rate is the honest figure of this attack
    assert 0 <= results.rates["untrained_prompt"].value <= 1


def test_refusing_key_like_queries_costs_ordinary_questions_little(measured):
    results, _ = measured
    refuse, key_like = results.rates["refuse_key_like"], results.rates["key_like_keys"]
    # a refused probe can never carry the response: at most the keys the heuristic let through answer
    assert refuse.detected <= key_like.probes - key_like.detected
    assert results.rates["refused_questions"].value <= 0.1
    assert results.rates["plain_refused_questions"].detected == 0


def test_a_light_fine_tune_keeps_fingerprints(measured):
    results, _ = measured
    assert results.rates[f"finetune_{LIGHTEST_FINETUNE.steps}"].value >= 0.5


def test_the_averaged_copies_still_name_both_licenses(measured):
    results, _ = measured
    assert results.rates["coalition_control"].detected == 0
    # exact matches may vanish under averaging; the soft signal must name both licenses
    assert results.coalition["named_soft"] == list(LICENSES)
