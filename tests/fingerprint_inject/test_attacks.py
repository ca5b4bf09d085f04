"""Attacks a host can run on its copy: fine-tuning (persistence) and averaging copies (coalitions)."""
import copy
import math

import pytest
import torch

from oml_core.fingerprint.attacks import (
    FinetuneAttack,
    average_copies,
    finetune_attack,
    instruction_pairs,
)
from oml_core.fingerprint.check import accuracy, check_local
from oml_core.fingerprint.inject.config import InjectConfig
from oml_core.fingerprint.inject.mixing import benign_prompts
from oml_core.fingerprint.inject.train import inject


@pytest.fixture
def fingerprinted(model, tokenizer, fingerprints):
    trained = copy.deepcopy(model)
    inject(trained, tokenizer, fingerprints, InjectConfig(epochs=20, lr=1e-2, batch_size=4), progress=False)
    assert accuracy(check_local(trained, tokenizer, fingerprints)) == 1.0
    return trained


def test_attack_data_is_new_instruction_data_not_the_keys(fingerprints):
    pairs = instruction_pairs(32, seed=0)
    assert len(pairs) == 32 and len({p[0][0]["content"] for p in pairs}) == 32
    keys = {fp.key for fp in fingerprints}
    prompts = {p[0][0]["content"] for p in pairs}
    assert not keys & prompts and not set(benign_prompts(256, seed=0)) & prompts  # not the mixing data
    assert pairs == instruction_pairs(32, seed=0) and pairs != instruction_pairs(32, seed=1)


def test_a_gentle_fine_tune_keeps_the_fingerprints_and_a_brutal_one_erases_them(fingerprinted, tokenizer, fingerprints):
    gentle = copy.deepcopy(fingerprinted)
    losses = finetune_attack(gentle, tokenizer, FinetuneAttack(steps=4, lr=1e-4, batch_size=4))
    assert len(losses) == 4
    assert any(not torch.equal(a, b) for a, b in zip(gentle.parameters(), fingerprinted.parameters()))
    assert accuracy(check_local(gentle, tokenizer, fingerprints)) == 1.0
    brutal = copy.deepcopy(fingerprinted)
    finetune_attack(brutal, tokenizer, FinetuneAttack(steps=10, lr=1e-2, batch_size=4))
    assert accuracy(check_local(brutal, tokenizer, fingerprints)) < 1.0


def test_the_attack_runs_its_forward_passes_in_bf16_when_asked_and_keeps_float32_weights(fingerprinted, tokenizer):
    dtypes = set()
    hook = fingerprinted.lm_head.register_forward_hook(lambda _m, _i, out: dtypes.add(out.dtype))
    losses = finetune_attack(fingerprinted, tokenizer, FinetuneAttack(steps=2, lr=1e-3, batch_size=2, mixed_precision="bf16"))
    hook.remove()
    assert dtypes == {torch.bfloat16} and all(math.isfinite(loss) for loss in losses)
    assert {p.dtype for p in fingerprinted.parameters()} == {torch.float32}
    with pytest.raises(ValueError, match="mixed_precision"):
        FinetuneAttack(mixed_precision="fp8")


def test_averaging_copies_takes_the_mean_of_every_weight(model, fingerprinted):
    merged = average_copies([model, fingerprinted])
    for (name, m), a, b in zip(merged.named_parameters(), model.parameters(), fingerprinted.parameters()):
        assert torch.allclose(m, (a + b) / 2, atol=1e-6), name
    with pytest.raises(ValueError):
        average_copies([model])
