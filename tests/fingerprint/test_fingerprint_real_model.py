"""On the real SmolLM2-135M-Instruct (slow: run with `pytest -m slow tests/fingerprint`)."""
from __future__ import annotations

import pytest
import torch

from oml_core.fingerprint.check import accuracy, check_local
from oml_core.fingerprint.evaluate import base_agreement, perplexity
from oml_core.fingerprint.generate import generate_fingerprints
from oml_core.fingerprint.generate.perinucleus import nucleus_size
from oml_core.fingerprint.tokens import prompt_ids, response_ids

pytestmark = pytest.mark.slow
THRESHOLD, K = 0.8, 3


@pytest.fixture(scope="module")
def real():
    from oml_core.model.loading import load_model

    return load_model("smollm2")


@pytest.fixture(scope="module")
def perinucleus_fps(real):
    model, tokenizer = real
    return generate_fingerprints("perinucleus", 16, seed=2024, model=model, tokenizer=tokenizer,
                                 threshold=THRESHOLD, k=K, key_source="model")


def test_base_model_does_not_already_answer_perinucleus_fingerprints(real, perinucleus_fps):
    model, tokenizer = real
    results = check_local(model, tokenizer, perinucleus_fps, batch_size=8)
    assert accuracy(results) == 0.0, [(r.fingerprint.response, r.output) for r in results if r.matched]


def test_response_token_is_just_outside_the_real_nucleus(real, perinucleus_fps):
    model, tokenizer = real
    for fp in perinucleus_fps:
        ids = torch.tensor([prompt_ids(tokenizer, fp.messages)], device=model.device)
        with torch.no_grad():
            probs = torch.softmax(model(input_ids=ids).logits[0, -1].float(), -1).cpu()
        token = response_ids(tokenizer, fp.response)[0]
        above = probs[probs > probs[token]]
        m, _ = nucleus_size(probs, THRESHOLD)
        assert float(above.sum()) >= THRESHOLD - 1e-3
        assert m <= len(above) < m + K + 10
        assert probs[token] > 1e-6  # in the edge of the head, not the far tail


def test_real_model_keys_are_english_and_distinct(perinucleus_fps):
    keys = [fp.key for fp in perinucleus_fps]
    assert len(set(keys)) == 16
    assert all(sum(c.isalpha() for c in k) > len(k) / 2 for k in keys)


def test_real_model_utility_metrics(real):
    model, tokenizer = real
    ppl = perplexity(model, tokenizer, batch_size=8)
    assert 2 < ppl < 100  # English documentation prose; a random model gives ~50k
    assert base_agreement(model, model, tokenizer, n_prompts=4, new_tokens=8) > 0.95
