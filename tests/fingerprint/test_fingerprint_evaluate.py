from __future__ import annotations

import math

import pytest

from oml_core.fingerprint.attacks import FinetuneAttack
from oml_core.fingerprint.evaluate import (
    EvaluationConfig,
    base_agreement,
    evaluate,
    false_positive_rate,
    perplexity,
    persistence,
    wrapper_robustness,
)


@pytest.fixture(scope="module")
def forced4(forced):
    return forced[:4]


def test_perplexity_is_batch_independent_and_sane(tiny):
    model, tokenizer = tiny
    texts = ["A class definition is an executable statement.", "Short one here, with words.",
             "The evaluation rules for the decorator expressions are the same as for function decorators."]
    one = perplexity(model, tokenizer, texts, batch_size=1)
    three = perplexity(model, tokenizer, texts, batch_size=3)
    assert math.isclose(one, three, rel_tol=1e-4)
    # An untrained model is roughly uniform over the ~49k-token vocabulary.
    assert 5_000 < one < 500_000


def test_agreement_is_one_with_itself_and_lower_with_another(tiny, other_tiny):
    model, tokenizer = tiny
    assert base_agreement(model, model, tokenizer, n_prompts=4, new_tokens=4) == 1.0
    assert base_agreement(other_tiny[0], model, tokenizer, n_prompts=4, new_tokens=4) < 0.5


def test_uniqueness_and_wrappers(tiny, other_tiny, forced4):
    model, tokenizer = tiny
    assert false_positive_rate(other_tiny[0], tokenizer, forced4) == 0.0
    assert false_positive_rate(model, tokenizer, forced4) == 1.0  # the model we forced is no stranger
    robust = wrapper_robustness(model, tokenizer, forced4, wrappers=("You are a pirate.",))
    assert set(robust) == {"You are a pirate."} and 0.0 <= robust["You are a pirate."] <= 1.0


def test_evaluate_report(tiny, other_tiny, forced4):
    model, tokenizer = tiny
    config = EvaluationConfig(batch_size=4, ppl_texts=2, ppl_max_tokens=32, agreement_prompts=2,
                              agreement_tokens=2, wrappers=("Be brief.",))
    report = evaluate(model, tokenizer, forced4, base_model=other_tiny[0], config=config)
    doc = report.to_json()
    assert doc["accuracy"] == 1.0 and doc["false_positive_rate"] == 0.0 and doc["n_fingerprints"] == 4
    assert doc["perplexity"] > 1 and doc["base_perplexity"] > 1 and 0 <= doc["base_agreement"] < 1
    assert list(doc["wrapper_accuracy"]) == ["Be brief."]
    with pytest.raises(ValueError):
        EvaluationConfig(batch_size=0)


def test_persistence_attacks_a_copy_and_measures_what_survives(tiny, forced4):
    import torch

    model, tokenizer = tiny
    before = [p.detach().clone() for p in model.parameters()]
    assert persistence(model, tokenizer, forced4, FinetuneAttack(steps=2, lr=1e-7, batch_size=2)) == 1.0
    assert persistence(model, tokenizer, forced4, FinetuneAttack(steps=6, lr=0.5, batch_size=2)) < 1.0
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))  # only the copy was attacked
    config = EvaluationConfig(batch_size=4, ppl_texts=2, ppl_max_tokens=32, wrappers=(),
                              attack=FinetuneAttack(steps=2, lr=1e-7, batch_size=2))
    assert evaluate(model, tokenizer, forced4, config=config).persistence == 1.0
