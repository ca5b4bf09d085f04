"""Slow: the real SmolLM2-135M-Instruct learns 16 English-random fingerprints; the base knows none."""
import copy
import time

import pytest
from inject_helpers import accuracy, english_fingerprints

from oml_core.fingerprint.inject import InjectConfig, inject

HOST = "You are a helpful assistant."


@pytest.fixture(scope="module")
def real():
    from oml_core.model.loading import load_model

    return load_model("smollm2", device="cpu")


def _run(real, cfg, tmp_path):
    base, tokenizer = real
    model = copy.deepcopy(base)
    fingerprints = english_fingerprints(16, seed=5)
    assert accuracy(base, tokenizer, fingerprints) == 0.0
    started = time.perf_counter()
    result = inject(model, tokenizer, fingerprints, cfg, base_model=base, output_dir=tmp_path, progress=False)
    wall = time.perf_counter() - started
    found = accuracy(model, tokenizer, fingerprints)
    print(f"\nreal model: {result.steps} steps (batch {cfg.batch_size}, beta {cfg.mix_share}, "
          f"lambda {cfg.avg_lambda}), {result.seconds_per_step:.2f} s/step, wall {wall:.1f} s "
          f"(benign generation and checkpoints included), final loss {result.losses[-1]:.4f}, "
          f"accuracy {found:.0%}, behind a host system prompt "
          f"{accuracy(model, tokenizer, fingerprints, system=HOST):.0%}, "
          f"base {accuracy(base, tokenizer, fingerprints):.0%}")
    assert found == 1.0
    assert accuracy(base, tokenizer, fingerprints) == 0.0


@pytest.mark.slow
def test_real_model_learns_16_fingerprints(real, tmp_path):
    # One step per epoch (batch 16); lr 3e-4 reached 100% after ~10 steps here, 12 leave margin.
    _run(real, InjectConfig(lr=3e-4, epochs=12, batch_size=16, seed=0, checkpoint_every=6), tmp_path)


@pytest.mark.slow
def test_real_model_with_mixing_averaging_and_wrappers(real, tmp_path):
    cfg = InjectConfig(lr=3e-4, epochs=10, batch_size=16, seed=0, mix_share=0.25, benign_pool=32,
                       avg_lambda=0.1, wrapper_share=0.25)
    _run(real, cfg, tmp_path)
