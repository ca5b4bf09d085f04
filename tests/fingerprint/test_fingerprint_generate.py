"""Generation: determinism under the seed, and each strategy's defining property."""
from __future__ import annotations

import random

import pytest
import torch

from oml_core.fingerprint.generate import config_for, generate_fingerprints
from oml_core.fingerprint.generate.functional import FunctionalConfig, FunctionalScheme
from oml_core.fingerprint.generate.perinucleus import nucleus_size, perinucleus_pick
from oml_core.fingerprint.tokens import prompt_ids, response_ids

SECRET = "a partition secret of some length"
CASES = [
    ("random_tokens", {}),
    ("english_random", {}),
    ("functional", {"secret": SECRET}),
    ("perinucleus", {"key_source": "text"}),
]


def _gen(tiny, strategy, seed, n=6, **options):
    model, tokenizer = tiny
    return generate_fingerprints(strategy, n, seed, model, tokenizer, **options)


@pytest.mark.parametrize("strategy,options", CASES)
def test_same_seed_same_set_other_seed_other_set(tiny, strategy, options):
    a = [fp.to_json() for fp in _gen(tiny, strategy, 1, **options)]
    b = [fp.to_json() for fp in _gen(tiny, strategy, 1, **options)]
    c = [fp.to_json() for fp in _gen(tiny, strategy, 2, **options)]
    assert a == b
    assert [x["key"] for x in a] != [x["key"] for x in c]
    assert {x["salt"] for x in a}.isdisjoint({x["salt"] for x in c})
    assert len({x["salt"] for x in a}) == len(a) == 6
    assert all(x["strategy"] == strategy for x in a)


@pytest.mark.parametrize("strategy,options", CASES[:2] + CASES[3:])
def test_syntactic_keys_are_distinct(tiny, strategy, options):
    fps = _gen(tiny, strategy, 3, n=40, **options)
    assert len({fp.key for fp in fps}) == 40


def test_no_seed_draws_fresh_salts(tiny):
    a, b = _gen(tiny, "english_random", None), _gen(tiny, "english_random", None)
    assert {fp.salt for fp in a}.isdisjoint({fp.salt for fp in b})


def test_english_random_response_is_a_short_english_phrase(tiny):
    for fp in _gen(tiny, "english_random", 5, n=30, max_response_words=3):
        words = fp.response.split()
        assert 1 <= len(words) <= 3 and all(w.replace("'", "").isalpha() for w in words)
        assert fp.key.endswith(".")


def _independent_probs(model, tokenizer, key):
    """The next-token distribution recomputed without batching or padding."""
    ids = torch.tensor([prompt_ids(tokenizer, [{"role": "user", "content": key}])])
    with torch.no_grad():
        return torch.softmax(model(input_ids=ids).logits[0, -1].float(), -1)


@pytest.mark.parametrize("key_source", ["text", "model"])
def test_perinucleus_response_is_just_outside_the_nucleus(tiny, key_source):
    model, tokenizer = tiny
    threshold, k = 0.5, 3
    fps = _gen(tiny, "perinucleus", 4, n=4, threshold=threshold, k=k, key_source=key_source, key_tokens=8)
    for fp in fps:
        probs = _independent_probs(model, tokenizer, fp.key)
        token = fp.meta["response_token_ids"][0]
        above = probs[probs > probs[token]]
        # Outside the nucleus: the tokens more likely than it already hold >= threshold mass...
        assert float(above.sum()) >= threshold - 1e-4
        # ...but only just: it ranks among the first few after the nucleus.
        m, _ = nucleus_size(probs, threshold)
        assert m <= len(above) < m + k + 5
        assert response_ids(tokenizer, fp.response) == [token]


def test_perinucleus_pick_on_a_known_distribution():
    probs = torch.tensor([0.4, 0.3, 0.1, 0.08, 0.05, 0.04, 0.03])
    assert nucleus_size(probs, 0.7)[0] == 2  # 0.4 + 0.3 reaches 0.7
    picked = {perinucleus_pick(probs, 0.7, 2, random.Random(s), lambda t: True).token_id for s in range(50)}
    assert picked == {2, 3}  # uniform among the two tokens right after the nucleus
    picked = {perinucleus_pick(probs, 0.7, 2, random.Random(s), lambda t: t != 2).token_id for s in range(50)}
    assert picked == {3, 4}  # ineligible tokens are skipped, not counted


def test_perinucleus_longer_responses_retokenize(tiny):
    _, tokenizer = tiny
    for fp in _gen(tiny, "perinucleus", 6, n=4, key_source="text", response_length=3):
        ids = fp.meta["response_token_ids"]
        assert 1 <= len(ids) <= 3 and response_ids(tokenizer, fp.response) == ids


def test_functional_response_follows_the_secret_rule(tiny):
    fps = _gen(tiny, "functional", 9, n=20, secret=SECRET)
    scheme = FunctionalScheme.from_config(FunctionalConfig(n=1, secret=SECRET))
    for fp in fps:
        assert (fp.meta["n_green"], fp.meta["n_red"]) == scheme.counts(fp.key)
        assert fp.response == scheme.response_for(fp.key)
        assert fp.meta["label"] == int(fp.meta["n_green"] > fp.meta["n_red"])
    assert {fp.meta["label"] for fp in fps} == {0, 1} and sum(fp.meta["label"] for fp in fps) == 10  # balanced
    # Reusable: the rule answers a brand-new sentence too, and another secret partitions differently.
    other = FunctionalScheme.from_config(FunctionalConfig(n=1, secret="another secret, also long"))
    words = sorted(scheme.vocabulary)[:200]
    assert [scheme.is_green(w) for w in words] != [other.is_green(w) for w in words]
    assert scheme.response_for("A brand new sentence about objects and modules.") in scheme.responses


@pytest.mark.parametrize("strategy,options,message", [
    ("perinucleus", {"threshold": 1.5}, "threshold"),
    ("perinucleus", {"key_source": "web"}, "key_source"),
    ("functional", {}, "secret"),
    ("functional", {"secret": SECRET, "function": "difference_mod3"}, "responses"),
    ("english_random", {"threshold": 0.5}, "does not take"),
    ("nonsense", {}, "unknown strategy"),
])
def test_bad_configs_are_refused(strategy, options, message):
    with pytest.raises(ValueError, match=message):
        config_for(strategy, n=4, **options)


def test_model_strategies_need_a_model():
    with pytest.raises(ValueError, match="base model"):
        generate_fingerprints("perinucleus", 2, 0)
