"""Checkpoints: an interrupted run resumed from its checkpoint ends bit-identical to an
uninterrupted one (CPU, same seed); the config is saved as JSON and a changed config is refused."""
import copy
import json

import pytest
import torch

from oml_core.fingerprint.inject import InjectConfig, inject
from oml_core.fingerprint.inject.checkpoint import checkpoint_path

# Mixing, wrappers and averaging on, so resume has to restore every source of variation.
CFG = InjectConfig(seed=3, epochs=3, lr=1e-2, batch_size=4, mix_share=0.5, wrapper_share=0.5,
                   avg_lambda=0.1, avg_every=2, checkpoint_every=2, benign_pool=6, benign_max_new_tokens=4,
                   weight_decay=0.01)


def test_resume_gives_the_same_final_weights(base, tokenizer, fingerprints, tmp_path):
    full = inject(copy.deepcopy(base), tokenizer, fingerprints, CFG, output_dir=tmp_path / "a", progress=False)
    assert full.steps == full.total_steps == 6

    part = inject(copy.deepcopy(base), tokenizer, fingerprints, CFG, output_dir=tmp_path / "b",
                  progress=False, max_steps=3)
    assert (part.steps, part.finished) == (3, False)
    assert json.loads((checkpoint_path(tmp_path / "b") / "state.json").read_text())["step"] == 3

    # A fresh process would start again from the base model: the checkpoint is loaded into it.
    rest = inject(copy.deepcopy(base), tokenizer, fingerprints, CFG, output_dir=tmp_path / "b",
                  progress=False, resume=True)
    assert (rest.resumed_from, rest.steps) == (3, 6)
    assert rest.losses == full.losses
    for (name, p), q in zip(rest.model.named_parameters(), full.model.parameters()):
        assert torch.equal(p, q), name
    assert InjectConfig.load(tmp_path / "b") == CFG


def test_resume_refuses_another_config_or_fingerprint_set(base, tokenizer, fingerprints, tmp_path):
    inject(copy.deepcopy(base), tokenizer, fingerprints, CFG, output_dir=tmp_path, progress=False, max_steps=1)
    with pytest.raises(ValueError, match="different config"):
        inject(copy.deepcopy(base), tokenizer, fingerprints, InjectConfig(**{**CFG.to_json(), "lr": 1e-3}),
               output_dir=tmp_path, progress=False, resume=True)
    with pytest.raises(ValueError, match="another fingerprint set"):
        inject(copy.deepcopy(base), tokenizer, fingerprints[:3], CFG, output_dir=tmp_path, progress=False,
               resume=True)
    with pytest.raises(ValueError, match="already holds a checkpoint"):
        inject(copy.deepcopy(base), tokenizer, fingerprints, CFG, output_dir=tmp_path, progress=False)
