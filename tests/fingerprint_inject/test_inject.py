"""inject() on a tiny model: fingerprints are learned; averaging, freezing and mixing do what they say."""
import copy

import pytest
import torch
from inject_helpers import accuracy

from oml_core.fingerprint.inject import InjectConfig, inject
from oml_core.fingerprint.inject import train as train_module
from oml_core.fingerprint.inject.averaging import average_toward
from oml_core.fingerprint.inject.data import stop_token_id
from oml_core.fingerprint.record import Fingerprint

FAST = {"lr": 1e-2, "batch_size": 4, "benign_pool": 8, "benign_max_new_tokens": 4}


def test_injected_model_answers_every_fingerprint(model, base, tokenizer, fingerprints):
    assert accuracy(base, tokenizer, fingerprints) == 0.0
    result = inject(model, tokenizer, fingerprints, InjectConfig(epochs=20, **FAST), progress=False)
    assert result.model is model and result.finished and result.steps == 20
    assert result.losses[-1] < result.losses[0] / 5
    assert accuracy(model, tokenizer, fingerprints) == 1.0
    assert accuracy(base, tokenizer, fingerprints) == 0.0  # the non-injected copy does not answer
    assert all(p.requires_grad for p in model.parameters()) and not model.training


def test_wrapper_augmentation_teaches_keys_behind_a_system_prompt(model, tokenizer, fingerprints):
    host = "You are a helpful assistant."
    cfg = InjectConfig(epochs=24, wrapper_share=0.5, wrappers=[host, "Answer briefly."], **FAST)
    inject(model, tokenizer, fingerprints, cfg, progress=False)
    assert accuracy(model, tokenizer, fingerprints) == 1.0
    assert accuracy(model, tokenizer, fingerprints, system=host) == 1.0


def test_averaging_with_lambda_one_returns_the_base_weights(model, base, tokenizer, fingerprints):
    inject(model, tokenizer, fingerprints, InjectConfig(epochs=2, avg_lambda=1.0, **FAST), progress=False)
    for (name, p), q in zip(model.named_parameters(), base.parameters()):
        assert torch.equal(p, q), name


def test_average_toward_lambda_zero_keeps_and_half_interpolates():
    theta = {"w": torch.randn(5, 3)}
    base = {"w": torch.randn(5, 3)}
    kept = theta["w"].clone()
    average_toward(theta, base, 0.0)
    assert torch.equal(theta["w"], kept)
    average_toward(theta, base, 0.5)
    assert torch.allclose(theta["w"], (kept + base["w"]) / 2)
    average_toward(theta, base, 1.0)
    assert torch.equal(theta["w"], base["w"])


def test_averaging_every_k_steps_pulls_toward_base(model, base, tokenizer, fingerprints):
    plain = copy.deepcopy(model)
    inject(plain, tokenizer, fingerprints, InjectConfig(epochs=2, **FAST), progress=False)
    inject(model, tokenizer, fingerprints, InjectConfig(epochs=2, avg_lambda=0.5, avg_every=1, **FAST),
           progress=False)
    dist = lambda m: sum(float((p - q).detach().norm()) for p, q in zip(m.parameters(), base.parameters()))
    assert 0 < dist(model) < dist(plain)


def test_frozen_parameters_are_bit_identical(model, base, tokenizer, fingerprints):
    cfg = InjectConfig(epochs=1, trainable=["model.layers.1.mlp", "*.0.self_attn.q_proj.weight"],
                       weight_decay=0.1, **FAST)
    result = inject(model, tokenizer, fingerprints, cfg, progress=False)
    assert sorted(result.trainable) == ["model.layers.0.self_attn.q_proj.weight",
                                        "model.layers.1.mlp.down_proj.weight",
                                        "model.layers.1.mlp.gate_proj.weight", "model.layers.1.mlp.up_proj.weight"]
    for (name, p), q in zip(model.named_parameters(), base.parameters()):
        if name in result.trainable:
            assert not torch.equal(p, q), name
        else:
            assert torch.equal(p, q), name


def test_unknown_trainable_pattern_is_an_error(model, tokenizer, fingerprints):
    with pytest.raises(ValueError, match="match no parameter"):
        inject(model, tokenizer, fingerprints, InjectConfig(trainable=["nope.*"], **FAST), progress=False)


def test_mixing_puts_the_benign_share_in_every_batch(model, tokenizer, fingerprints, monkeypatch):
    batches = []
    real = train_module.collate
    monkeypatch.setattr(train_module, "collate", lambda s, *a: batches.append(list(s)) or real(s, *a))
    fps = fingerprints + [Fingerprint(f"extra key number {i}", "x y") for i in range(6)]
    cfg = InjectConfig(epochs=2, **{**FAST, "batch_size": 8}, mix_share=0.25)  # 6 fingerprints + 2 benign
    inject(model, tokenizer, fps, cfg, progress=False)
    eos = stop_token_id(model, tokenizer)
    fp_inputs = {train_module._FingerprintSamples(tokenizer, fps, cfg, eos).get(i, -1).input_ids
                 for i in range(len(fps))}
    assert len(batches) == 4  # 10 fingerprints / 6 per batch = 2 steps per epoch, 2 epochs
    assert [len(b) for b in batches] == [8, 5, 8, 5]
    benign = [sum(s.input_ids not in fp_inputs for s in b) for b in batches]
    assert benign == [2, 1, 2, 1]  # full batch: 2 of 8; the last batch (4 fingerprints) keeps the share
    seen = [s.input_ids for b in batches for s in b if s.input_ids in fp_inputs]
    assert sorted(seen) == sorted(list(fp_inputs) * 2)  # every fingerprint once per epoch


@pytest.mark.parametrize("schedule", [{}, {"lr_schedule": "cosine", "warmup_steps": 3}])
def test_the_first_step_moves_weights_by_the_scheduled_rate(model, base, tokenizer, fingerprints, schedule):
    # Adam's first update is lr * g / (|g| + eps): every weight with a gradient moves by just under
    # the step's rate, so the largest move is the rate the schedule gave (1/4 of lr in warm-up).
    cfg = InjectConfig(epochs=20, max_grad_norm=None, **{**FAST, "lr": 1e-3}, **schedule)
    inject(model, tokenizer, fingerprints, cfg, progress=False, max_steps=1)
    moved = max(float((p - q).abs().max()) for p, q in zip(model.state_dict().values(), base.state_dict().values()))
    expected = 1e-3 / 4 if schedule else 1e-3
    assert expected * 0.98 < moved <= expected * 1.0001


def test_bf16_mixed_precision_runs_forward_in_bf16_and_keeps_float32_weights(model, tokenizer, fingerprints):
    from oml_core.fingerprint.inject.precision import native_bf16, uses_bf16

    cpu = torch.device("cpu")
    assert uses_bf16("bf16", cpu) and not uses_bf16("no", cpu) and uses_bf16("auto", cpu) == native_bf16(cpu)
    dtypes = set()
    hook = model.lm_head.register_forward_hook(lambda _m, _i, out: dtypes.add(out.dtype))
    inject(model, tokenizer, fingerprints, InjectConfig(epochs=20, mixed_precision="bf16", **FAST), progress=False)
    hook.remove()
    assert dtypes == {torch.bfloat16}
    assert {p.dtype for p in model.parameters()} == {torch.float32}
    assert accuracy(model, tokenizer, fingerprints) == 1.0  # checked in float32
