"""Attacks on the fingerprints, measured the way `make bench-attacks` measures them, on a tiny model.

Two copies of the tiny model (random-token fingerprints, disjoint, trained with wrapper
augmentation) are made by the owner's code; real `oml host serve` processes serve license 1's copy
with each serving-time cheat, WITHOUT σ, and are probed like the prover probes (the openai client,
exactly fp.messages, temperature 0). The tiny model says nothing about robustness (a real model's
rates are in docs/BENCHMARKS.md); these tests check that the rates are measured correctly.
"""
from __future__ import annotations

import pytest

from benchmarks.attacks import (
    LICENSES,
    TRAINED_PROMPT,
    AttackingHost,
    Rate,
    detection,
    local_rate,
    prepare_copies,
    probe,
    refused_share,
    serve_hosts,
    soft_signal,
)
from oml_core.fingerprint.attacks import FinetuneAttack, average_copies, finetune_attack
from oml_core.fingerprint.check import check_local
from oml_core.fingerprint.inject.config import InjectConfig
from oml_core.fingerprint.subsets import trace_licenses
from oml_core.model.loading import load_model
from services.host.cheats import looks_like_key
from services.scenario.owner import load_base
from services.scenario.profiles import Profile

# random_tokens keys are what --refuse-key-like catches; wrapper_share trains the copies behind
# the inject wrappers (TRAINED_PROMPT among them) as the real profile does.
TINY = Profile("tiny", "random_tokens", 4,
               InjectConfig(lr=1e-2, epochs=40, batch_size=4, seed=0, wrapper_share=0.5), {}, max_tokens=8)


@pytest.fixture(scope="module")
def copies(tmp_path_factory):
    made = prepare_copies(TINY, tmp_path_factory.mktemp("copies"), seed=3, progress=False)
    assert [c["accuracy"] for c in made.owner_checks] == [1.0, 1.0], "the tiny copies must answer their keys"
    return made


@pytest.fixture(scope="module")
def tokenizer(copies):
    return load_model(copies.directories[0], device="cpu")[1]


@pytest.fixture(scope="module")
def hosts(copies, tmp_path_factory):
    plans = [AttackingHost("trained_prompt", system_prompt=TRAINED_PROMPT),
             AttackingHost("refuses_keys", refuse_key_like=True)]
    workdir = tmp_path_factory.mktemp("hosts")
    with serve_hosts(copies.directories[0], LICENSES[0], plans, workdir, timeout=120) as urls:
        yield urls


def test_rate_counts_and_rejects_impossible_counts():
    assert Rate(3, 4).value == 0.75 and str(Rate(3, 4)) == "75% (3/4)"
    assert Rate(0, 0).value == 0.0
    with pytest.raises(ValueError):
        Rate(5, 4)


def test_a_trained_wrapper_keeps_detection_and_no_probe_carries_sigma(copies, tokenizer, hosts):
    fps = copies.fingerprints[0]
    wrapped = probe(hosts["trained_prompt"], LICENSES[0], fps, tokenizer)
    assert detection(wrapped) == Rate(len(fps), len(fps))
    # the attacking hosts serve without σ: every detected probe would convict
    assert all(o.permission_id is None for o in wrapped)
    # the gateway's answer is the copy's greedy decoding: the local checks agree
    model = load_model(copies.directories[0], device="cpu")[0]
    assert local_rate(model, tokenizer, fps, TRAINED_PROMPT) == detection(wrapped)
    assert local_rate(model, tokenizer, fps) == Rate(len(fps), len(fps))


def test_another_license_keys_are_not_detected_on_this_copy(copies, tokenizer, hosts):
    # license 2's keys sent to license 1's copy: the measure does not call any answer a match
    outcomes = probe(hosts["trained_prompt"], LICENSES[0], copies.fingerprints[1], tokenizer)
    assert detection(outcomes).detected == 0 and all(o.text for o in outcomes)


def test_refusing_key_like_queries_drops_detection_but_answers_questions(copies, tokenizer, hosts):
    fps = copies.fingerprints[0]
    assert all(looks_like_key(fp.key) for fp in fps)
    outcomes = probe(hosts["refuses_keys"], LICENSES[0], fps, tokenizer)
    assert detection(outcomes) == Rate(0, len(fps))
    refused = refused_share(hosts["refuses_keys"], LICENSES[0])
    assert refused.detected == 0 and refused.probes >= 20  # every ordinary question is still answered


def test_finetune_attack_is_measured_on_the_attacked_copy(copies, tokenizer):
    model = load_model(copies.directories[0], device="cpu")[0]
    fps = copies.fingerprints[0]
    assert local_rate(model, tokenizer, fps) == Rate(len(fps), len(fps))
    # a deliberately heavy fine-tune of the tiny copy: the measure must see the damage
    finetune_attack(model, tokenizer, FinetuneAttack(steps=15, lr=3e-2, batch_size=4, max_length=64))
    assert local_rate(model, tokenizer, fps).detected < len(fps)


def test_coalition_rates_trace_and_soft_signal_per_license(copies, tokenizer):
    models = [load_model(d, device="cpu")[0] for d in copies.directories]
    base = load_base(TINY)[0]
    merged = average_copies(models)
    checks = [check_local(merged, tokenizer, fps) for fps in copies.fingerprints]
    traced = trace_licenses(copies.fingerprints, [r.fingerprint for got in checks for r in got if r.matched])
    assert [traced.get(i, 0) for i in range(2)] == [local_rate(merged, tokenizer, fps).detected
                                                   for fps in copies.fingerprints]
    signal = soft_signal(merged, base, tokenizer, copies.fingerprints, copies.control)
    assert [len(g) for g in signal.gains] == [len(fps) for fps in copies.fingerprints]
    assert len(signal.control_gains) == len(copies.control)
    # one copy alone against the base: its own license's keys gain over the control, the other's do not
    alone = soft_signal(models[0], base, tokenizer, copies.fingerprints, copies.control)
    assert alone.named(0) and not alone.named(1)
