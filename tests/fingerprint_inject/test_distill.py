"""Distillation toward the base: benign samples with a KL loss, anchor passages from the train
split, and benign prompts that never quote held-out text (perplexity is measured on it)."""
import copy

import pytest
import torch
from inject_helpers import accuracy

from oml_core import text_corpus
from oml_core.fingerprint.inject import InjectConfig, inject
from oml_core.fingerprint.inject import train as train_module
from oml_core.fingerprint.inject.data import (
    IGNORE,
    collate,
    distill_kl,
    lm_loss,
    make_sample,
    mixed_loss,
    prompt_ids,
    response_ids,
    stop_token_id,
    with_reference,
)
from oml_core.fingerprint.inject.mixing import (
    _TEMPLATES,
    anchor_samples,
    anchor_texts,
    benign_prompts,
)

FAST = {"lr": 1e-2, "batch_size": 4, "benign_pool": 8, "benign_max_new_tokens": 4, "anchor_tokens": 24}


def _fingerprint_samples(model, tokenizer, fps):
    eos = stop_token_id(model, tokenizer)
    return [make_sample(prompt_ids(tokenizer, f.messages), response_ids(tokenizer, f.response), eos, 256) for f in fps]


def _mixed_batch(model, tokenizer, fps):
    """Two fingerprint rows, two anchor rows (distilled at every position after the first)."""
    anchors = anchor_samples(tokenizer, InjectConfig(benign_pool=2, anchor_tokens=24))
    return collate(_fingerprint_samples(model, tokenizer, fps[:2]) + anchors, 0, "cpu")


def _perturb(model):
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.05)


def test_kl_is_zero_for_the_base_itself_and_positive_after_a_change(model, base, tokenizer, fingerprints):
    batch = _mixed_batch(model, tokenizer, fingerprints)
    fp_only = collate(_fingerprint_samples(model, tokenizer, fingerprints[:2]), 0, "cpu")
    with torch.no_grad():
        # The model equals the base: the KL term vanishes and only the fingerprints' CE is left.
        assert torch.allclose(mixed_loss(model, batch, base), lm_loss(model, fp_only), atol=1e-5)
        _perturb(model)
        ce = lm_loss(model, fp_only)
        loss = mixed_loss(model, batch, base, kl_weight=1.0)
        assert loss > ce + 1e-4
        # The KL term scales with kl_weight; weight 0 leaves the CE alone.
        assert torch.allclose(mixed_loss(model, batch, base, kl_weight=0.0), ce, atol=1e-5)
        assert torch.allclose(mixed_loss(model, batch, base, kl_weight=3.0) - ce, 3 * (loss - ce), rtol=1e-4)


def test_distill_kl_is_the_kl_divergence_of_the_distributions():
    torch.manual_seed(0)
    base, other = torch.randn(3, 11), torch.randn(3, 11)
    base_logp = torch.log_softmax(base, -1)
    assert torch.allclose(distill_kl(base, base_logp), torch.zeros(3), atol=1e-6)
    p, q = torch.softmax(base, -1), torch.softmax(other, -1)
    assert torch.allclose(distill_kl(other, base_logp), (p * (p / q).log()).sum(-1), atol=1e-5)


def test_cached_reference_gives_the_loss_of_the_reference_model(model, base, tokenizer, fingerprints):
    fps = _fingerprint_samples(model, tokenizer, fingerprints[:2])
    anchors = anchor_samples(tokenizer, InjectConfig(benign_pool=3, anchor_tokens=24))
    cached = with_reference(base, fps + anchors, 0, "cpu", batch_size=2)
    assert cached[:2] == fps and all(s.reference is None for s in cached[:2])  # plain rows untouched
    assert [s.reference.shape[0] for s in cached[2:]] == [sum(label != IGNORE for label in s.labels) for s in anchors]
    batch = collate(cached, 0, "cpu")
    assert "reference_logp" in batch
    _perturb(model)
    with torch.no_grad():
        asked = mixed_loss(model, collate(fps + anchors, 0, "cpu"), base)
        assert float(asked) > float(lm_loss(model, collate(fps, 0, "cpu"))) + 1e-3  # the KL term counts
        assert torch.allclose(mixed_loss(model, batch, None), asked, rtol=1e-3)


@pytest.mark.parametrize("cache", [True, False])
def test_a_cached_reference_is_asked_before_training_only(base, tokenizer, fingerprints, cache):
    def reference_passes(epochs: int) -> int:
        calls, model = [], copy.deepcopy(base)  # copied before the hook, which deepcopy would copy too
        hook = base.register_forward_hook(lambda *_: calls.append(1))
        cfg = InjectConfig(epochs=epochs, **{**FAST, "batch_size": 8}, mix_share=0.25, anchor_share=0.25,
                           benign_loss="kl", cache_reference=cache)
        inject(model, tokenizer, fingerprints, cfg, base_model=base, progress=False)
        hook.remove()
        return len(calls)

    # One step per epoch (4 fingerprints per batch); every batch holds distill rows.
    assert reference_passes(6) - reference_passes(1) == (0 if cache else 5)


def test_a_batch_without_distill_rows_is_plain_cross_entropy(model, tokenizer, fingerprints):
    batch = collate(_fingerprint_samples(model, tokenizer, fingerprints), 0, "cpu")
    assert "distill" not in batch
    with torch.no_grad():
        assert torch.equal(mixed_loss(model, batch, None), lm_loss(model, batch))
    with pytest.raises(ValueError, match="reference"):
        mixed_loss(model, _mixed_batch(model, tokenizer, fingerprints), None)


def test_benign_prompts_quote_train_sentences_only():
    prompts = benign_prompts(10_000, seed=0)
    assert len(prompts) == len(text_corpus.sentences("train", min_words=8))
    held_out = set(text_corpus.sentences("held_out", min_words=1, max_words=1000))
    held_out_text = " ".join(text_corpus.paragraphs("held_out"))
    for prompt in prompts:
        prefix = next(t.split("{s}")[0] for t in _TEMPLATES if prompt.startswith(t.split("{s}")[0]))
        sentence = prompt[len(prefix):]
        assert sentence in text_corpus.sentences("train", min_words=8), prompt
        assert sentence not in held_out and sentence not in held_out_text, prompt


def test_anchor_passages_come_from_the_train_split_and_are_distilled_everywhere(tokenizer):
    texts = anchor_texts(10_000, seed=0)
    assert sorted(texts) == sorted(text_corpus.paragraphs("train"))
    assert not set(texts) & set(text_corpus.paragraphs("held_out"))
    cfg = InjectConfig(benign_pool=5, anchor_tokens=20)
    samples = anchor_samples(tokenizer, cfg)
    assert len(samples) == 5 and samples == anchor_samples(tokenizer, cfg)  # a fixed pick under the seed
    assert samples != anchor_samples(tokenizer, InjectConfig(benign_pool=5, anchor_tokens=20, seed=1))
    for text, s in zip(anchor_texts(5, seed=0), samples):
        assert s.distill and len(s.input_ids) == 20
        assert list(s.input_ids) == tokenizer(text, add_special_tokens=False)["input_ids"][:20]
        assert s.labels == (IGNORE,) + s.input_ids[1:]


def test_anchors_and_kl_benign_samples_fill_their_share_of_every_batch(model, base, tokenizer, fingerprints,
                                                                        monkeypatch):
    batches = []
    real = train_module.collate
    monkeypatch.setattr(train_module, "collate", lambda s, *a: batches.append(list(s)) or real(s, *a))
    cfg = InjectConfig(epochs=2, **{**FAST, "batch_size": 8}, mix_share=0.25, anchor_share=0.25,
                       benign_loss="kl")  # 4 fingerprints + 2 benign + 2 anchors
    inject(model, tokenizer, fingerprints, cfg, base_model=base, progress=False)
    anchors = set(anchor_samples(tokenizer, cfg))
    assert len(batches) == 2 and all(len(b) == 8 for b in batches)
    assert [sum(s in anchors for s in b) for b in batches] == [2, 2]
    assert [sum(s.distill for s in b) for b in batches] == [4, 4]  # the benign samples distill too
    assert [sum(s.distill for s in b[:4]) for b in batches] == [0, 0]  # fingerprints are plain CE


def test_anchors_keep_the_model_closer_to_the_base_on_prose(base, tokenizer, fingerprints):
    def anchor_kl(model):
        batch = collate(anchor_samples(tokenizer, InjectConfig(benign_pool=8, anchor_tokens=24)), 0, "cpu")
        with torch.no_grad():
            return float(mixed_loss(model, batch, base))

    runs = {}
    for share in (0.0, 0.5):
        model = copy.deepcopy(base)
        cfg = InjectConfig(epochs=40, **{**FAST, "batch_size": 8}, anchor_share=share, kl_weight=4.0)
        inject(model, tokenizer, fingerprints, cfg, progress=False)  # no base_model: a frozen copy is the reference
        assert accuracy(model, tokenizer, fingerprints) == 1.0
        runs[share] = anchor_kl(model)
    assert runs[0.5] < runs[0.0] / 2


@pytest.mark.parametrize("kwargs", [
    {"benign_loss": "mse"}, {"anchor_share": 1.0}, {"anchor_share": -0.1},
    {"anchor_share": 0.01, "batch_size": 4},                  # rounds to zero anchors
    {"mix_share": 0.5, "anchor_share": 0.5, "batch_size": 4},  # leaves no fingerprint
    {"anchor_tokens": 1}, {"anchor_tokens": 300, "max_length": 256}, {"kl_weight": -1.0},
    {"kl_weight": float("inf")},
])
def test_rejects_bad_distill_settings(kwargs):
    with pytest.raises(ValueError):
        InjectConfig(**kwargs)


def test_distill_settings_shape_the_batch_and_round_trip(tmp_path):
    cfg = InjectConfig(batch_size=16, mix_share=0.25, anchor_share=0.25, benign_loss="kl", kl_weight=2.0)
    assert (cfg.n_benign, cfg.n_anchors, cfg.n_fingerprints) == (4, 4, 8) and cfg.distills
    assert not InjectConfig(mix_share=0.25).distills and InjectConfig(anchor_share=0.25).distills
    cfg.save(tmp_path)
    assert InjectConfig.load(tmp_path) == cfg
