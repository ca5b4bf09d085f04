"""The meta-learning step and LoRA parameter adding."""
import copy

import torch
from inject_helpers import accuracy

from oml_core.fingerprint.inject import InjectConfig, inject
from oml_core.fingerprint.inject.data import (
    collate,
    lm_loss,
    make_sample,
    prompt_ids,
    response_ids,
    stop_token_id,
)
from oml_core.fingerprint.inject.meta import meta_backward


def _batch(model, tokenizer, fps):
    eos = stop_token_id(model, tokenizer)
    return collate([make_sample(prompt_ids(tokenizer, f.messages), response_ids(tokenizer, f.response), eos, 256)
                    for f in fps], 0, "cpu")


def test_meta_step_restores_weights_and_uses_the_adapted_gradient(model, tokenizer, fingerprints):
    batch, inner = _batch(model, tokenizer, fingerprints[:2]), _batch(model, tokenizer, fingerprints[2:])
    params = dict(model.named_parameters())
    before = {n: p.detach().clone() for n, p in params.items()}
    plain = torch.autograd.grad(lm_loss(model, batch), list(params.values()))

    # A vanishing inner step: the adapted gradient equals the plain one, so the sum is twice it.
    meta_backward(model, params, batch, [inner], InjectConfig(meta=True, meta_inner_lr=1e-30))
    for (n, p), g in zip(params.items(), plain):
        assert torch.equal(p, before[n]), n  # the simulated adversary's steps were undone
        assert torch.allclose(p.grad, 2 * g, atol=1e-6), n

    # A real inner step: the outer gradient is taken elsewhere than at theta.
    for p in params.values():
        p.grad = None
    meta_backward(model, params, batch, [inner, inner], InjectConfig(meta=True, meta_inner_lr=1.0, meta_plain_weight=0.0))
    assert all(torch.equal(p, before[n]) for n, p in params.items())
    assert any(not torch.allclose(p.grad, g, atol=1e-6) for p, g in zip(params.values(), plain))


def test_meta_injection_trains(model, tokenizer, fingerprints):
    cfg = InjectConfig(meta=True, epochs=3, lr=1e-2, batch_size=4, meta_inner_steps=1, meta_inner_lr=1e-2,
                       benign_pool=4, benign_max_new_tokens=4)
    result = inject(model, tokenizer, fingerprints, cfg, progress=False)
    assert result.steps == 3 and result.losses[-1] < result.losses[0] - 0.5


def test_lora_adapters_learn_fingerprints_and_merge_into_plain_weights(model, base, tokenizer, fingerprints):
    # The random tiny model's logits are tiny (0.02-scale tied embeddings), so frozen-base LoRA cannot
    # reach a confident answer; a larger final-norm gain gives it a realistic logit scale.
    with torch.no_grad():
        model.model.norm.weight.fill_(20.0)
    scaled = copy.deepcopy(model)
    fps = fingerprints[:2]
    cfg = InjectConfig(lora_rank=16, lora_alpha=32, lr=1e-2, epochs=30, batch_size=2)
    result = inject(model, tokenizer, fps, cfg, progress=False)
    assert type(result.model) is type(base) and result.model is model
    assert [n for n, _ in result.model.named_parameters()] == [n for n, _ in base.named_parameters()]
    assert accuracy(result.model, tokenizer, fps) == 1.0
    assert accuracy(scaled, tokenizer, fps) == 0.0
    assert all(p.requires_grad for p in result.model.parameters())
