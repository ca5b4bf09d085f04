"""Fixtures: one tiny random Llama (real tokenizer) per module, saved once per session when a
test needs a checkpoint directory (CLI, omlize)."""
from __future__ import annotations

import dataclasses

import pytest

from oml_core import text_corpus
from oml_core.fingerprint.check import messages_for
from oml_core.fingerprint.record import Fingerprint
from oml_core.fingerprint.tokens import decode, greedy_generate, prompt_ids, response_ids
from oml_core.model.loading import tiny_model


def scrambled_tiny_model(seed: int):
    """tiny_model with larger random weights. With the default small init the tied embeddings
    dominate and greedy decoding just repeats the prompt's last token ("\n") on every key, so two
    different models would agree on everything and no check could fail; larger weights make the
    outputs depend on the key and on the model."""
    import torch

    model, tokenizer = tiny_model(seed=seed)
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if param.dim() == 2 and "embed" not in name:
                param.normal_(0.0, 2.0 / param.shape[1] ** 0.5, generator=generator)
    return model, tokenizer


@pytest.fixture(scope="session")
def tiny():
    return scrambled_tiny_model(seed=0)


@pytest.fixture(scope="session")
def other_tiny():
    """A second random model: 'a model that was not fingerprinted'."""
    return scrambled_tiny_model(seed=1)


@pytest.fixture(scope="session")
def tiny_dir(tiny, tmp_path_factory):
    model, tokenizer = tiny
    path = tmp_path_factory.mktemp("tiny-model")
    model.save_pretrained(path, safe_serialization=True)
    tokenizer.save_pretrained(path)
    return path


def forced_fingerprints(model, tokenizer, n=8, length=3, system_prompt=None):
    """Fingerprints whose response IS the model's greedy answer (read first, unbatched)."""
    out = []
    for i, key in enumerate(text_corpus.sentences("train")[: n * 3]):
        fp = Fingerprint(key, "placeholder", bytes([i]) * 32)
        ids = greedy_generate(model, tokenizer, [prompt_ids(tokenizer, messages_for(fp, system_prompt))], [length], 1)[0]
        text = decode(tokenizer, ids)
        if response_ids(tokenizer, text) == ids and text.strip() and tokenizer.eos_token_id not in ids:
            out.append(dataclasses.replace(fp, response=text))
        if len(out) == n:
            break
    assert len(out) == n
    return out


@pytest.fixture(scope="session")
def forced(tiny):
    """Eight fingerprints the tiny model answers by construction."""
    return forced_fingerprints(*tiny)
